package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/dynalite"
	"github.com/dr-analytics/drplan/internal/gluefake"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/schema"
)

const (
	account       = "123456789012"
	primaryRegion = "us-east-1"
	backupRegion  = "us-west-2"
)

var (
	now      = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	failover = now.Add(-3 * time.Hour)
	names    = naming.Names{Prefix: "dr-analytics", Account: account}
)

// cdkJSON writes a cdk.json like the app's (without an account, so drctl
// takes the caller's) and returns its path.
func cdkJSON(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cdk.json")
	doc := `{"app": "go run .", "context": {"prefix": "dr-analytics", "primaryRegion": "us-east-1", "backupRegion": "us-west-2",
		"firehoseBufferSeconds": 60, "backupFrequencyHours": 1, "producerCidrs": ["203.0.113.0/24"]}}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testEnv runs drctl against the world: static credentials, the SDK's
// retries without delays, every endpoint resolved by the world.
type testEnv struct {
	world          *drfake.World
	glue           map[string]*gluefake.Server
	stdout, stderr bytes.Buffer
	// terminal makes stderr count as an interactive terminal.
	terminal bool
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{world: drfake.NewWorld(t, names, primaryRegion, backupRegion, now), glue: map[string]*gluefake.Server{}}
	e.world.Healthy(t)
	return e
}

func (e *testEnv) run(t *testing.T, args ...string) int {
	t.Helper()
	return e.runWith(t, nil, args...)
}

// runWith runs drctl with loadAWS replacing the test credentials when set.
func (e *testEnv) runWith(t *testing.T, loadAWS func(context.Context) (aws.Config, error), args ...string) int {
	t.Helper()
	// The world's clock plus the real time spent, so reports show real
	// step durations while waits cost nothing.
	started := time.Now()
	e.stdout.Reset()
	e.stderr.Reset()
	env := environment{
		stdout: &e.stdout, stderr: &e.stderr,
		getenv: func(string) string { return "" },
		loadAWS: func(context.Context) (aws.Config, error) {
			return aws.Config{
				// S3 Control prefixes the account to the fake's host.
				HTTPClient:  awsfake.HTTPClient(),
				Credentials: credentials.NewStaticCredentialsProvider("AKIDFAKE", "fake-secret", ""),
				Retryer: func() aws.Retryer {
					return retry.NewStandard(func(o *retry.StandardOptions) {
						o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
						o.RateLimiter = ratelimit.None
					})
				},
			}, nil
		},
		endpoint: e.world.Endpoint,
		terminal: e.terminal,
		now:      func() time.Time { return e.world.Clock.Now().Add(time.Since(started)) },
		sleep: func(ctx context.Context, d time.Duration) error {
			e.world.Clock.Advance(d)
			return ctx.Err()
		},
	}
	if loadAWS != nil {
		env.loadAWS = loadAWS
	}
	return run(context.Background(), args, env)
}

func TestHelpAndUsageErrors(t *testing.T) {
	e := newTestEnv(t)
	config := cdkJSON(t)
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string // help and versions go to stdout
		stderr string // usage errors go to stderr, one line
	}{
		{"help lists the commands", []string{"help"}, exitOK, "drctl repair-partitions -region REGION", ""},
		{"a command's help lists its flags", []string{"failback", "-h"}, exitOK, "-drain-timeout", ""},
		{"help for a command", []string{"help", "status"}, exitOK, "-json", ""},
		{"failback's help names the compaction wait", []string{"failback", "-h"}, exitOK, "-compaction-timeout", ""},
		{"every command has -timeout", []string{"help", "repair-partitions"}, exitOK, "-timeout", ""},
		{"repair-partitions has -json", []string{"repair-partitions", "-h"}, exitOK, "-json", ""},
		{"-version", []string{"-version"}, exitOK, "drctl ", ""},
		{"zero compaction timeout", []string{"failback", "-config", config, "-compaction-timeout", "0s"}, exitUsage, "", "-compaction-timeout must be a positive duration such as 1h; got 0s"},
		{"zero timeout", []string{"repair-partitions", "-config", config, "-region", primaryRegion, "-timeout", "0s"}, exitUsage, "", "-timeout must be a positive duration such as 10s; got 0s"},
		{"no command", nil, exitUsage, "", "drctl: no command: use status, failback, repair-partitions or help"},
		{"unknown command", []string{"fallback"}, exitUsage, "", `unknown command "fallback"`},
		{"unknown flag", []string{"status", "-jsn"}, exitUsage, "", "drctl status: flag provided but not defined: -jsn (see drctl help status)"},
		{"zero workers", []string{"failback", "-config", config, "-workers", "0"}, exitUsage, "", "-workers must be a whole number from 1 to 1024; got 0"},
		{"bad since", []string{"failback", "-config", config, "-since", "yesterday"}, exitUsage, "", "want an RFC 3339 time such as 2026-11-25T08:00:00Z"},
		{"since in the future", []string{"failback", "-config", config, "-since", "2027-01-01T00:00:00Z"}, exitUsage, "", "-since must be a time in the past"},
		{"small parts", []string{"failback", "-config", config, "-part-size", "1"}, exitUsage, "", "-part-size must be MiB from 5 to 5120"},
		{"stray argument", []string{"status", "-config", config, "now"}, exitUsage, "", `unexpected argument "now"`},
		{"region outside the deployment", []string{"repair-partitions", "-config", config, "-region", "eu-west-1"}, exitUsage, "",
			`-region must be us-east-1 (primaryRegion) or us-west-2 (backupRegion); got "eu-west-1"`},
		{"missing cdk.json", []string{"status", "-config", filepath.Join(t.TempDir(), "cdk.json")}, exitUsage, "", "pass -config path/to/cdk.json"},
		{"bad context override", []string{"status", "-config", config, "-c", "backupRegion=us-east-1"}, exitUsage, "", `context key "backupRegion" has invalid value "us-east-1"`},
		{"misspelled context key", []string{"status", "-config", config, "-c", "primaryregion=eu-west-1"}, exitUsage, "", `unknown context key "primaryregion"; did you mean "primaryRegion"?`},
		{"malformed override", []string{"status", "-config", config, "-c", "prefix"}, exitUsage, "", "want key=value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code := e.run(t, tc.args...)
			out, errOut := e.stdout.String(), e.stderr.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if tc.stdout != "" && (!strings.Contains(out, tc.stdout) || errOut != "") {
				t.Errorf("stdout lacks %q or stderr is not empty\nstdout:\n%s\nstderr:\n%s", tc.stdout, out, errOut)
			}
			if tc.stderr != "" && (!strings.Contains(errOut, tc.stderr) || strings.Count(errOut, "\n") != 1 || out != "") {
				t.Errorf("stderr is not one line with %q, or stdout is not empty\nstdout:\n%s\nstderr:\n%s", tc.stderr, out, errOut)
			}
		})
	}
}

// Synth warns about a us-west-2 primary; drctl reads the same config and
// must say the same.
func TestConfigWarningsAreShown(t *testing.T) {
	e := newTestEnv(t)
	e.run(t, "status", "-config", cdkJSON(t), "-c", "primaryRegion=us-west-2", "-c", "backupRegion=us-east-1")
	if want := "drctl: warning: primaryRegion is us-west-2, which also hosts Global Accelerator's control plane"; !strings.Contains(e.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, e.stderr.String())
	}
}

func TestStatusOfAHealthyDeploymentExitsZero(t *testing.T) {
	e := newTestEnv(t)
	code := e.run(t, "status", "-config", cdkJSON(t))
	t.Logf("drctl status:\n%s", e.stdout.String())
	if code != exitOK || !strings.Contains(e.stdout.String(), "20 OK, 0 WARN, 0 FAIL") {
		t.Errorf("exit %d:\n%s%s", code, e.stdout.String(), e.stderr.String())
	}
}

func TestStatusFailsOnAFailingCheck(t *testing.T) {
	e := newTestEnv(t)
	e.world.Primary.DynamoDB.PutTable(awsfake.Table{Name: names.Table(), PITR: false})
	code := e.run(t, "status", "-config", cdkJSON(t))
	if code != exitFail || !strings.Contains(e.stdout.String(), "PITR is DISABLED") {
		t.Errorf("exit %d, want %d with the PITR line:\n%s", code, exitFail, e.stdout.String())
	}
}

func TestStatusJSON(t *testing.T) {
	e := newTestEnv(t)
	e.world.Failover(failover)
	code := e.run(t, "status", "-config", cdkJSON(t), "--json")
	var doc struct {
		Account string
		Checks  []struct{ Region, Check, Status, Detail string }
		RPO     struct{ Seconds float64 }
		Summary struct{ OK, Warn, Fail int }
	}
	if err := json.Unmarshal(e.stdout.Bytes(), &doc); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, e.stdout.String())
	}
	if code != exitOK || doc.Account != account || doc.Summary.Warn != 3 || doc.Summary.Fail != 0 || len(doc.Checks) != 20 || doc.RPO.Seconds != 252 {
		t.Errorf("exit %d, document %+v", code, doc)
	}
}

// dynaliteOf is each region's dynalite, one per region for the whole
// package (TestMain): a Node.js start per test would cost more than the
// tests. Tests run one at a time and recreate their table.
var dynaliteOf = map[string]string{}

func TestMain(m *testing.M) {
	var stops []func()
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed error
	for _, region := range []string{primaryRegion, backupRegion} {
		wg.Go(func() {
			endpoint, stop, err := dynalite.Launch()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = err
				return
			}
			dynaliteOf[region] = endpoint
			stops = append(stops, stop)
		})
	}
	wg.Wait()
	code := 1
	if failed != nil {
		fmt.Fprintln(os.Stderr, "dynalite:", failed)
	} else {
		code = m.Run()
	}
	for _, stop := range stops {
		stop()
	}
	os.Exit(code)
}

// withTables gives each region a fresh aggregates table in its dynalite
// and a Glue catalog.
func (e *testEnv) withTables(t *testing.T) {
	t.Helper()
	for _, region := range []string{primaryRegion, backupRegion} {
		endpoint := dynaliteOf[region]
		control := e.world.Primary.DynamoDB
		if region == backupRegion {
			control = e.world.Backup.DynamoDB
		}
		e.world.SetEndpoint(drfake.ServiceDynamoDB, region, drfake.NewDynamoDBRouter(t, endpoint, control.URL()).URL())
		client := dynamodb.NewFromConfig(awsfake.Config(endpoint, region))
		var notFound *ddbtypes.ResourceNotFoundException
		if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(names.Table())}); err == nil {
			gone := dynamodb.NewTableNotExistsWaiter(client, func(o *dynamodb.TableNotExistsWaiterOptions) {
				o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
			})
			if err := gone.Wait(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(names.Table())}, 30*time.Second); err != nil {
				t.Fatal(err)
			}
		} else if !errors.As(err, &notFound) {
			t.Fatal(err)
		}
		drfake.CreateAggregatesTable(t, client, names.Table())
		g := gluefake.New(t)
		g.AddTable(names.Database(), naming.RawTable, schema.RawPartitionKeys, gluetypes.StorageDescriptor{Location: aws.String("s3://" + names.Bucket(naming.Streaming, region) + "/raw/")})
		g.AddTable(names.Database(), naming.CompactedTable, schema.CompactedPartitionKeys, gluetypes.StorageDescriptor{Location: aws.String("s3://" + names.Bucket(naming.Batch, region) + "/compacted/")})
		e.glue[region] = g
		e.world.SetEndpoint(drfake.ServiceGlue, region, g.URL())
	}
}

// seedDisaster writes what three hours of DR leave behind: Firehose files
// and a compacted day in the replicas, aggregate items in the backup table,
// and the backup pipeline's metrics, quiet since the dials moved.
func (e *testEnv) seedDisaster(t *testing.T) {
	t.Helper()
	w := e.world
	w.Failover(failover)
	body := bytes.Repeat([]byte(`{"id":"e1","type":"click","value":1}`+"\n"), 400)
	for i := range 180 {
		at := failover.Add(time.Duration(i) * time.Minute)
		w.Clock.Set(at.Add(time.Minute + 5*time.Second))
		key := fmt.Sprintf("raw/year=%d/month=%02d/day=%02d/hour=%02d/dr-analytics-raw-delivery-1-%s-7f3c.gz", at.Year(), at.Month(), at.Day(), at.Hour(), at.Format("2006-01-02-15-04-05"))
		w.S3.PutObject(t, names.Bucket(naming.Streaming, backupRegion), key, body)
	}
	w.Clock.Set(failover.Add(150 * time.Minute))
	w.S3.PutObject(t, names.Bucket(naming.Batch, backupRegion), "compacted/dt=2026-11-24/part-00000-b1.snappy.parquet", bytes.Repeat([]byte("PAR1"), 50000))
	w.Clock.Set(now)

	client := dynamodb.NewFromConfig(awsfake.Config(w.Endpoint(drfake.ServiceDynamoDB, backupRegion), backupRegion))
	var reqs []ddbtypes.WriteRequest
	for i := range 540 {
		window := failover.Add(time.Duration(i/3) * time.Minute)
		start := window.Format(time.RFC3339)
		s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
		reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: map[string]ddbtypes.AttributeValue{
			"pk": s([]string{"click", "view", "buy"}[i%3]), "sk": s(start + "#" + backupRegion + "#shardId-000000000000"),
			"window_start": s(start), "window_end": s(window.Add(time.Minute).Format(time.RFC3339)),
			"count": &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(100 + i)}, "region": s(backupRegion),
			"shard_id": s("shardId-000000000000"), "aggregate_key": s("type"),
			"written_at":         s(window.Add(62 * time.Second).Format(time.RFC3339Nano)),
			writerhour.Attribute: s(writerhour.Value(backupRegion, window.Add(62*time.Second), []string{"click", "view", "buy"}[i%3])),
		}}})
	}
	for i := 0; i < len(reqs); i += 25 {
		pending := map[string][]ddbtypes.WriteRequest{names.Table(): reqs[i:min(i+25, len(reqs))]}
		for len(pending) > 0 {
			out, err := client.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				t.Fatal(err)
			}
			pending = out.UnprocessedItems
		}
	}

	// Producers leave when failback moves the dials (now); the consumers
	// catch up two minutes later. CloudWatch publishes 3 minutes late.
	w.PublishBackupPipeline(drfake.Traffic{From: failover, Until: now, RequestsPerMinute: 40, RecordsPerMinute: 400,
		CaughtUp: now.Add(2 * time.Minute), Buffer: time.Minute})
	w.Backup.CloudWatch.SetPublicationLag(w.Clock, drfake.MetricPublicationLag)
}

func TestFailbackEndToEnd(t *testing.T) {
	e := newTestEnv(t)
	e.withTables(t)
	e.seedDisaster(t)
	config := cdkJSON(t)

	code := e.run(t, "status", "-config", config)
	t.Logf("drctl status during DR (exit %d):\n%s", code, e.stdout.String())
	if want := "failover start recorded 2026-11-25T11:00:00Z (SSM /dr-analytics/failover/started-at)"; !strings.Contains(e.stdout.String(), want) {
		t.Errorf("status during DR lacks %q", want)
	}

	code = e.run(t, "failback", "-config", config, "-dry-run")
	if code != exitOK {
		t.Fatalf("dry run: exit %d\n%s%s", code, e.stdout.String(), e.stderr.String())
	}
	if e.world.S3.Calls("CopyObject") != 0 {
		t.Fatalf("dry run copied objects")
	}

	code = e.run(t, "failback", "-config", config, "-progress", "-workers", "16")
	t.Logf("drctl failback (exit %d):\n%s", code, e.stdout.String())
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}
	for _, want := range []string{"copied 181 objects", "wrote 540 items", "registered 4 partitions", "all steps done, both sides match",
		"the aggregator's on-failure queue arn:aws:sqs:us-west-2:123456789012:", "deleted SSM parameter /dr-analytics/failover/started-at"} {
		if !strings.Contains(e.stdout.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !strings.Contains(e.stderr.String(), "copy objects") || !strings.Contains(e.stderr.String(), "181/181") {
		t.Errorf("-progress drew no copy bar on stderr:\n%q", e.stderr.String())
	}

	code = e.run(t, "status", "-config", config)
	if !strings.Contains(e.stdout.String(), "dial 100%, 1/1 endpoints healthy") {
		t.Errorf("after failback the primary group must take all traffic:\n%s", e.stdout.String())
	}
	if code != exitOK {
		t.Errorf("status after failback: exit %d, want %d (the failover stack left behind is a WARN, not a FAIL):\n%s", code, exitOK, e.stdout.String())
	}
}

// Windows the aggregator gave up on are in neither table: failback does
// everything else, then exits non-zero naming the queue.
func TestFailbackWithGivenUpWindowsExitsNonZero(t *testing.T) {
	e := newTestEnv(t)
	e.withTables(t)
	e.seedDisaster(t)
	e.world.Backup.SQS.SetMessages(e.world.AggregatorFailures, 2)
	code := e.run(t, "failback", "-config", cdkJSON(t))
	out := e.stdout.String()
	if code != exitFail || !strings.Contains(out, "2 message(s) in the aggregator's on-failure queue arn:aws:sqs:us-west-2:123456789012:"+e.world.AggregatorFailures) ||
		!strings.Contains(out, "copied 181 objects") || !strings.Contains(out, "kept SSM parameter /dr-analytics/failover/started-at") {
		t.Errorf("exit %d, want %d with the queue named, the copy done and the failover record kept:\n%s", code, exitFail, out)
	}
}

func TestFailbackRecompactsTheDaysSinceFailoverInThePrimary(t *testing.T) {
	e := newTestEnv(t)
	e.withTables(t)
	e.seedDisaster(t)
	code := e.run(t, "failback", "-config", cdkJSON(t), "-since", now.Add(-36*time.Hour).Format(time.RFC3339), "-compaction-poll", "10s")
	executions := e.world.Primary.StepFunctions.Executions()
	if code != exitOK || len(executions) != 1 || executions[0].Input != `{"date":"2026-11-24"}` || !strings.Contains(e.stdout.String(), "2026-11-24 recompacted") {
		t.Errorf("exit %d, executions %+v:\n%s%s", code, executions, e.stdout.String(), e.stderr.String())
	}
}

func TestFailbackRefusalExitsNonZeroWithTheReason(t *testing.T) {
	e := newTestEnv(t)
	e.world.STS.Fail("GetCallerIdentity", drfake.Fault{Status: 403, Code: "ExpiredToken", Message: "The security token included in the request is expired"})
	code := e.run(t, "failback", "-config", cdkJSON(t))
	if code != exitFail || !strings.Contains(e.stderr.String(), "failback refused: cannot verify credentials") || !strings.Contains(e.stderr.String(), "ExpiredToken") {
		t.Errorf("exit %d, stderr:\n%s", code, e.stderr.String())
	}
	if e.stdout.Len() != 0 {
		t.Errorf("a refused failback printed a report:\n%s", e.stdout.String())
	}
}

func TestRepairPartitionsRegistersMissingOnes(t *testing.T) {
	e := newTestEnv(t)
	e.withTables(t)
	e.world.Clock.Set(now.Add(-2 * time.Hour))
	e.world.S3.PutObject(t, names.Bucket(naming.Streaming, primaryRegion), "raw/year=2026/month=11/day=25/hour=12/a.gz", []byte("a"))
	e.world.Clock.Set(now.Add(-time.Hour))
	e.world.S3.PutObject(t, names.Bucket(naming.Streaming, primaryRegion), "raw/year=2026/month=11/day=25/hour=13/b.gz", []byte("b"))
	e.world.S3.PutObject(t, names.Bucket(naming.Batch, primaryRegion), "compacted/dt=2026-11-24/part-0.parquet", []byte("c"))
	e.world.S3.PutObject(t, names.Bucket(naming.Streaming, primaryRegion), "errors/format-conversion-failed/x.gz", []byte("x"))
	e.world.Clock.Set(now)

	code := e.run(t, "repair-partitions", "-config", cdkJSON(t), "--region", primaryRegion, "--since", now.Add(-90*time.Minute).Format(time.RFC3339))
	t.Logf("drctl repair-partitions:\n%s", e.stdout.String())
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, e.stderr.String())
	}
	raw := e.glue[primaryRegion].PartitionValues(names.Database(), naming.RawTable)
	if fmt.Sprint(raw) != "[[2026 11 25 13]]" {
		t.Errorf("raw partitions = %v, want only hour 13 (hour 12 is older than -since)", raw)
	}
	if got := e.glue[primaryRegion].PartitionValues(names.Database(), naming.CompactedTable); fmt.Sprint(got) != "[[2026-11-24]]" {
		t.Errorf("compacted partitions = %v", got)
	}
	if len(e.glue[backupRegion].PartitionValues(names.Database(), naming.RawTable)) != 0 {
		t.Error("the backup region's catalog was touched")
	}
	if !strings.Contains(e.stdout.String(), "registered 2 partitions, 0 already present") {
		t.Errorf("output:\n%s", e.stdout.String())
	}
	code = e.run(t, "repair-partitions", "-config", cdkJSON(t), "-region", primaryRegion)
	if code != exitOK || !strings.Contains(e.stdout.String(), "registered 1 partitions, 2 already present") {
		t.Errorf("second repair without -since: exit %d\n%s", code, e.stdout.String())
	}
}

func TestMissingCredentialsAreNamed(t *testing.T) {
	e := newTestEnv(t)
	noCredentials := func(context.Context) (aws.Config, error) {
		return aws.Config{Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no EC2 IMDS role found")
		})), Retryer: func() aws.Retryer { return aws.NopRetryer{} }}, nil
	}
	for _, cmd := range []string{"status", "failback"} {
		t.Run(cmd, func(t *testing.T) {
			code := e.runWith(t, noCredentials, cmd, "-config", cdkJSON(t))
			out := e.stdout.String() + e.stderr.String()
			if code != exitFail || !strings.Contains(out, "get credentials: failed to refresh cached credentials, no EC2 IMDS role found") || !strings.Contains(out, "set AWS_PROFILE") {
				t.Errorf("exit %d, output:\n%s", code, out)
			}
		})
	}
}

func TestStatusOfAnUnreachablePrimaryExitsNonZero(t *testing.T) {
	e := newTestEnv(t)
	dead := awsfake.DeadEndpoint(t)
	for _, service := range []string{drfake.ServiceS3, drfake.ServiceCloudWatch, drfake.ServiceDynamoDB, drfake.ServiceBackup, drfake.ServiceCloudFormation} {
		e.world.SetEndpoint(service, primaryRegion, dead)
	}
	code := e.run(t, "status", "-config", cdkJSON(t))
	if code != exitFail || !strings.Contains(e.stdout.String(), "connection refused") || !strings.Contains(e.stdout.String(), "OK      us-west-2  vault recovery point") {
		t.Errorf("exit %d, want %d with FAIL lines for %s and the backup region still checked:\n%s", code, exitFail, primaryRegion, e.stdout.String())
	}
}

// The production factory takes endpoints from the standard SDK settings,
// e.g. AWS_ENDPOINT_URL_STS (here a fake), like any SDK tool.
func TestClientFactoryHonoursEndpointEnvironment(t *testing.T) {
	sts := drfake.NewSTS(t, "210987654321")
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL())
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
	t.Setenv("AWS_REGION", backupRegion)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	base, err := loadAWSConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id, err := clientFactory{base: base}.sts(primaryRegion).GetCallerIdentity(context.Background(), nil)
	if err != nil || aws.ToString(id.Account) != "210987654321" || sts.Calls("GetCallerIdentity") != 1 {
		t.Errorf("GetCallerIdentity through AWS_ENDPOINT_URL_STS = %v, %v", id, err)
	}
}

// With -engine batch the copy runs as an S3 Batch Operations job in the
// primary region; its failed tasks are read from the completion report,
// listed and copied again; a second run starts no second job.
func TestFailbackOnBatchOperations(t *testing.T) {
	e := newTestEnv(t)
	e.withTables(t)
	e.seedDisaster(t)
	control := e.world.Primary.S3Control
	control.TasksPerLook = 50
	control.FailTask(func(key string) (int, string, string, bool) {
		return http.StatusForbidden, "AccessDenied", "Access Denied", strings.Contains(key, "hour=12/dr-analytics-raw-delivery-1-2026-11-25-12-00-00")
	})
	config := cdkJSON(t)
	code := e.run(t, "failback", "-config", config, "-engine", "batch")
	t.Logf("drctl failback -engine batch (exit %d):\n%s", code, e.stdout.String())
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}
	for _, want := range []string{
		"engine: with S3 Batch Operations: -engine batch",
		"(created) to dr-analytics-streaming-123456789012-us-east-1: Complete, 179 of 180 tasks succeeded, 1 failed",
		"(created) to dr-analytics-batch-123456789012-us-east-1: Complete, 1 of 1 tasks succeeded, 0 failed",
		"failed task, copied again in this process: s3://dr-analytics-streaming-123456789012-us-west-2/raw/year=2026/month=11/day=25/hour=12/dr-analytics-raw-delivery-1-2026-11-25-12-00-00-7f3c.gz: 403 AccessDenied Access Denied",
		"copied 181 objects", "all steps done, both sides match",
	} {
		if !strings.Contains(e.stdout.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if control.Jobs() != 2 {
		t.Errorf("%d jobs, want one per bucket", control.Jobs())
	}
	code = e.run(t, "failback", "-config", config, "-engine", "batch", "-since", failover.Format(time.RFC3339))
	if code != exitOK || control.Jobs() != 2 || !strings.Contains(e.stdout.String(), "copied 0 objects (0 B, 0 multipart), 181 already present") {
		t.Errorf("second run: exit %d, %d jobs:\n%s%s", code, control.Jobs(), e.stdout.String(), e.stderr.String())
	}
}

func TestFailbackRefusesAnUnknownEngine(t *testing.T) {
	e := newTestEnv(t)
	if code := e.run(t, "failback", "-config", cdkJSON(t), "-engine", "fast"); code != exitUsage || !strings.Contains(e.stderr.String(), "-engine must be auto, local or batch; got fast") {
		t.Errorf("exit %d, stderr %q", code, e.stderr.String())
	}
}

// silentEndpoint accepts connections and never answers, like a region
// whose endpoints are black-holed.
func silentEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

func TestRepairPartitionsAgainstASilentEndpointEndsAtTheTimeout(t *testing.T) {
	e := newTestEnv(t)
	e.withTables(t)
	e.world.SetEndpoint(drfake.ServiceS3, primaryRegion, silentEndpoint(t))
	code := e.run(t, "repair-partitions", "-config", cdkJSON(t), "-region", primaryRegion, "-timeout", "300ms")
	if code != exitFail || !strings.Contains(e.stderr.String(), "deadline exceeded") {
		t.Errorf("exit %d, want %d with the call's deadline named:\n%s", code, exitFail, e.stderr.String())
	}
}

func TestCredentialResolutionIsBoundedAndNamed(t *testing.T) {
	e := newTestEnv(t)
	// A credential source that never answers, like the instance metadata
	// service off EC2.
	silentSource := func(context.Context) (aws.Config, error) {
		return aws.Config{Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
			<-ctx.Done()
			return aws.Credentials{}, ctx.Err()
		}))}, nil
	}
	for _, cmd := range []string{"status", "failback", "repair-partitions"} {
		t.Run(cmd, func(t *testing.T) {
			args := []string{cmd, "-config", cdkJSON(t), "-timeout", "200ms"}
			if cmd == "repair-partitions" {
				args = append(args, "-region", primaryRegion)
			}
			code := e.runWith(t, silentSource, args...)
			want := "get credentials: no credentials within 200ms: a credential source did not answer"
			if code != exitFail || !strings.Contains(e.stderr.String(), want) || !strings.Contains(e.stderr.String(), "AWS_EC2_METADATA_DISABLED") {
				t.Errorf("exit %d, stderr:\n%s", code, e.stderr.String())
			}
		})
	}
}

func TestStatusNamesANetworkCauseNotCredentials(t *testing.T) {
	e := newTestEnv(t)
	e.world.SetEndpoint(drfake.ServiceSTS, backupRegion, awsfake.DeadEndpoint(t))
	code := e.run(t, "status", "-config", cdkJSON(t))
	out := e.stdout.String()
	if code != exitFail || !strings.Contains(out, "nothing accepts connections at the endpoint") || strings.Contains(out, "set AWS_PROFILE") {
		t.Errorf("exit %d, want the refused connection named without a credentials hint:\n%s", code, out)
	}
	if !strings.Contains(out, "(account unknown: see the credentials line)") || strings.Contains(out, "(account )") {
		t.Errorf("header with an unknown account:\n%s", out)
	}
}

// On a terminal, status says what it waits for and erases the line
// before the report; off a terminal (the other tests) stderr stays empty.
func TestStatusShowsWhatItWaitsForOnATerminal(t *testing.T) {
	e := newTestEnv(t)
	e.terminal = true
	if code := e.run(t, "status", "-config", cdkJSON(t)); code != exitOK {
		t.Fatalf("exit %d:\n%s", code, e.stderr.String())
	}
	got := e.stderr.String()
	for _, want := range []string{"\r\x1b[Kdrctl status: getting credentials ... 0s", "\r\x1b[Kdrctl status: checking us-east-1 and us-west-2 ... 0s"} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q: %q", want, got)
		}
	}
	if !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("the waiting line is not erased before the report: %q", got)
	}
}

func TestFailbackAndRepairWriteJSON(t *testing.T) {
	e := newTestEnv(t)
	e.withTables(t)
	e.seedDisaster(t)
	code := e.run(t, "failback", "-config", cdkJSON(t), "-dry-run", "-json")
	var report struct {
		DryRun bool
		Steps  []struct{ Name, Error string }
	}
	if err := json.Unmarshal(e.stdout.Bytes(), &report); err != nil {
		t.Fatalf("failback -json output is not JSON: %v\n%s", err, e.stdout.String())
	}
	if code != exitOK || !report.DryRun || len(report.Steps) == 0 || report.Steps[0].Name == "" {
		t.Errorf("exit %d, report %+v", code, report)
	}

	code = e.run(t, "repair-partitions", "-config", cdkJSON(t), "-region", backupRegion, "-json")
	var repair struct {
		Region  string
		Objects int
		Actions []string
	}
	if err := json.Unmarshal(e.stdout.Bytes(), &repair); err != nil {
		t.Fatalf("repair-partitions -json output is not JSON: %v\n%s", err, e.stdout.String())
	}
	if code != exitOK || repair.Region != backupRegion || repair.Objects != 181 || len(repair.Actions) == 0 {
		t.Errorf("exit %d, report %+v", code, repair)
	}
}

func TestProgressLineClearsAndShowsRateAndETA(t *testing.T) {
	var out strings.Builder
	clock := now
	bar := newProgressBar(&out, func() time.Time { return clock })
	bar.Start("copy objects", 100, 100<<20)
	clock = clock.Add(10 * time.Second)
	bar.Add(20, 20<<20)
	line := out.String()[strings.LastIndex(out.String(), "\r"):]
	if !strings.HasPrefix(line, "\r\x1b[K") || !strings.Contains(line, "20/100") || !strings.Contains(line, "2/s, ETA 40s") {
		t.Errorf("progress line %q, want it to erase the old one and show 2/s, ETA 40s", line)
	}
}

// S3 copies move up to 5 GB each inside S3; every other call gets -timeout.
func TestEveryCallHasADeadlineAndCopiesALongerOne(t *testing.T) {
	deadlines := map[string]time.Duration{}
	record := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("record", func(ctx context.Context, _ middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			d, ok := ctx.Deadline()
			if ok {
				deadlines[awsmiddleware.GetOperationName(ctx)] = time.Until(d).Round(time.Minute)
			}
			return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("recorded")
		}), middleware.After)
	}
	client := s3.New(s3.Options{Region: primaryRegion, APIOptions: []func(*middleware.Stack) error{callDeadline(time.Minute), record}})
	ctx := context.Background()
	_, _ = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	_, _ = client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("b"), Key: aws.String("k"), CopySource: aws.String("a/k")})
	if deadlines["HeadObject"] != time.Minute || deadlines["CopyObject"] != copyCallTimeout {
		t.Errorf("deadlines %v, want HeadObject 1m0s and CopyObject %s", deadlines, copyCallTimeout)
	}
}

// The real SDK credential chain with no credentials anywhere and an
// instance metadata service that never answers (the situation off EC2
// behind a firewall): status ends at -timeout and names that cause.
func TestSilentInstanceMetadataEndsAtTheTimeout(t *testing.T) {
	e := newTestEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	for _, source := range []string{"AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(source, "")
	}
	t.Setenv("AWS_REGION", backupRegion)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", silentEndpoint(t))
	code := e.runWith(t, loadAWSConfig, "status", "-config", cdkJSON(t), "-timeout", "300ms")
	if code != exitFail || !strings.Contains(e.stderr.String(), "no credentials within 300ms: a credential source did not answer (off EC2 that is usually the instance metadata service") {
		t.Errorf("exit %d, stderr:\n%s", code, e.stderr.String())
	}
}
