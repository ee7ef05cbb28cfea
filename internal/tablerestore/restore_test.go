package tablerestore_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/tablerestore"
)

var (
	tokenPattern = regexp.MustCompile(`^dr-restore-[0-9a-f]{32}$`)
	probeLatest  = time.Date(2025, 6, 1, 11, 58, 30, 0, time.UTC)
	restoredTo   = time.Date(2025, 6, 1, 11, 59, 0, 0, time.UTC)
)

func TestCreateRestoresPointInTimeWhenPrimaryAnswers(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	w.dynamo.SetClock(restoredTo)

	_, resp := mustCreate(t, w, properties(nil))

	probes := w.primary.CallsTo("DescribeContinuousBackups")
	if len(probes) != 1 {
		t.Fatalf("primary got %d DescribeContinuousBackups calls, want 1 (calls %v)", len(probes), w.primary.Ops())
	}
	jsonEqual(t, "probe", probes[0].Body, map[string]any{"TableName": sourceArn})
	restores := w.dynamo.CallsTo("RestoreTableToPointInTime")
	if len(restores) != 1 {
		t.Fatalf("backup region got %d restore calls, want 1", len(restores))
	}
	jsonEqual(t, "RestoreTableToPointInTime", restores[0].Body, map[string]any{
		"SourceTableArn":           sourceArn,
		"TargetTableName":          tableName,
		"UseLatestRestorableTime":  true,
		"BillingModeOverride":      "PAY_PER_REQUEST",
		"SSESpecificationOverride": map[string]any{"Enabled": true, "SSEType": "KMS"},
	})
	if n := len(w.backup.CallsTo("StartRestoreJob")); n != 0 {
		t.Errorf("%d AWS Backup restore jobs started on the PITR path", n)
	}
	if resp.PhysicalResourceID != tableName {
		t.Errorf("PhysicalResourceId = %q, want %q", resp.PhysicalResourceID, tableName)
	}
	// The restore summary's time wins over the probe's: it is what DynamoDB restored to.
	assertData(t, resp.Data, map[string]string{
		"TableName": tableName, "TableArn": targetArn, "Source": "pitr", "OriginalSource": "pitr",
		"PointInTime": "2025-06-01T11:59:00Z", "SourceTableArn": sourceArn,
		"RecoveryPointArn": "none", "RestoreJobId": "none", "FailoverStartedAt": "2025-06-01T12:00:05Z",
	})
	assertRecorded(t, w, failoverAt)
}

// vaultWithPoints fills the vault with recovery points around the newest
// completed one, which it returns.
func vaultWithPoints(w *world) awsfake.RecoveryPoint {
	base := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	point := func(id, resource, status string, created time.Time) awsfake.RecoveryPoint {
		return awsfake.RecoveryPoint{
			Arn:         "arn:aws:backup:us-west-2:123456789012:recovery-point:" + id,
			ResourceArn: resource, ResourceType: "DynamoDB", Status: status,
			CreationDate: created, CompletionDate: created.Add(4 * time.Minute),
		}
	}
	newest := point("newest-completed", sourceArn, "COMPLETED", base.Add(2*time.Hour))
	for _, rp := range []awsfake.RecoveryPoint{
		point("old-completed", sourceArn, "COMPLETED", base),
		point("newer-partial", sourceArn, "PARTIAL", base.Add(150*time.Minute)),
		newest,
		point("middle-completed", sourceArn, "COMPLETED", base.Add(time.Hour)),
		point("newest-creating", sourceArn, "CREATING", base.Add(170*time.Minute)),
		point("other-table", "arn:aws:dynamodb:us-east-1:123456789012:table/other", "COMPLETED", base.Add(3*time.Hour)),
	} {
		w.backup.PutRecoveryPoint(vaultName, rp)
	}
	// Two per page, so choosing the newest spans pages.
	w.backup.SetPageSize(2)
	return newest
}

func TestCreateRestoresNewestCompletedRecoveryPointWhenPrimaryIsDown(t *testing.T) {
	cases := []struct {
		name        string
		deadPrimary bool           // the probe's port is closed
		primary     func(w *world) // state of a live primary fake
		logReason   string
	}{
		{name: "primary port closed", deadPrimary: true, logReason: "primary region us-east-1 is unreachable"},
		{name: "primary hangs", primary: func(w *world) {
			w.primaryHasPITR(probeLatest)
			w.primary.Hang()
		}, logReason: "primary region us-east-1 did not answer within 200ms"},
		{name: "primary PITR off", primary: func(w *world) {
			w.primary.PutTable(awsfake.Table{Name: tableName})
		}, logReason: "point-in-time recovery is DISABLED on " + sourceArn},
		{name: "primary refuses", primary: func(w *world) {
			w.primaryHasPITR(probeLatest)
			w.primary.Inject("DescribeContinuousBackups", awsfake.Fault{Code: "AccessDeniedException", Message: "not authorized"})
		}, logReason: "AccessDeniedException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := ""
			if tc.deadPrimary {
				endpoint = awsfake.DeadEndpoint(t)
			}
			w := newWorld(t, endpoint)
			if tc.primary != nil {
				tc.primary(w)
			}
			newest := vaultWithPoints(w)

			_, resp := mustCreate(t, w, properties(nil))

			if n := len(w.dynamo.CallsTo("RestoreTableToPointInTime")); n != 0 {
				t.Errorf("%d point-in-time restores started with the primary down", n)
			}
			lists := w.backup.CallsTo("ListRecoveryPointsByBackupVault")
			if len(lists) < 3 {
				t.Errorf("listed %d pages, want all 3", len(lists))
			}
			for _, l := range lists {
				if l.Path != "/backup-vaults/"+vaultName+"/recovery-points" ||
					l.Query.Get("resourceArn") != sourceArn || l.Query.Get("resourceType") != "DynamoDB" {
					t.Errorf("list request %s?%s does not filter by the source table", l.Path, l.Query.Encode())
				}
			}
			starts := w.backup.CallsTo("StartRestoreJob")
			if len(starts) != 1 {
				t.Fatalf("%d StartRestoreJob calls, want 1", len(starts))
			}
			var start map[string]any
			if err := starts[0].Decode(&start); err != nil {
				t.Fatal(err)
			}
			token, _ := start["IdempotencyToken"].(string)
			if !tokenPattern.MatchString(token) {
				t.Errorf("IdempotencyToken %q is not derived from the failover (want dr-restore- and 32 hex digits, not the request id)", token)
			}
			delete(start, "IdempotencyToken")
			// encryptionType KMS: the AWS managed key, as on the point-in-time path.
			jsonEqual(t, "StartRestoreJob", mustJSON(t, start), map[string]any{
				"RecoveryPointArn": newest.Arn,
				"IamRoleArn":       roleArn,
				"ResourceType":     "DynamoDB",
				"Metadata":         map[string]any{"targetTableName": tableName, "encryptionType": "KMS"},
			})
			if jobs := w.backup.RestoreJobs(); len(jobs) != 1 || jobs[0].Metadata["encryptionType"] != "KMS" {
				t.Errorf("restore jobs %+v, want one with encryptionType KMS", jobs)
			}
			assertData(t, resp.Data, map[string]string{
				"TableName": tableName, "TableArn": targetArn, "Source": "backup", "OriginalSource": "backup",
				"PointInTime": "2025-06-01T11:00:00Z", "RecoveryPointArn": newest.Arn,
				"SourceTableArn": sourceArn, "RestoreJobId": "restore-job-0001", "FailoverStartedAt": "2025-06-01T12:00:05Z",
			})
			assertRecorded(t, w, failoverAt)
			if !strings.Contains(w.logs.String(), tc.logReason) {
				t.Errorf("log does not give the fallback reason %q:\n%s", tc.logReason, w.logs)
			}
		})
	}
}

func TestCreateWithForcedPITRFailsClearlyWhenPrimaryIsDown(t *testing.T) {
	cases := map[string]string{
		"hangs":       "restore table dr-analytics-aggregates with restoreSource=pitr: primary region us-east-1 did not answer within 200ms; deploy with -c restoreSource=backup or auto",
		"port closed": "restore table dr-analytics-aggregates with restoreSource=pitr: primary region us-east-1 is unreachable: ",
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			endpoint := ""
			if name == "port closed" {
				endpoint = awsfake.DeadEndpoint(t)
			}
			w := newWorld(t, endpoint)
			w.primaryHasPITR(probeLatest)
			w.primary.Hang()
			vaultWithPoints(w)

			_, err := w.h.OnEvent(context.Background(), event(cfn.RequestCreate, properties(map[string]any{"Source": "pitr"})))

			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("error = %v\nwant prefix %q", err, want)
			}
			if !strings.HasSuffix(err.Error(), "deploy with -c restoreSource=backup or auto") {
				t.Errorf("error does not say what to do: %v", err)
			}
			assertNoWrites(t, w)
			// Recorded first: it names this failover's restores.
			assertRecorded(t, w, failoverAt)
			// It only looks for a running restore job to follow.
			if ops := w.backup.Ops(); len(ops) != 1 || ops[0] != "ListRestoreJobs" {
				t.Errorf("forced pitr called AWS Backup %v, want only [ListRestoreJobs]", ops)
			}
		})
	}
}

func TestCreateWithForcedBackupNeverAsksPrimary(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	newest := vaultWithPoints(w)

	_, resp := mustCreate(t, w, properties(map[string]any{"Source": "backup"}))

	if ops := w.primary.Ops(); len(ops) != 0 {
		t.Errorf("forced backup called the primary region: %v", ops)
	}
	if resp.Data["Source"] != "backup" || resp.Data["RecoveryPointArn"] != newest.Arn {
		t.Errorf("Data = %v, want a backup restore of %s", resp.Data, newest.Arn)
	}
}

func TestCreateFailsClearlyWithoutCompletedRecoveryPoint(t *testing.T) {
	for _, source := range []string{"auto", "backup"} {
		t.Run(source, func(t *testing.T) {
			w := newWorld(t, awsfake.DeadEndpoint(t))
			w.backup.PutRecoveryPoint(vaultName, awsfake.RecoveryPoint{
				Arn: "arn:aws:backup:us-west-2:123456789012:recovery-point:partial", ResourceArn: sourceArn,
				ResourceType: "DynamoDB", Status: "PARTIAL", CreationDate: probeLatest,
			})

			_, err := w.h.OnEvent(context.Background(), event(cfn.RequestCreate, properties(map[string]any{"Source": source})))

			want := "no completed recovery point for " + sourceArn + " in vault " + vaultName +
				"; check the backup plan copy job in the primary region, or restore from PITR with -c restoreSource=pitr once the primary answers"
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %v\nwant one line containing %q", err, want)
			}
			if source == "auto" && !strings.Contains(err.Error(), "point-in-time restore unavailable (primary region us-east-1 is unreachable") {
				t.Errorf("auto error does not say why PITR was not used: %v", err)
			}
			assertNoWrites(t, w)
			assertRecorded(t, w, failoverAt)
		})
	}
}

func TestCreateAdoptsExistingTableWithoutRestoring(t *testing.T) {
	cases := []struct {
		name  string
		tags  map[string]string
		table awsfake.Table
		want  map[string]string
	}{
		{
			name: "tagged by an earlier restore",
			tags: map[string]string{
				"dr:restore-source": "backup", "dr:restore-point": "2025-05-31T23:00:00Z",
				"dr:recovery-point-arn": "arn:aws:backup:us-west-2:123456789012:recovery-point:earlier",
				"dr:restore-job-id":     "job-earlier", "dr:source-table-arn": sourceArn,
			},
			want: map[string]string{
				"TableName": tableName, "TableArn": targetArn, "Source": "existing", "OriginalSource": "backup",
				"PointInTime": "2025-05-31T23:00:00Z", "RecoveryPointArn": "arn:aws:backup:us-west-2:123456789012:recovery-point:earlier",
				"SourceTableArn": sourceArn, "RestoreJobId": "job-earlier", "FailoverStartedAt": "2025-06-01T12:00:05Z",
			},
		},
		{
			name: "untagged (a drill)",
			want: map[string]string{
				"TableName": tableName, "TableArn": targetArn, "Source": "existing", "OriginalSource": "unknown",
				"PointInTime": "unknown", "RecoveryPointArn": "none", "SourceTableArn": sourceArn, "RestoreJobId": "none",
				"FailoverStartedAt": "2025-06-01T12:00:05Z",
			},
		},
		{
			name:  "restored from PITR by an earlier attempt that did not tag it",
			table: awsfake.Table{RestoredFrom: sourceArn, RestoredTo: restoredTo, Status: "CREATING"},
			want: map[string]string{
				"TableName": tableName, "TableArn": targetArn, "Source": "existing", "OriginalSource": "pitr",
				"PointInTime": "2025-06-01T11:59:00Z", "RecoveryPointArn": "none", "SourceTableArn": sourceArn, "RestoreJobId": "none",
				"FailoverStartedAt": "2025-06-01T12:00:05Z",
			},
		},
		{
			name: "adopted before, by an earlier failover",
			tags: map[string]string{
				"dr:restore-source": "existing", "dr:original-source": "pitr", "dr:restore-point": "2025-05-20T08:00:00Z",
				"dr:source-table-arn": sourceArn,
			},
			want: map[string]string{
				"TableName": tableName, "TableArn": targetArn, "Source": "existing", "OriginalSource": "pitr",
				"PointInTime": "2025-05-20T08:00:00Z", "RecoveryPointArn": "none", "SourceTableArn": sourceArn, "RestoreJobId": "none",
				"FailoverStartedAt": "2025-06-01T12:00:05Z",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, "")
			w.primaryHasPITR(probeLatest)
			vaultWithPoints(w)
			w.dynamo.SetTagPageSize(2)
			table := tc.table
			table.Name, table.Tags = tableName, tc.tags
			w.dynamo.PutTable(table)

			_, resp := mustCreate(t, w, properties(nil))

			assertData(t, resp.Data, tc.want)
			assertNoWrites(t, w)
			assertRecorded(t, w, failoverAt)
			if ops := w.primary.Ops(); len(ops) != 0 {
				t.Errorf("adopting probed the primary: %v", ops)
			}
		})
	}
}

func TestUpdateNeverRestoresAndKeepsDataFromTags(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	w.dynamo.PutTable(awsfake.Table{Name: tableName, PITR: true, DeletionProtection: true, Tags: map[string]string{
		"dr:restore-source": "pitr", "dr:restore-point": "2025-06-01T11:59:00Z", "dr:source-table-arn": sourceArn,
	}})
	w.ssm.PutParameter(awsfake.Parameter{Name: startedParameter, Value: "2025-06-01T11:30:00Z"})
	e := event(cfn.RequestUpdate, properties(map[string]any{"Source": "backup", "TableName": "renamed-table"}))
	e.PhysicalResourceID = tableName
	e.OldResourceProperties = properties(nil)

	resp, err := w.h.OnEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}

	if resp.PhysicalResourceID != tableName {
		t.Errorf("PhysicalResourceId = %q, want the unchanged %q", resp.PhysicalResourceID, tableName)
	}
	assertData(t, resp.Data, map[string]string{
		"TableName": tableName, "TableArn": targetArn, "Source": "pitr", "OriginalSource": "pitr", "PointInTime": "2025-06-01T11:59:00Z",
		"RecoveryPointArn": "none", "SourceTableArn": sourceArn, "RestoreJobId": "none", "FailoverStartedAt": "2025-06-01T11:30:00Z",
	})
	assertNoWrites(t, w)
	if ops := w.ssm.Ops(); !slices.Equal(ops, []string{"GetParameter"}) {
		t.Errorf("Update called SSM %v, want only [GetParameter]", ops)
	}
	if ops := w.primary.Ops(); len(ops) != 0 {
		t.Errorf("Update probed the primary: %v", ops)
	}
	if log := w.logs.String(); !strings.Contains(log, "property changes ignored") || !strings.Contains(log, `"Source","TableName"`) {
		t.Errorf("log does not list the ignored changes:\n%s", log)
	}
}

// runAgain is how every message of a restore that cannot go on ends.
const runAgain = "fix the cause and run the same deploy again: cdk deploy BackupFailoverStack --exclusively --no-rollback --require-approval never"

// An Update that finds the table gone restores it in place (never over a
// table, never twice while a job runs), so running the deploy again after
// a failed restore brings the table back without touching ingest.
func TestUpdateRestoresAVanishedTableInPlace(t *testing.T) {
	update := func(t *testing.T, w *world) (tablerestore.Response, error) {
		t.Helper()
		e := event(cfn.RequestUpdate, properties(nil))
		e.PhysicalResourceID = tableName
		e.OldResourceProperties = properties(nil)
		return w.h.OnEvent(context.Background(), e)
	}

	t.Run("point-in-time restore when the primary answers", func(t *testing.T) {
		w := newWorld(t, "")
		w.primaryHasPITR(probeLatest)
		w.ssm.PutParameter(awsfake.Parameter{Name: startedParameter, Value: "2025-06-01T11:30:00Z"})
		resp, err := update(t, w)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if n := len(w.dynamo.CallsTo("RestoreTableToPointInTime")); n != 1 {
			t.Errorf("%d point-in-time restores, want 1", n)
		}
		if resp.PhysicalResourceID != tableName || resp.Data["Source"] != "pitr" || resp.Data["FailoverStartedAt"] != "2025-06-01T11:30:00Z" {
			t.Errorf("Update answered %+v, want a pitr restore under the recorded failover start", resp)
		}
	})

	t.Run("a restore job of this failover still running is followed", func(t *testing.T) {
		w := newWorld(t, awsfake.DeadEndpoint(t))
		vaultWithPoints(w)
		_, first := mustCreate(t, w, properties(nil)) // job 1, PENDING, no table yet
		w.advance(30 * time.Minute)
		resp, err := update(t, w)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if n := len(w.backup.RestoreJobs()); n != 1 {
			t.Errorf("%d restore jobs, want the first only", n)
		}
		if resp.Data["RestoreJobId"] != first.Data["RestoreJobId"] || resp.Data["Source"] != "backup" ||
			resp.Data["PointInTime"] != first.Data["PointInTime"] || resp.Data["RecoveryPointArn"] != first.Data["RecoveryPointArn"] {
			t.Errorf("Update Data %v, want the running job of %v", resp.Data, first.Data)
		}
	})

	t.Run("nothing to restore from fails with the run-again line", func(t *testing.T) {
		w := newWorld(t, awsfake.DeadEndpoint(t))
		_, err := update(t, w)
		if err == nil || !strings.HasSuffix(err.Error(), runAgain) ||
			!strings.Contains(err.Error(), "the table is gone from us-west-2 and restoring it in place failed") {
			t.Fatalf("error = %v\nwant it to end with %q", err, runAgain)
		}
		assertNoWrites(t, w)
	})
}

func TestDeleteLeavesTableInPlace(t *testing.T) {
	for name, physicalID := range map[string]string{
		"restored table":             tableName,
		"after a failed create":      "AWSCDK::CustomResourceProviderFramework::MISSING_PHYSICAL_ID",
		"with invalid properties":    tableName,
		"with no physical id at all": "",
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, "")
			w.dynamo.PutTable(awsfake.Table{Name: tableName, DeletionProtection: true})
			props := properties(nil)
			if name == "with invalid properties" {
				props = properties(map[string]any{"Source": "bogus", "SourceTableArn": "nope"})
			}
			e := event(cfn.RequestDelete, props)
			e.PhysicalResourceID = physicalID

			resp, err := w.h.OnEvent(context.Background(), e)

			if err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if resp.PhysicalResourceID != physicalID {
				t.Errorf("PhysicalResourceId = %q, want the unchanged %q", resp.PhysicalResourceID, physicalID)
			}
			for _, s := range []interface{ Ops() []string }{w.primary, w.dynamo, w.backup, w.ssm} {
				if ops := s.Ops(); len(ops) != 0 {
					t.Errorf("Delete made AWS calls: %v", ops)
				}
			}
			if _, ok := w.dynamo.Table(tableName); !ok {
				t.Error("the table is gone after Delete")
			}
		})
	}
}
