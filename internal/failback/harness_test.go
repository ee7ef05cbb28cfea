package failback_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/backoff"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/dynalite"
	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/gluefake"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/schema"
)

const account = "123456789012"

var (
	// now is when failback runs; failover happened three hours earlier.
	now      = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	failover = now.Add(-3 * time.Hour)
)

func testConfig(t testing.TB) config.Config {
	t.Helper()
	ctx := map[string]any{"prefix": "dr-analytics", "primaryRegion": "us-east-1", "backupRegion": "us-west-2", "producerCidrs": "203.0.113.0/24"}
	cfg, _, err := config.Load(func(k string) any { return ctx[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// harness is a deployment in DR: the world's fakes, one dynalite per
// region holding that region's table, and a Glue catalog per region.
type harness struct {
	cfg   config.Config
	names naming.Names
	w     *drfake.World
	glue  map[string]*gluefake.Server
	ddb   map[string]string // dynalite per region, after withTables
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	cfg := testConfig(t)
	h := &harness{cfg: cfg, names: cfg.Names(account), glue: map[string]*gluefake.Server{}, ddb: map[string]string{}}
	h.w = drfake.NewWorld(t, h.names, cfg.PrimaryRegion, cfg.BackupRegion, now)
	h.w.Healthy(t)
	h.w.Failover(failover)
	h.w.Backup.CloudWatch.SetPublicationLag(h.w.Clock, drfake.MetricPublicationLag)
	for _, region := range []string{cfg.PrimaryRegion, cfg.BackupRegion} {
		g := gluefake.New(t)
		location := func(p naming.Purpose, prefix string) gluetypes.StorageDescriptor {
			return gluetypes.StorageDescriptor{Location: aws.String(fmt.Sprintf("s3://%s/%s", h.names.Bucket(p, region), prefix))}
		}
		g.AddTable(h.names.Database(), naming.RawTable, schema.RawPartitionKeys, location(naming.Streaming, naming.RawPrefix))
		g.AddTable(h.names.Database(), naming.CompactedTable, schema.CompactedPartitionKeys, location(naming.Batch, naming.CompactedPrefix))
		h.glue[region] = g
	}
	return h
}

// withTables gives each region its aggregates table: a table of its own
// in the package's one dynalite, which the region's endpoint shows under
// the real name.
func (h *harness) withTables(t testing.TB) *harness {
	t.Helper()
	id := tablesMade.Add(1)
	for _, region := range []string{h.cfg.PrimaryRegion, h.cfg.BackupRegion} {
		alias := fmt.Sprintf("t%d-%s", id, region)
		h.ddb[region] = drfake.TableAlias(t, sharedDynalite(t), h.names.Table(), alias)
		h.w.SetEndpoint(drfake.ServiceDynamoDB, region, h.ddb[region])
		createTable(t, h.dynamo(region), h.names.Table())
	}
	return h
}

var (
	tablesMade   atomic.Int64
	dynaliteMu   sync.Mutex
	dynaliteURL  string
	stopDynalite []func()
)

// sharedDynalite is the package's one dynalite, started on first use and
// stopped by TestMain: a start costs a Node.js process, and tables give
// tests their isolation.
func sharedDynalite(t testing.TB) string {
	t.Helper()
	dynaliteMu.Lock()
	defer dynaliteMu.Unlock()
	if dynaliteURL == "" {
		dynaliteURL = dynalite.Start(packageTB{t})
	}
	return dynaliteURL
}

// packageTB hands dynalite.Start a test's failure reporting but keeps its
// cleanups for the end of the package.
type packageTB struct{ testing.TB }

func (p packageTB) Cleanup(f func()) { stopDynalite = append(stopDynalite, f) }

func TestMain(m *testing.M) {
	code := m.Run()
	for _, stop := range stopDynalite {
		stop()
	}
	os.Exit(code)
}

func (h *harness) dynamo(region string) *dynamodb.Client {
	return dynamodb.NewFromConfig(awsfake.Config(h.w.Endpoint(drfake.ServiceDynamoDB, region), region))
}

// s3Client talks to endpoint with the SDK's retries off, so every retry a
// test sees is failback's own.
func s3Client(endpoint, region string) *s3.Client {
	return s3.NewFromConfig(awsfake.Config(endpoint, region), func(o *s3.Options) {
		o.UsePathStyle = true
		o.Retryer = aws.NopRetryer{}
	})
}

func (h *harness) region(name, s3Endpoint string) failback.Region {
	c := awsfake.Config(h.w.Endpoint(drfake.ServiceSSM, name), name)
	return failback.Region{
		Name:           name,
		S3:             s3Client(s3Endpoint, name),
		DynamoDB:       h.dynamo(name),
		CloudWatch:     cloudwatch.NewFromConfig(awsfake.Config(h.w.Endpoint(drfake.ServiceCloudWatch, name), name)),
		SSM:            ssm.NewFromConfig(c),
		CloudFormation: cloudformation.NewFromConfig(awsfake.Config(h.w.Endpoint(drfake.ServiceCloudFormation, name), name)),
		Glue:           h.glue[name].Client(),
		Lambda:         lambda.NewFromConfig(awsfake.Config(h.w.Endpoint(drfake.ServiceLambda, name), name)),
		SQS:            sqs.NewFromConfig(awsfake.Config(h.w.Endpoint(drfake.ServiceSQS, name), name)),
		StepFunctions:  sfn.NewFromConfig(awsfake.Config(h.w.Endpoint(drfake.ServiceStepFunctions, name), name)),
		S3Control:      s3control.NewFromConfig(awsfake.Config(h.w.Endpoint(drfake.ServiceS3Control, name), name)),
	}
}

// input is a failback run against the harness; its clock is the world's
// and its sleeps advance that clock, so waits cost no wall time.
func (h *harness) input() failback.Input {
	h.w.Clock.Set(now)
	sleep := func(ctx context.Context, d time.Duration) error {
		h.w.Clock.Advance(d)
		return ctx.Err()
	}
	return failback.Input{
		Config:            h.cfg,
		Primary:           h.region(h.cfg.PrimaryRegion, h.w.S3.URL()),
		Backup:            h.region(h.cfg.BackupRegion, h.w.S3.URL()),
		GlobalAccelerator: globalaccelerator.NewFromConfig(awsfake.Config(h.w.GlobalAccelerator.URL(), "us-west-2")),
		STS:               sts.NewFromConfig(awsfake.Config(h.w.STS.URL(), h.cfg.BackupRegion)),
		Workers:           8, Segments: 3,
		DrainPoll: 30 * time.Second, DrainTimeout: 30 * time.Minute,
		Retry: backoff.Policy{Initial: time.Nanosecond, Max: time.Nanosecond, Sleep: sleep},
		Now:   h.w.Clock.Now,
	}
}

func createTable(t testing.TB, client *dynamodb.Client, name string) {
	t.Helper()
	drfake.CreateAggregatesTable(t, client, name)
}

// aggregateItem is an item as the aggregator writes it.
func aggregateItem(key, region string, window time.Time, shard string, count int, written time.Time) map[string]ddbtypes.AttributeValue {
	start := window.UTC().Format(time.RFC3339)
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	return map[string]ddbtypes.AttributeValue{
		"pk": s(key), "sk": s(start + "#" + region + "#" + shard),
		"window_start": s(start), "window_end": s(window.Add(time.Minute).UTC().Format(time.RFC3339)),
		"count": &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(count)}, "region": s(region),
		"shard_id": s(shard), "aggregate_key": s("type"), "written_at": s(written.UTC().Format(time.RFC3339Nano)),
		writerhour.Attribute: s(writerhour.Value(region, written, key)),
	}
}

func putItems(t testing.TB, client *dynamodb.Client, table string, items []map[string]ddbtypes.AttributeValue) {
	t.Helper()
	for i := 0; i < len(items); i += 25 {
		var reqs []ddbtypes.WriteRequest
		for _, item := range items[i:min(i+25, len(items))] {
			reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: item}})
		}
		pending := map[string][]ddbtypes.WriteRequest{table: reqs}
		for len(pending[table]) > 0 {
			out, err := client.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				t.Fatalf("seed items: %v", err)
			}
			pending = out.UnprocessedItems
		}
	}
}

// scanAll returns every item of a table by pk+sk.
func scanAll(t testing.TB, client *dynamodb.Client, table string) map[string]map[string]ddbtypes.AttributeValue {
	t.Helper()
	out := map[string]map[string]ddbtypes.AttributeValue{}
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		for _, item := range page.Items {
			out[item["pk"].(*ddbtypes.AttributeValueMemberS).Value+"|"+item["sk"].(*ddbtypes.AttributeValueMemberS).Value] = item
		}
	}
	return out
}

// seedObjects puts n objects in the streaming replica after failover and
// returns their keys; before failover it puts old objects in both sides.
func (h *harness) seedObjects(t testing.TB, n int) []string {
	t.Helper()
	replica := h.names.Bucket(naming.Streaming, h.cfg.BackupRegion)
	primary := h.names.Bucket(naming.Streaming, h.cfg.PrimaryRegion)
	h.w.Clock.Set(failover.Add(-time.Hour))
	for i := range 3 {
		key := fmt.Sprintf("raw/year=2026/month=11/day=25/hour=10/old-%d.json.gz", i)
		h.w.S3.PutObject(t, primary, key, []byte("old data "+key))
		h.w.S3.PutObject(t, replica, key, []byte("old data "+key))
	}
	var keys []string
	for i := range n {
		at := failover.Add(time.Duration(i+1) * time.Second)
		h.w.Clock.Set(at)
		key := fmt.Sprintf("raw/year=2026/month=11/day=25/hour=%02d/dr-analytics-raw-delivery-%05d.json.gz", at.Hour(), i)
		h.w.S3.PutObject(t, replica, key, []byte(fmt.Sprintf("events of %s %d", key, i)))
		keys = append(keys, key)
	}
	h.w.Clock.Set(now)
	return keys
}

// deleteParameter removes an SSM parameter of the backup region.
func deleteParameter(t testing.TB, h *harness, name string) {
	t.Helper()
	if _, err := h.w.Backup.SSM.Client().DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(name)}); err != nil {
		t.Fatalf("delete parameter %s: %v", name, err)
	}
}
