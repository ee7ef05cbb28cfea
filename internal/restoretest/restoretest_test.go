package restoretest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/dynalite"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/restoretest"
)

const (
	account = "123456789012"
	primary = "us-east-1"
	backupR = "us-west-2"
)

var (
	names = naming.Names{Prefix: "dr-analytics", Account: account}
	now   = time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
)

type env struct {
	backup  *awsfake.Backup
	ssm     *awsfake.SSM
	ddb     *dynamodb.Client
	metrics bytes.Buffer
	tester  *restoretest.Tester
	clock   time.Time
}

// newEnv fakes the backup region; dynamoEndpoint is a dynalite started by
// the top-level test (subtests share it; each restores into its own table).
func newEnv(t *testing.T, dynamoEndpoint string, sourceBytes int64) *env {
	t.Helper()
	e := &env{backup: awsfake.NewBackup(t, backupR, account), ssm: awsfake.NewSSM(t, backupR), clock: now}
	e.ddb = awsfake.DynamoDBClient(dynamoEndpoint, backupR)
	for i, age := range []time.Duration{3 * time.Hour, 40 * time.Minute, 2 * time.Hour} {
		created := now.Add(-age)
		e.backup.PutRecoveryPoint(names.BackupVault(), awsfake.RecoveryPoint{
			Arn:         fmt.Sprintf("arn:aws:backup:%s:%s:recovery-point:rp-%d", backupR, account, i),
			ResourceArn: names.TableArn(primary), ResourceType: "DynamoDB", Status: "COMPLETED",
			CreationDate: created, CompletionDate: created.Add(5 * time.Minute), BackupSizeInBytes: sourceBytes,
		})
	}
	// A newer point that is not complete must not be chosen.
	e.backup.PutRecoveryPoint(names.BackupVault(), awsfake.RecoveryPoint{
		Arn: "arn:aws:backup:us-west-2:123456789012:recovery-point:rp-partial", ResourceArn: names.TableArn(primary),
		ResourceType: "DynamoDB", Status: "PARTIAL", CreationDate: now.Add(-10 * time.Minute),
	})
	e.tester = &restoretest.Tester{
		Names: names, PrimaryRegion: primary, RestoreRoleArn: "arn:aws:iam::123456789012:role/restore",
		Backup: e.backup.Client(), DynamoDB: e.ddb, SSM: e.ssm.Client(), Metrics: &e.metrics,
		Now: func() time.Time { return e.clock },
	}
	return e
}

// restored creates the table AWS Backup would have restored.
func (e *env) restored(t *testing.T, table string, keys []ddbtypes.KeySchemaElement, windows ...time.Time) {
	t.Helper()
	ctx := context.Background()
	aggregates := len(keys) == 2 && *keys[0].AttributeName == "pk" && *keys[1].AttributeName == "sk"
	if aggregates {
		// The aggregates table with its index, as a restore of it brings it.
		drfake.CreateAggregatesTable(t, e.ddb, table)
	} else {
		var attrs []ddbtypes.AttributeDefinition
		for _, k := range keys {
			attrs = append(attrs, ddbtypes.AttributeDefinition{AttributeName: k.AttributeName, AttributeType: ddbtypes.ScalarAttributeTypeS})
		}
		if _, err := e.ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), KeySchema: keys,
			AttributeDefinitions: attrs, BillingMode: ddbtypes.BillingModePayPerRequest}); err != nil {
			t.Fatal(err)
		}
		// dynalite, like DynamoDB, creates the table CREATING first.
		if err := dynamodb.NewTableExistsWaiter(e.ddb, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 10 * time.Millisecond }).
			Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for i, w := range windows {
		item := map[string]ddbtypes.AttributeValue{
			"window_start": &ddbtypes.AttributeValueMemberS{Value: w.Format(time.RFC3339)},
			"count":        &ddbtypes.AttributeValueMemberN{Value: "3"},
		}
		for _, k := range keys {
			item[*k.AttributeName] = &ddbtypes.AttributeValueMemberS{Value: fmt.Sprintf("%s-%d", *k.AttributeName, i)}
		}
		if aggregates {
			// One partition key with its whole history, as the aggregator
			// writes it: one item per window, sort key starting with the
			// window, written as the window ends.
			pk, written := "type=click", w.Add(time.Minute)
			item["pk"] = &ddbtypes.AttributeValueMemberS{Value: pk}
			item["sk"] = &ddbtypes.AttributeValueMemberS{Value: w.Format(time.RFC3339) + "#" + primary + "#shard-0"}
			item[writerhour.Attribute] = &ddbtypes.AttributeValueMemberS{Value: writerhour.Value(primary, written, pk)}
			item[writerhour.SortKey] = &ddbtypes.AttributeValueMemberS{Value: written.Format(time.RFC3339Nano)}
		}
		if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
}

var aggregatesKeys = []ddbtypes.KeySchemaElement{
	{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
	{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
}

func TestRestoreTestVerdicts(t *testing.T) {
	newest := now.Add(-40 * time.Minute)
	dynamo := dynalite.Start(t)
	cases := []struct {
		name        string
		sourceBytes int64
		table       func(e *env, t *testing.T, name string)
		jobStatus   string
		passed      bool
		detail      string
		items       int
	}{
		{"valid copy passes", 4096, func(e *env, t *testing.T, name string) {
			e.restored(t, name, aggregatesKeys, newest.Add(-2*time.Minute), newest.Add(-time.Minute), newest.Add(-3*time.Hour))
		}, "COMPLETED", true, "3 items sampled, newest write 2026-11-29T05:20:00Z", 3},
		{"a long history under one key still finds the newest write", 4096, func(e *env, t *testing.T, name string) {
			// More windows than one page of a scan, all under one
			// partition key: a scan returns the oldest first.
			windows := make([]time.Time, 0, 1201)
			for i := range 1200 {
				windows = append(windows, newest.Add(-30*time.Hour-time.Duration(i)*time.Minute))
			}
			e.restored(t, name, aggregatesKeys, append(windows, newest.Add(-2*time.Minute))...)
		}, "COMPLETED", true, "newest write 2026-11-29T05:19:00Z", 1000},
		{"empty table from a non-empty backup fails", 4096, func(e *env, t *testing.T, name string) {
			e.restored(t, name, aggregatesKeys)
		}, "COMPLETED", false, "is empty but its recovery point holds 4096 bytes", 0},
		{"empty table from an empty backup passes", 0, func(e *env, t *testing.T, name string) {
			e.restored(t, name, aggregatesKeys)
		}, "COMPLETED", true, "empty like its source", 0},
		{"wrong key schema fails", 4096, func(e *env, t *testing.T, name string) {
			e.restored(t, name, []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}}, newest)
		}, "COMPLETED", false, `key schema "id HASH"`, 0},
		{"only old windows fail as stale", 4096, func(e *env, t *testing.T, name string) {
			e.restored(t, name, aggregatesKeys, newest.Add(-30*time.Hour))
		}, "COMPLETED", false, "nothing written by us-east-1 in the 24h0m0s before the recovery point: the copy is stale", 1},
		{"failed restore job fails", 4096, func(*env, *testing.T, string) {}, "FAILED", false, "ended FAILED: access denied", 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, dynamo, tc.sourceBytes)
			e.clock = now.Add(time.Duration(i) * time.Second) // one throwaway table name per case
			ctx := context.Background()
			job, err := e.tester.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if job.RecoveryPointArn != "arn:aws:backup:us-west-2:123456789012:recovery-point:rp-1" || !strings.HasPrefix(job.Table, "dr-analytics-restore-test-") {
				t.Fatalf("start chose %s into %s, want the newest completed copy rp-1 into a throwaway table", job.RecoveryPointArn, job.Table)
			}
			jobs := e.backup.RestoreJobs()
			if len(jobs) != 1 || jobs[0].Metadata["targetTableName"] != job.Table || jobs[0].ResourceType != "DynamoDB" {
				t.Fatalf("restore jobs %+v", jobs)
			}
			tc.table(e, t, job.Table)
			if tc.jobStatus == "COMPLETED" {
				e.backup.CompleteRestoreJob(job.RestoreJobID, e.clock.Add(17*time.Minute+30*time.Second))
			} else {
				e.backup.SetRestoreJobStatus(job.RestoreJobID, tc.jobStatus, "access denied")
			}
			started := e.clock
			e.clock = started.Add(20 * time.Minute)
			job, err = e.tester.Check(ctx, job)
			if err != nil || !job.Done() || !job.Ended {
				t.Fatalf("check: %+v, %v", job, err)
			}
			rec, err := e.tester.Finish(ctx, job)
			if (err == nil) != tc.passed || rec.Passed != tc.passed || !strings.Contains(rec.Detail, tc.detail) || rec.Items != tc.items {
				t.Fatalf("finish = %+v, %v; want passed %v with %q and %d items", rec, err, tc.passed, tc.detail, tc.items)
			}
			if tc.jobStatus == "COMPLETED" && rec.RestoreMinutes != 17.5 {
				t.Errorf("restore minutes = %v, want 17.5 (start to the job's CompletionDate)", rec.RestoreMinutes)
			}
			if !rec.Deleted {
				t.Errorf("throwaway table not deleted: %s", rec.Detail)
			}
			if out, err := e.ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(job.Table)}); !notFound(err) &&
				(err != nil || out.Table.TableStatus != ddbtypes.TableStatusDeleting) {
				t.Errorf("throwaway table %s still exists: %v", job.Table, err)
			}
			stored, err := restoretest.ReadRecord(ctx, e.ssm.Client(), names.Prefix)
			if err != nil || stored == nil || stored.Passed != tc.passed || stored.Table != job.Table {
				t.Fatalf("stored record %+v, %v", stored, err)
			}
			if tc.passed != (stored.LastPassedAt != nil) {
				t.Errorf("last passed = %v after a first test that passed=%v", stored.LastPassedAt, tc.passed)
			}
			doc := metricsLine(t, e.metrics.String())
			if doc[drmetrics.ValidationPassed] != boolFloat(tc.passed) || doc[drmetrics.DimPrefix] != "dr-analytics" {
				t.Errorf("metrics line %v", doc)
			}
			if _, has := doc[drmetrics.RestoreMinutes]; has != (tc.jobStatus == "COMPLETED") {
				t.Errorf("RestoreMinutes present = %v for a %s job", has, tc.jobStatus)
			}
		})
	}
}

func TestAFailedTestKeepsTheLastPass(t *testing.T) {
	e := newEnv(t, dynalite.Start(t), 4096)
	ctx := context.Background()
	passedAt := now.Add(-7 * 24 * time.Hour)
	body, _ := json.Marshal(restoretest.Record{Passed: true, FinishedAt: passedAt, LastPassedAt: &passedAt})
	e.ssm.PutParameter(awsfake.Parameter{Name: restoretest.RecordParameter(names.Prefix), Type: "String", Value: string(body)})
	job, err := e.tester.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.backup.SetRestoreJobStatus(job.RestoreJobID, "ABORTED", "stopped")
	job, _ = e.tester.Check(ctx, job)
	rec, err := e.tester.Finish(ctx, job)
	if err == nil || rec.LastPassedAt == nil || !rec.LastPassedAt.Equal(passedAt) {
		t.Fatalf("failed test: %+v, %v; want an error and the earlier pass kept", rec, err)
	}
}

func TestStartWithoutACopyFailsWithTheReason(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:1", 0) // never reached: nothing to restore
	e.tester.PrimaryRegion = "eu-west-1"    // no copies of that table
	if _, err := e.tester.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "no completed copy") {
		t.Fatalf("start = %v, want no completed copy", err)
	}
	if jobs := e.backup.RestoreJobs(); len(jobs) != 0 {
		t.Errorf("started %d restore jobs without a copy", len(jobs))
	}
}

func TestUnknownStepIsRefused(t *testing.T) {
	e := newEnv(t, "http://127.0.0.1:1", 0)
	if _, err := e.tester.Handle(context.Background(), restoretest.Step{Action: "restore"}); err == nil || !strings.Contains(err.Error(), `unknown action "restore"`) {
		t.Fatalf("unknown action: %v", err)
	}
}

func notFound(err error) bool {
	var nf *ddbtypes.ResourceNotFoundException
	return errors.As(err, &nf)
}

func boolFloat(b bool) any {
	if b {
		return 1.0
	}
	return 0.0
}

func metricsLine(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one EMF line, got %q", out)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &doc); err != nil {
		t.Fatal(err)
	}
	aws := doc["_aws"].(map[string]any)
	directive := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if directive["Namespace"] != drmetrics.RestoreTestNamespace {
		t.Errorf("namespace %v", directive["Namespace"])
	}
	for _, m := range directive["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		dims, listed := drmetrics.Published[drmetrics.RestoreTestNamespace][name]
		if !listed || fmt.Sprint(dims) != fmt.Sprint(directive["Dimensions"].([]any)[0]) {
			t.Errorf("%s with dimensions %v is not in drmetrics.Published (%v)", name, directive["Dimensions"], dims)
		}
	}
	return doc
}

func TestPollingStopsOnlyWhenTheJobEnded(t *testing.T) {
	// RestoreJobStatus in the AWS Backup API reference: PENDING | RUNNING | COMPLETED | ABORTED | FAILED.
	for status, ended := range map[string]bool{"PENDING": false, "RUNNING": false, "COMPLETED": true, "ABORTED": true, "FAILED": true} {
		if got := (restoretest.Job{Status: status}).Done(); got != ended {
			t.Errorf("%s: Done() = %v, want %v", status, got, ended)
		}
	}
}

// A test whose execution ended before Finish (or whose table was still
// CREATING then) leaves its throwaway table; the next test's Start deletes
// such tables once they are older than the longest test, and never the
// aggregates table or a running test's table.
func TestStartSweepsThrowawayTablesLeftBehind(t *testing.T) {
	dynamo := dynalite.Start(t)
	e := newEnv(t, dynamo, 4096)
	e.clock = now.Add(100 * time.Hour) // table names of its own in the shared dynalite
	prefix := restoretest.TablePrefix(names.Prefix)
	leftover := prefix + e.clock.Add(-8*time.Hour).Format("20060102t150405z")
	running := prefix + e.clock.Add(-time.Hour).Format("20060102t150405z")
	for _, name := range []string{leftover, running, names.Table()} {
		e.restored(t, name, aggregatesKeys)
	}
	job, err := e.tester.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(job.Swept) != 1 || job.Swept[0] != leftover {
		t.Errorf("swept %v, want only %s", job.Swept, leftover)
	}
	for name, want := range map[string]bool{leftover: false, running: true, names.Table(): true} {
		out, err := e.ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		// DynamoDB (and dynalite) may still show a deleted table as DELETING.
		if exists := err == nil && out.Table.TableStatus != ddbtypes.TableStatusDeleting; exists != want {
			t.Errorf("table %s exists %v, want %v (%v)", name, exists, want, err)
		}
	}
}
