package readiness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/readiness"
	"github.com/dr-analytics/drplan/internal/restoretest"
)

const account = "123456789012"

var seeded = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	ctx := map[string]any{"prefix": "dr-analytics", "primaryRegion": "us-east-1", "backupRegion": "us-west-2", "producerCidrs": "203.0.113.0/24"}
	cfg, _, err := config.Load(func(k string) any { return ctx[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func healthyWorld(t *testing.T, cfg config.Config) *drfake.World {
	t.Helper()
	w := drfake.NewWorld(t, cfg.Names(account), cfg.PrimaryRegion, cfg.BackupRegion, seeded)
	w.Healthy(t)
	return w
}

// endpoints resolves service endpoints; tests replace some.
type endpoints func(service, region string) string

func input(cfg config.Config, endpoint endpoints, now time.Time) readiness.Input {
	region := func(name string) readiness.Region {
		c := func(service string) aws.Config { return awsfake.Config(endpoint(service, name), name) }
		return readiness.Region{
			Name:           name,
			S3:             s3.NewFromConfig(c(drfake.ServiceS3), func(o *s3.Options) { o.UsePathStyle = true }),
			CloudWatch:     cloudwatch.NewFromConfig(c(drfake.ServiceCloudWatch)),
			DynamoDB:       dynamodb.NewFromConfig(c(drfake.ServiceDynamoDB)),
			Backup:         backup.NewFromConfig(c(drfake.ServiceBackup)),
			SSM:            ssm.NewFromConfig(c(drfake.ServiceSSM)),
			CloudFormation: cloudformation.NewFromConfig(c(drfake.ServiceCloudFormation)),
		}
	}
	return readiness.Input{
		Config:            cfg,
		Primary:           region(cfg.PrimaryRegion),
		Backup:            region(cfg.BackupRegion),
		GlobalAccelerator: globalaccelerator.NewFromConfig(awsfake.Config(endpoint(drfake.ServiceGlobalAccelerator, "us-west-2"), "us-west-2")),
		STS:               sts.NewFromConfig(awsfake.Config(endpoint(drfake.ServiceSTS, cfg.BackupRegion), cfg.BackupRegion)),
		CallTimeout:       5 * time.Second,
		Now:               func() time.Time { return now },
	}
}

// primaryDown resolves the world's endpoints, except that every service of
// the primary region refuses connections.
func primaryDown(t *testing.T, cfg config.Config, w *drfake.World) endpoints {
	dead := awsfake.DeadEndpoint(t)
	return func(service, region string) string {
		if region == cfg.PrimaryRegion {
			return dead
		}
		return w.Endpoint(service, region)
	}
}

func lineFor(t *testing.T, r readiness.Report, region, check string) readiness.Line {
	t.Helper()
	for _, l := range r.Checks {
		if l.Region == region && l.Check == check {
			return l
		}
	}
	t.Fatalf("no line %s/%s in report:\n%s", region, check, text(t, r))
	return readiness.Line{}
}

func text(t *testing.T, r readiness.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHealthyDeploymentIsAllOK(t *testing.T) {
	cfg := testConfig(t)
	w := healthyWorld(t, cfg)
	r := readiness.Run(context.Background(), input(cfg, w.Endpoint, seeded))
	if r.Failed() || r.Summary.Warn != 0 {
		t.Fatalf("healthy deployment: %+v\n%s", r.Summary, text(t, r))
	}
	for _, l := range r.Checks {
		if l.Status != readiness.OK {
			t.Errorf("%s %s: %s %s", l.Region, l.Check, l.Status, l.Detail)
		}
	}
	want := []string{"credentials", "replication streaming", "replication lag streaming", "replication batch", "replication lag batch",
		"table PITR", "vault recovery point", "backup settings", "cdk bootstrap", "accelerator", "endpoint group",
		"stack BackupStack", "stack PrimaryStack", "stack BackupFailoverStack", "restored table", "restore test"}
	got := map[string]bool{}
	for _, l := range r.Checks {
		got[l.Check] = true
	}
	for _, check := range want {
		if !got[check] {
			t.Errorf("check %q missing from the report", check)
		}
	}
	if want := "https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2#dashboards/dashboard/dr-analytics-dr"; r.DashboardURL != want ||
		!strings.Contains(text(t, r), "Dashboard: "+want) {
		t.Errorf("dashboard URL %q, want %s in the report and its text", r.DashboardURL, want)
	}
	if r.Account != account {
		t.Errorf("account = %q, want the caller's %s", r.Account, account)
	}
}

func TestReportListsChecksInAFixedOrder(t *testing.T) {
	cfg := testConfig(t)
	w := healthyWorld(t, cfg)
	first := readiness.Run(context.Background(), input(cfg, w.Endpoint, seeded))
	for range 3 {
		again := readiness.Run(context.Background(), input(cfg, w.Endpoint, seeded))
		if text(t, again) != text(t, first) {
			t.Fatalf("order changed between runs:\n%s\n---\n%s", text(t, first), text(t, again))
		}
	}
}

func TestProblemsGiveTheRightVerdict(t *testing.T) {
	cfg := testConfig(t)
	names := cfg.Names(account)
	cases := []struct {
		name   string
		break_ func(w *drfake.World)
		later  time.Duration // readiness runs this long after the world was seeded
		region string
		check  string
		want   readiness.Status
		detail string
	}{
		{"disabled replication rule fails", func(w *drfake.World) {
			w.S3.SetReplication(names.Bucket(naming.Streaming, cfg.PrimaryRegion), drfake.ReplicationRule{ID: "streaming-to-us-west-2",
				Enabled: false, DestinationBucket: names.Bucket(naming.Streaming, cfg.BackupRegion), RTC: true, Metrics: true})
		}, 0, cfg.PrimaryRegion, "replication streaming", readiness.Fail, "is Disabled"},
		{"replication without RTC fails", func(w *drfake.World) {
			w.S3.SetReplication(names.Bucket(naming.Batch, cfg.PrimaryRegion), drfake.ReplicationRule{ID: "batch-to-us-west-2",
				Enabled: true, DestinationBucket: names.Bucket(naming.Batch, cfg.BackupRegion), Metrics: true})
		}, 0, cfg.PrimaryRegion, "replication batch", readiness.Fail, "Replication Time Control off"},
		{"missing replication configuration fails", func(w *drfake.World) {
			w.S3.SetReplication(names.Bucket(naming.Batch, cfg.PrimaryRegion))
		}, 0, cfg.PrimaryRegion, "replication batch", readiness.Fail, "no replication configuration"},
		{"failed replication operations fail", func(w *drfake.World) {
			w.Primary.CloudWatch.Put(drfake.Metric{Namespace: "AWS/S3", Name: "OperationsFailedReplication", Dimensions: w.ReplicationDimensions(naming.Streaming)},
				drfake.Point{Time: seeded.Add(-2 * time.Minute), Value: 3})
		}, 0, cfg.PrimaryRegion, "replication lag streaming", readiness.Fail, "3 failed"},
		{"replication beyond the RTC threshold fails", func(w *drfake.World) {
			w.Primary.CloudWatch.Put(drfake.Metric{Namespace: "AWS/S3", Name: "ReplicationLatency", Dimensions: w.ReplicationDimensions(naming.Batch)},
				drfake.Point{Time: seeded.Add(-2 * time.Minute), Value: 1200})
		}, 0, cfg.PrimaryRegion, "replication lag batch", readiness.Fail, "latency max 20m0s"},
		{"slow replication warns", func(w *drfake.World) {
			w.Primary.CloudWatch.Put(drfake.Metric{Namespace: "AWS/S3", Name: "ReplicationLatency", Dimensions: w.ReplicationDimensions(naming.Batch)},
				drfake.Point{Time: seeded.Add(-2 * time.Minute), Value: 400})
		}, 0, cfg.PrimaryRegion, "replication lag batch", readiness.Warn, "falling behind"},
		{"PITR off fails", func(w *drfake.World) {
			w.Primary.DynamoDB.PutTable(awsfake.Table{Name: names.Table(), PITR: false})
		}, 0, cfg.PrimaryRegion, "table PITR", readiness.Fail, "PITR is DISABLED"},
		{"stale recovery point fails", func(*drfake.World) {}, 6 * time.Hour, cfg.BackupRegion, "vault recovery point", readiness.Fail, "stale"},
		{"late recovery point warns", func(*drfake.World) {}, 90 * time.Minute, cfg.BackupRegion, "vault recovery point", readiness.Warn, "late"},
		{"advanced DynamoDB backup features off fails", func(w *drfake.World) {
			w.Primary.Backup.SetDynamoDBAdvancedFeatures(false)
		}, 0, cfg.PrimaryRegion, "backup settings", readiness.Fail, "update-region-settings"},
		{"unbootstrapped backup region fails", func(w *drfake.World) {
			w.Backup.SSM.Inject("GetParameter", awsfake.Fault{Status: 400, Code: "ParameterNotFound", Message: "not found"})
			w.Backup.CloudFormation.DeleteStack("CDKToolkit")
		}, 0, cfg.BackupRegion, "cdk bootstrap", readiness.Fail, "cdk bootstrap aws://123456789012/us-west-2"},
		{"a pilot-light endpoint at weight 0 is idle, not DR", func(w *drfake.World) {
			w.GlobalAccelerator.PutListener(w.ListenerArn, awsfake.EndpointGroup{Arn: w.PrimaryGroupArn, Region: cfg.PrimaryRegion},
				awsfake.EndpointGroup{Arn: w.BackupGroupArn, Region: cfg.BackupRegion})
			w.GlobalAccelerator.SetEndpoints(w.BackupGroupArn, awsfake.Endpoint{ID: "alb", Health: "HEALTHY", Weight: aws.Int32(0)})
		}, 0, cfg.BackupRegion, "endpoint group", readiness.OK, "weight 0: pre-built, out of traffic until failover (pilot-light)"},
		{"an unhealthy pilot-light endpoint warns", func(w *drfake.World) {
			w.GlobalAccelerator.PutListener(w.ListenerArn, awsfake.EndpointGroup{Arn: w.PrimaryGroupArn, Region: cfg.PrimaryRegion},
				awsfake.EndpointGroup{Arn: w.BackupGroupArn, Region: cfg.BackupRegion})
			w.GlobalAccelerator.SetEndpoints(w.BackupGroupArn, awsfake.Endpoint{ID: "alb", Health: "UNHEALTHY", Weight: aws.Int32(0)})
		}, 0, cfg.BackupRegion, "endpoint group", readiness.Warn, "not healthy, so failover would have to wait for it"},
		{"unhealthy primary endpoints fail", func(w *drfake.World) {
			w.GlobalAccelerator.SetEndpoints(w.PrimaryGroupArn, awsfake.Endpoint{ID: "alb", Health: "UNHEALTHY"})
		}, 0, cfg.PrimaryRegion, "endpoint group", readiness.Fail, "no healthy endpoint"},
		{"active failover warns", func(w *drfake.World) { w.Failover(seeded.Add(-3 * time.Hour)) },
			0, cfg.BackupRegion, "stack BackupFailoverStack", readiness.Warn, "DR is active"},
		{"active failover shows the recorded start", func(w *drfake.World) { w.Failover(seeded.Add(-3 * time.Hour)) },
			0, cfg.BackupRegion, "stack BackupFailoverStack", readiness.Warn,
			"failover start recorded " + seeded.Add(-3*time.Hour).Format(time.RFC3339) + " (SSM /dr-analytics/failover/started-at)"},
		{"a redeployed failover stack shows the first attempt's start", func(w *drfake.World) {
			w.Failover(seeded.Add(-3 * time.Hour))
			w.Backup.CloudFormation.PutStack(drfake.Stack{Name: names.StackName(naming.BackupFailoverStack), Status: "CREATE_COMPLETE", Created: seeded.Add(-time.Hour)})
		}, 0, cfg.BackupRegion, "stack BackupFailoverStack", readiness.Warn,
			"first failover attempt began " + seeded.Add(-3*time.Hour).Format(time.RFC3339) + " (SSM /dr-analytics/failover/started-at), before this stack"},
		{"a failover without a recorded start says so", func(w *drfake.World) {
			w.Failover(seeded.Add(-3 * time.Hour))
			if _, err := w.Backup.SSM.Client().DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(names.FailoverStartedParameter())}); err != nil {
				t.Fatal(err)
			}
		}, 0, cfg.BackupRegion, "stack BackupFailoverStack", readiness.Warn, "no failover start recorded in SSM /dr-analytics/failover/started-at"},
		{"primary dialled down warns", func(w *drfake.World) { w.Failover(seeded.Add(-3 * time.Hour)) },
			0, cfg.PrimaryRegion, "endpoint group", readiness.Warn, "dial 0%"},
		{"restored table during DR is fine", func(w *drfake.World) { w.Failover(seeded.Add(-3 * time.Hour)) },
			0, cfg.BackupRegion, "restored table", readiness.OK, "restored for this failover"},
		{"restored table still restoring warns", func(w *drfake.World) {
			w.Failover(seeded.Add(-20 * time.Minute))
			w.Backup.DynamoDB.PutTable(awsfake.Table{Name: names.Table(), Status: "CREATING"})
		}, 0, cfg.BackupRegion, "restored table", readiness.Warn, "still restoring"},
		{"restored table without PITR or deletion protection warns with the commands", func(w *drfake.World) {
			w.Failover(seeded.Add(-3 * time.Hour))
			w.Backup.DynamoDB.PutTable(awsfake.Table{Name: names.Table()})
		}, 0, cfg.BackupRegion, "restored table", readiness.Warn, "PointInTimeRecoveryEnabled=true && aws dynamodb update-table --region us-west-2 --table-name dr-analytics-aggregates --deletion-protection-enabled"},
		{"failover record left without a failover warns", func(w *drfake.World) {
			w.Backup.SSM.PutParameter(awsfake.Parameter{Name: names.FailoverStartedParameter(), Value: "2026-11-01T10:00:00Z"})
		}, 0, cfg.BackupRegion, "stack BackupFailoverStack", readiness.Warn, "still records a failover that began 2026-11-01T10:00:00Z"},
		{"restored table left after failback warns", func(w *drfake.World) {
			w.Backup.DynamoDB.PutTable(awsfake.Table{Name: names.Table(), PITR: true})
		}, 0, cfg.BackupRegion, "restored table", readiness.Warn, "back it up and delete it"},
		{"failover without its table yet warns", func(w *drfake.World) {
			w.Failover(seeded.Add(-3 * time.Minute))
			w.Backup.DynamoDB.RemoveTable(names.Table())
		}, 0, cfg.BackupRegion, "restored table", readiness.Warn, "has not created it"},
		{"a failed restore test fails with its reason", func(w *drfake.World) {
			w.PutRestoreTest(t, restoretest.Record{FinishedAt: seeded.Add(-time.Hour), Detail: "restored table is empty but its recovery point holds 4096 bytes"})
		}, 0, cfg.BackupRegion, "restore test", readiness.Fail, "validation FAILED: restored table is empty"},
		{"a restore test older than the schedule allows fails", func(*drfake.World) {}, 6 * 24 * time.Hour,
			cfg.BackupRegion, "restore test", readiness.Fail, "stale, older than 174h15m0s"},
		{"no restore test yet warns with the command to start one", func(w *drfake.World) {
			if _, err := w.Backup.SSM.Client().DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(restoretest.RecordParameter(cfg.Prefix))}); err != nil {
				t.Fatal(err)
			}
		}, 0, cfg.BackupRegion, "restore test", readiness.Warn, "--state-machine-arn arn:aws:states:us-west-2:123456789012:stateMachine:dr-analytics-restore-test"},
		{"a restore slower than the RTO target warns", func(w *drfake.World) {
			w.PutRestoreTest(t, restoretest.Record{FinishedAt: seeded.Add(-time.Hour), RestoreMinutes: 75, Passed: true, Deleted: true})
		}, 0, cfg.BackupRegion, "restore test", readiness.Warn, "restore took 1h15m0s (RTO target 60 min)"},
		{"a first create that could not roll back names the cleanup", func(w *drfake.World) {
			w.Primary.CloudFormation.PutStack(drfake.Stack{Name: names.StackName(naming.PrimaryStack), Status: "ROLLBACK_FAILED", Created: seeded})
		}, 0, cfg.PrimaryRegion, "stack PrimaryStack", readiness.Fail,
			"ROLLBACK_FAILED: the first create failed and its rollback could not delete the protected table; if dr-analytics-aggregates holds no items, run `aws dynamodb update-table --region us-east-1 --table-name dr-analytics-aggregates --no-deletion-protection-enabled`, `aws dynamodb delete-table --region us-east-1 --table-name dr-analytics-aggregates`, `aws cloudformation delete-stack --region us-east-1 --stack-name dr-analytics-primary`, then deploy again"},
		{"missing primary stack fails", func(w *drfake.World) { w.Primary.CloudFormation.DeleteStack(names.StackName(naming.PrimaryStack)) },
			0, cfg.PrimaryRegion, "stack PrimaryStack", readiness.Fail, "cdk deploy PrimaryStack"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := healthyWorld(t, cfg)
			tc.break_(w)
			r := readiness.Run(context.Background(), input(cfg, w.Endpoint, seeded.Add(tc.later)))
			l := lineFor(t, r, tc.region, tc.check)
			if l.Status != tc.want || !strings.Contains(l.Detail, tc.detail) {
				t.Errorf("%s %s = %s %q, want %s containing %q", tc.region, tc.check, l.Status, l.Detail, tc.want, tc.detail)
			}
			if tc.want == readiness.Fail && !r.Failed() {
				t.Errorf("report with a FAIL line says it did not fail")
			}
		})
	}
}

func TestUnreachablePrimaryGivesFailLinesNotACrash(t *testing.T) {
	cfg := testConfig(t)
	w := healthyWorld(t, cfg)
	r := readiness.Run(context.Background(), input(cfg, primaryDown(t, cfg, w), seeded))
	if !r.Failed() {
		t.Fatalf("unreachable primary did not fail the report:\n%s", text(t, r))
	}
	primaryLines := 0
	for _, l := range r.Checks {
		if l.Region != cfg.PrimaryRegion || l.Check == "endpoint group" {
			continue
		}
		primaryLines++
		if l.Status != readiness.Fail {
			t.Errorf("%s: %s %s, want FAIL", l.Check, l.Status, l.Detail)
		}
		if !strings.Contains(l.Detail, "connection refused") && !strings.Contains(l.Detail, "not measured") {
			t.Errorf("%s: detail %q does not carry the error", l.Check, l.Detail)
		}
	}
	if primaryLines < 6 {
		t.Errorf("only %d primary lines:\n%s", primaryLines, text(t, r))
	}
	if l := lineFor(t, r, cfg.BackupRegion, "vault recovery point"); l.Status != readiness.OK {
		t.Errorf("backup region checks must still answer: %+v", l)
	}
	if r.RPO.TableSource != "backup-vault" || r.RPO.Complete {
		t.Errorf("with the primary unreachable the table RPO must come from the vault and be incomplete: %+v", r.RPO)
	}
}

func TestHangingRegionCostsOneTimeoutPerCall(t *testing.T) {
	cfg := testConfig(t)
	w := healthyWorld(t, cfg)
	w.Primary.DynamoDB.Hang()
	in := input(cfg, w.Endpoint, seeded)
	in.CallTimeout = 200 * time.Millisecond
	r := readiness.Run(context.Background(), in)
	l := lineFor(t, r, cfg.PrimaryRegion, "table PITR")
	if l.Status != readiness.Fail || !strings.Contains(l.Detail, "deadline exceeded") {
		t.Errorf("hanging DynamoDB: %s %q, want FAIL with the deadline error", l.Status, l.Detail)
	}
}

func TestRPOEstimateFollowsTheModel(t *testing.T) {
	cfg := testConfig(t)
	t.Run("PITR on: the worse of S3 (buffer plus latency) and PITR lag", func(t *testing.T) {
		w := healthyWorld(t, cfg)
		r := readiness.Run(context.Background(), input(cfg, w.Endpoint, seeded))
		// Latency worst 11s + 60s buffer = 71s; PITR lag 4m12s = 252s.
		want := readiness.RPO{Seconds: 252, Bound: "table", Complete: true, S3: 71, FirehoseBuffer: 60, ReplicationLatency: 11,
			ReplicationLatencySource: "measured: worst of the last 15 minutes", Table: 252, TableSource: "pitr"}
		got := r.RPO
		if got.TableIfPrimaryLost == nil || *got.TableIfPrimaryLost != 37*60 {
			t.Errorf("TableIfPrimaryLost = %v, want the vault copy's age 2220s", got.TableIfPrimaryLost)
		}
		got.TableIfPrimaryLost = nil
		if got != want {
			t.Errorf("RPO = %+v\nwant %+v", got, want)
		}
	})
	t.Run("PITR off: the newest vault copy's age", func(t *testing.T) {
		w := healthyWorld(t, cfg)
		w.Primary.DynamoDB.PutTable(awsfake.Table{Name: cfg.Names(account).Table(), PITR: false})
		r := readiness.Run(context.Background(), input(cfg, w.Endpoint, seeded))
		if r.RPO.Seconds != 2220 || r.RPO.TableSource != "backup-vault" || r.RPO.Bound != "table" {
			t.Errorf("RPO = %+v, want 2220s from the backup vault", r.RPO)
		}
	})
	t.Run("unreadable replication metrics assume the RTC bound", func(t *testing.T) {
		w := healthyWorld(t, cfg)
		w.Primary.CloudWatch.Fail("GetMetricData", drfake.Fault{Status: 400, Code: "AccessDenied", Message: "no"})
		r := readiness.Run(context.Background(), input(cfg, w.Endpoint, seeded))
		if r.RPO.S3 != 960 || r.RPO.Complete || r.RPO.Bound != "s3" {
			t.Errorf("RPO = %+v, want S3 = 60s buffer + 900s RTC bound, incomplete", r.RPO)
		}
	})
}

func TestJSONReportSchema(t *testing.T) {
	cfg := testConfig(t)
	w := healthyWorld(t, cfg)
	r := readiness.Run(context.Background(), input(cfg, w.Endpoint, seeded))
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	for key, kind := range map[string]string{"generated_at": "string", "prefix": "string", "account": "string",
		"primary_region": "string", "backup_region": "string", "checks": "array", "rpo": "object", "summary": "object"} {
		if got := jsonKind(doc[key]); got != kind {
			t.Errorf("%s is %s, want %s", key, got, kind)
		}
	}
	for _, c := range doc["checks"].([]any) {
		check := c.(map[string]any)
		for _, key := range []string{"region", "check", "status", "detail"} {
			if jsonKind(check[key]) != "string" {
				t.Errorf("check %v: %s is %s, want string", check, key, jsonKind(check[key]))
			}
		}
		if s := check["status"]; s != "OK" && s != "WARN" && s != "FAIL" {
			t.Errorf("status %v is not OK, WARN or FAIL", s)
		}
		if v, ok := check["value"]; ok && (jsonKind(v) != "number" || jsonKind(check["unit"]) != "string") {
			t.Errorf("check %v: value must be a number with a unit", check)
		}
	}
	rpo := doc["rpo"].(map[string]any)
	for _, key := range []string{"seconds", "s3_seconds", "firehose_buffer_seconds", "replication_latency_seconds", "table_seconds"} {
		if jsonKind(rpo[key]) != "number" {
			t.Errorf("rpo.%s is %s, want number", key, jsonKind(rpo[key]))
		}
	}
	for _, key := range []string{"ok", "warn", "fail"} {
		if jsonKind(doc["summary"].(map[string]any)[key]) != "number" {
			t.Errorf("summary.%s is not a number", key)
		}
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case bool:
		return "bool"
	case nil:
		return "missing"
	}
	return "unknown"
}
