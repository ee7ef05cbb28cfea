package tablerestore_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/customresource"
	"github.com/dr-analytics/drplan/internal/tablerestore"
)

// readyData is the ready resource's Data once it stops waiting.
func readyData(arn, status string) map[string]string {
	return map[string]string{"TableName": tableName, "TableArn": arn, "Status": status, "WaitStartedAt": "2025-06-01T12:00:05Z"}
}

func TestReadyCreateStartsTheWaitWithoutCalls(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	_, start := mustCreate(t, w, properties(nil))
	before := len(w.dynamo.Calls()) + len(w.backup.Calls()) + len(w.ssm.Calls()) + len(w.primary.Calls())

	resp, err := w.h.OnEvent(context.Background(), readyEvent(cfn.RequestCreate, readyProperties(start, nil)))

	if err != nil {
		t.Fatalf("ready Create: %v", err)
	}
	if resp.PhysicalResourceID != readyPhysID {
		t.Errorf("PhysicalResourceId = %q, want %q", resp.PhysicalResourceID, readyPhysID)
	}
	assertData(t, resp.Data, readyData("none", "RESTORING"))
	if after := len(w.dynamo.Calls()) + len(w.backup.Calls()) + len(w.ssm.Calls()) + len(w.primary.Calls()); after != before {
		t.Errorf("ready onEvent Create made %d AWS calls, want none", after-before)
	}
}

func TestReadyWaitsForActiveThenProtectsAndTagsTable(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	w.dynamo.SetClock(restoredTo)
	w.dynamo.SetTagPageSize(3)
	_, poll := mustWait(t, w, properties(nil), nil)
	ctx := context.Background()

	got, err := w.h.IsComplete(ctx, poll)
	if err != nil || got.IsComplete {
		t.Fatalf("while CREATING: IsComplete = %v, err = %v; want false, nil", got.IsComplete, err)
	}

	w.advance(20 * time.Minute)
	w.dynamo.SetTableStatus(tableName, "ACTIVE")
	got, err = w.h.IsComplete(ctx, poll)
	if err != nil || !got.IsComplete {
		t.Fatalf("once ACTIVE: IsComplete = %v, err = %v; want true, nil", got.IsComplete, err)
	}
	assertData(t, got.Data, readyData(targetArn, "ACTIVE"))

	table, _ := w.dynamo.Table(tableName)
	if !table.PITR {
		t.Error("point-in-time recovery is off on the restored table")
	}
	if !table.DeletionProtection {
		t.Error("deletion protection is off on the restored table")
	}
	wantTags := map[string]string{
		"team": "analytics", "env": "dr",
		"dr:restore-source": "pitr", "dr:restore-point": "2025-06-01T11:59:00Z",
		"dr:restored-by": "BackupFailoverStack", "dr:source-table-arn": sourceArn, "dr:original-source": "pitr",
	}
	if !maps.Equal(table.Tags, wantTags) {
		t.Errorf("tags:\n got %v\nwant %v", table.Tags, wantTags)
	}

	t.Run("a second poll changes nothing", func(t *testing.T) {
		before := len(w.dynamo.Calls())
		got, err := w.h.IsComplete(ctx, poll)
		if err != nil || !got.IsComplete {
			t.Fatalf("IsComplete = %v, err = %v", got.IsComplete, err)
		}
		for _, c := range w.dynamo.Calls()[before:] {
			if !strings.HasPrefix(c.Op, "Describe") && !strings.HasPrefix(c.Op, "List") {
				t.Errorf("repeated poll called %s", c.Op)
			}
		}
	})
}

func TestReadyRetriesWhileDynamoDBDefersPITR(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	_, poll := mustWait(t, w, properties(nil), nil)
	w.dynamo.SetTableStatus(tableName, "ACTIVE")
	w.dynamo.Inject("UpdateContinuousBackups", awsfake.Fault{Code: "ContinuousBackupsUnavailableException", Message: "Backups are being enabled for the table", Times: 1})

	got, err := w.h.IsComplete(context.Background(), poll)
	if err != nil || got.IsComplete {
		t.Fatalf("first poll: IsComplete = %v, err = %v; want false, nil", got.IsComplete, err)
	}
	got, err = w.h.IsComplete(context.Background(), poll)
	if err != nil || !got.IsComplete {
		t.Fatalf("second poll: IsComplete = %v, err = %v; want true, nil", got.IsComplete, err)
	}
	if table, _ := w.dynamo.Table(tableName); !table.PITR {
		t.Error("point-in-time recovery still off")
	}
}

func TestReadyFollowsBackupRestoreJob(t *testing.T) {
	cases := []struct {
		status, message string
		tableStatus     string // "" means the table does not exist yet
		wantJobs        int    // restore jobs after the poll: 2 when the failed one was replaced in place
	}{
		{status: "PENDING", wantJobs: 1},
		{status: "RUNNING", wantJobs: 1},
		{status: "RUNNING", tableStatus: "CREATING", wantJobs: 1},
		{status: "FAILED", message: "Access denied to KMS key", wantJobs: 2},
		// The table of an aborted job is still there: wait for DynamoDB to
		// remove it rather than restore next to it.
		{status: "ABORTED", message: "Stopped by user", tableStatus: "CREATING", wantJobs: 1},
		{status: "COMPLETED", wantJobs: 2},
	}
	for _, tc := range cases {
		t.Run(tc.status+"/"+tc.tableStatus, func(t *testing.T) {
			w := newWorld(t, awsfake.DeadEndpoint(t))
			vaultWithPoints(w)
			start, poll := mustWait(t, w, properties(map[string]any{"Source": "backup"}), nil)
			w.advance(time.Minute)
			w.backup.SetRestoreJobStatus(start.Data["RestoreJobId"], tc.status, tc.message)
			if tc.tableStatus != "" {
				w.dynamo.PutTable(awsfake.Table{Name: tableName, Status: tc.tableStatus})
			}

			got, err := w.h.IsComplete(context.Background(), poll)

			if err != nil || got.IsComplete {
				t.Fatalf("IsComplete = %v, err = %v; want false, nil", got.IsComplete, err)
			}
			if jobs := w.backup.RestoreJobs(); len(jobs) != tc.wantJobs {
				t.Errorf("%d restore jobs, want %d", len(jobs), tc.wantJobs)
			}
		})
	}

	t.Run("restored table becomes ready", func(t *testing.T) {
		w := newWorld(t, awsfake.DeadEndpoint(t))
		vaultWithPoints(w)
		start, poll := mustWait(t, w, properties(nil), nil)
		w.backup.SetRestoreJobStatus(start.Data["RestoreJobId"], "COMPLETED", "")
		w.dynamo.PutTable(awsfake.Table{Name: tableName})

		got, err := w.h.IsComplete(context.Background(), poll)
		if err != nil || !got.IsComplete {
			t.Fatalf("IsComplete = %v, err = %v; want true, nil", got.IsComplete, err)
		}
		assertData(t, got.Data, readyData(targetArn, "ACTIVE"))
		table, _ := w.dynamo.Table(tableName)
		if table.Tags["dr:restore-source"] != "backup" || table.Tags["dr:recovery-point-arn"] != start.Data["RecoveryPointArn"] ||
			table.Tags["dr:restore-job-id"] != "restore-job-0001" || table.Tags["dr:restore-point"] != start.Data["PointInTime"] {
			t.Errorf("tags do not record the backup restore: %v", table.Tags)
		}
	})
}

// A failed restore is repaired in place, never by touching the ingest
// path: the failed point-in-time restore falls back to the vault, a failed
// backup job is replaced once, and the resource waits for the new job.
func TestReadyRestoresInPlaceWhenTheRestoreFails(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(t *testing.T) (*world, tablerestore.CompletionEvent)
		reason string // the log's reason for the restore in place
	}{
		{name: "point-in-time restore vanished", reason: "the point-in-time restore failed: DynamoDB removed the table it was creating",
			setup: func(t *testing.T) (*world, tablerestore.CompletionEvent) {
				w := newWorld(t, "")
				w.primaryHasPITR(probeLatest)
				vaultWithPoints(w)
				_, poll := mustWait(t, w, properties(nil), nil)
				w.dynamo.RemoveTable(tableName)
				return w, poll
			}},
		{name: "adopted table vanished", reason: "the table (source existing) is gone and no restore job is running",
			setup: func(t *testing.T) (*world, tablerestore.CompletionEvent) {
				w := newWorld(t, "")
				vaultWithPoints(w)
				w.dynamo.PutTable(awsfake.Table{Name: tableName, Status: "CREATING"})
				_, poll := mustWait(t, w, properties(nil), nil)
				w.dynamo.RemoveTable(tableName)
				return w, poll
			}},
		{name: "backup job failed", reason: "AWS Backup restore job restore-job-0001 FAILED: Access denied to KMS key",
			setup: func(t *testing.T) (*world, tablerestore.CompletionEvent) {
				return waitOnBackupJob(t, "FAILED", "Access denied to KMS key")
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, poll := tc.setup(t)
			ctx := context.Background()
			before := len(w.backup.RestoreJobs())
			w.advance(time.Minute)

			got, err := w.h.IsComplete(ctx, poll)

			if err != nil || got.IsComplete {
				t.Fatalf("IsComplete = %+v, %v; want the wait to go on", got, err)
			}
			jobs := w.backup.RestoreJobs()
			if len(jobs) != before+1 {
				t.Fatalf("%d restore jobs after the poll, want %d", len(jobs), before+1)
			}
			job := jobs[len(jobs)-1]
			if job.RecoveryPointArn != "arn:aws:backup:us-west-2:123456789012:recovery-point:newest-completed" ||
				job.Metadata["targetTableName"] != tableName || job.Metadata["encryptionType"] != "KMS" || job.IamRoleArn != roleArn {
				t.Errorf("restore in place started %+v, want the newest completed recovery point into %s, KMS", job, tableName)
			}
			if log := w.logs.String(); !strings.Contains(log, "restore failed; restoring in place from the backup vault") || !strings.Contains(log, tc.reason) {
				t.Errorf("log does not give the reason %q:\n%s", tc.reason, log)
			}

			// The next poll follows the new job instead of starting another.
			if got, err := w.h.IsComplete(ctx, poll); err != nil || got.IsComplete {
				t.Fatalf("next poll: IsComplete = %+v, %v", got, err)
			}
			if n := len(w.backup.RestoreJobs()); n != before+1 {
				t.Errorf("%d restore jobs after a second poll, want still %d", n, before+1)
			}

			// The new job restores the table: the ready resource finishes
			// and the tags name the job that made it.
			w.backup.SetRestoreJobStatus(job.ID, "COMPLETED", "")
			w.dynamo.PutTable(awsfake.Table{Name: tableName})
			got, err = w.h.IsComplete(ctx, poll)
			if err != nil || !got.IsComplete || got.Data["Status"] != "ACTIVE" {
				t.Fatalf("once restored: IsComplete = %+v, %v", got, err)
			}
			table, _ := w.dynamo.Table(tableName)
			if table.Tags["dr:restore-source"] != "backup" || table.Tags["dr:restore-job-id"] != job.ID ||
				table.Tags["dr:recovery-point-arn"] != job.RecoveryPointArn || table.Tags["dr:restore-point"] != "2025-06-01T11:00:00Z" {
				t.Errorf("tags %v do not name restore job %s", table.Tags, job.ID)
			}
		})
	}

	t.Run("a table being deleted is waited for, then restored in place", func(t *testing.T) {
		w := newWorld(t, "")
		w.primaryHasPITR(probeLatest)
		vaultWithPoints(w)
		_, poll := mustWait(t, w, properties(nil), nil)
		w.dynamo.SetTableStatus(tableName, "DELETING")
		ctx := context.Background()
		if got, err := w.h.IsComplete(ctx, poll); err != nil || got.IsComplete {
			t.Fatalf("while DELETING: IsComplete = %+v, %v; want to wait", got, err)
		}
		if n := len(w.backup.RestoreJobs()); n != 0 {
			t.Fatalf("%d restore jobs next to a table still DELETING", n)
		}
		w.dynamo.RemoveTable(tableName)
		if got, err := w.h.IsComplete(ctx, poll); err != nil || got.IsComplete {
			t.Fatalf("once gone: IsComplete = %+v, %v; want to wait for the restore in place", got, err)
		}
		if n := len(w.backup.RestoreJobs()); n != 1 {
			t.Errorf("%d restore jobs once the table is gone, want 1", n)
		}
	})
}

// A replacement that fails too is not replaced again in the same wait: the
// resource fails with the line that says to run the same deploy again, and
// that deploy (a new wait) tries once more.
func TestReadyRetriesAFailedJobOnceThenFailsWithTheRunAgainLine(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) (*world, tablerestore.CompletionEvent)
	}{
		{name: "backup job", setup: func(t *testing.T) (*world, tablerestore.CompletionEvent) {
			return waitOnBackupJob(t, "FAILED", "Access denied to KMS key")
		}},
		{name: "vault fallback of a point-in-time restore", setup: func(t *testing.T) (*world, tablerestore.CompletionEvent) {
			w := newWorld(t, "")
			w.primaryHasPITR(probeLatest)
			vaultWithPoints(w)
			_, poll := mustWait(t, w, properties(nil), nil)
			w.dynamo.RemoveTable(tableName)
			w.advance(time.Minute)
			if got, err := w.h.IsComplete(context.Background(), poll); err != nil || got.IsComplete {
				t.Fatalf("fallback poll: %+v, %v", got, err)
			}
			jobs := w.backup.RestoreJobs()
			w.backup.SetRestoreJobStatus(jobs[len(jobs)-1].ID, "FAILED", "Access denied to KMS key")
			return w, poll
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, poll := tc.setup(t)
			ctx := context.Background()
			w.advance(time.Minute)
			if got, err := w.h.IsComplete(ctx, poll); err != nil || got.IsComplete {
				t.Fatalf("first failure: IsComplete = %+v, %v; want a replacement job and the wait to go on", got, err)
			}
			jobs := w.backup.RestoreJobs()
			replacement := jobs[len(jobs)-1]
			if replacement.Status != "PENDING" || replacement.IdempotencyToken == jobs[len(jobs)-2].IdempotencyToken {
				t.Fatalf("replacement %+v is not a fresh job", replacement)
			}
			w.advance(time.Minute)
			w.backup.SetRestoreJobStatus(replacement.ID, "FAILED", "Access denied to KMS key again")

			_, err := w.h.IsComplete(ctx, poll)

			if err == nil {
				t.Fatal("no error after the replacement failed too")
			}
			msg := err.Error()
			for _, want := range []string{"restore table " + tableName + ": AWS Backup restore job " + replacement.ID + " FAILED: Access denied to KMS key again",
				"after it was already restored again in place once", "ingest keeps running without the table"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q\ndoes not contain %q", msg, want)
				}
			}
			if !strings.HasSuffix(msg, runAgain) || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q is not one line ending in %q", msg, runAgain)
			}
			if n := len(w.backup.RestoreJobs()); n != len(jobs) {
				t.Errorf("%d restore jobs, want no third in the same wait", n)
			}

			// The same deploy again retries the failed ready resource: a new
			// wait, which restores in place once more.
			w.advance(10 * time.Minute)
			e := readyEvent(cfn.RequestCreate, poll.ResourceProperties)
			resp, err := w.h.OnEvent(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := w.h.IsComplete(ctx, customresource.Completion(e, resp)); err != nil || got.IsComplete {
				t.Fatalf("deploy again: IsComplete = %+v, %v; want a new job and the wait to go on", got, err)
			}
			if n := len(w.backup.RestoreJobs()); n != len(jobs)+1 {
				t.Errorf("%d restore jobs after the deploy again, want %d", n, len(jobs)+1)
			}
		})
	}
}

// When there is nothing to restore from in place the resource fails with
// the run-again line; it never says to destroy the stack.
func TestReadyFailsWithTheRunAgainLineWhenNothingCanRestore(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) (*world, tablerestore.CompletionEvent)
		want  string
	}{
		{name: "point-in-time restore vanished, vault empty",
			want: "restore table " + tableName + ": the point-in-time restore failed: DynamoDB removed the table it was creating, and restoring it in place from vault " + vaultName + " failed: no completed recovery point",
			setup: func(t *testing.T) (*world, tablerestore.CompletionEvent) {
				w := newWorld(t, "")
				w.primaryHasPITR(probeLatest)
				_, poll := mustWait(t, w, properties(nil), nil)
				w.dynamo.RemoveTable(tableName)
				return w, poll
			}},
		{name: "point-in-time restore vanished, no vault (restoreSource=pitr)",
			want: "the point-in-time restore failed: DynamoDB removed the table it was creating, and there is no backup vault to restore from in place (VaultName is empty)",
			setup: func(t *testing.T) (*world, tablerestore.CompletionEvent) {
				w := newWorld(t, "")
				w.primaryHasPITR(probeLatest)
				_, poll := mustWait(t, w, properties(map[string]any{"Source": "pitr"}), map[string]any{"VaultName": "", "RestoreRoleArn": ""})
				w.dynamo.RemoveTable(tableName)
				return w, poll
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, poll := tc.setup(t)
			w.advance(time.Hour) // past the wait: still a failure, not RESTORING

			got, err := w.h.IsComplete(context.Background(), poll)

			if err == nil {
				t.Fatalf("IsComplete = %+v, want an error", got)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.HasSuffix(msg, runAgain) {
				t.Errorf("error %q\nwant it to contain %q and end with %q", msg, tc.want, runAgain)
			}
		})
	}
}

// A restore slower than WaitMinutes completes the resource as RESTORING,
// so a working failover is not rolled back; the table is left for the
// operator to protect once ACTIVE.
func TestReadyStopsWaitingAfterWaitMinutesWithStatusRestoring(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) (*world, tablerestore.CompletionEvent)
		arn   string
	}{
		{name: "point-in-time restore still CREATING", arn: targetArn,
			setup: func(t *testing.T) (*world, tablerestore.CompletionEvent) {
				w := newWorld(t, "")
				w.primaryHasPITR(probeLatest)
				_, poll := mustWait(t, w, properties(nil), nil)
				return w, poll
			}},
		{name: "backup restore job running, no table yet", arn: "none",
			setup: func(t *testing.T) (*world, tablerestore.CompletionEvent) {
				return waitOnBackupJob(t, "RUNNING", "")
			}},
		{name: "backup restore table CREATING", arn: targetArn,
			setup: func(t *testing.T) (*world, tablerestore.CompletionEvent) {
				w := newWorld(t, awsfake.DeadEndpoint(t))
				vaultWithPoints(w)
				start, poll := mustWait(t, w, properties(nil), nil)
				w.backup.SetRestoreJobStatus(start.Data["RestoreJobId"], "RUNNING", "")
				w.dynamo.PutTable(awsfake.Table{Name: tableName, Status: "CREATING"})
				return w, poll
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, poll := tc.setup(t)
			ctx := context.Background()

			w.advance(50*time.Minute - time.Second)
			got, err := w.h.IsComplete(ctx, poll)
			if err != nil || got.IsComplete {
				t.Fatalf("within the wait: IsComplete = %v, err = %v; want false, nil", got.IsComplete, err)
			}
			if strings.Contains(w.logs.String(), "past the wait") {
				t.Errorf("gave up within the wait:\n%s", w.logs)
			}

			w.advance(2 * time.Second)
			got, err = w.h.IsComplete(ctx, poll)
			if err != nil || !got.IsComplete {
				t.Fatalf("past the wait: IsComplete = %v, err = %v; want true, nil", got.IsComplete, err)
			}
			assertData(t, got.Data, readyData(tc.arn, "RESTORING"))
			log := w.logs.String()
			for _, want := range []string{`"level":"WARN","msg":"the restore continues past the wait`,
				"turn on point-in-time recovery and deletion protection", "drctl status"} {
				if !strings.Contains(log, want) {
					t.Errorf("log does not contain %q:\n%s", want, log)
				}
			}
			for _, op := range w.dynamo.Ops() {
				if !strings.HasPrefix(op, "Describe") && op != "RestoreTableToPointInTime" {
					t.Errorf("the timed-out wait called %s", op)
				}
			}
		})
	}

	t.Run("WaitMinutes sets the wait", func(t *testing.T) {
		w := newWorld(t, "")
		w.primaryHasPITR(probeLatest)
		_, poll := mustWait(t, w, properties(nil), map[string]any{"WaitMinutes": "5"})
		w.advance(5*time.Minute + time.Second)
		got, err := w.h.IsComplete(context.Background(), poll)
		if err != nil || !got.IsComplete || got.Data["Status"] != "RESTORING" {
			t.Fatalf("IsComplete = %+v, err = %v; want RESTORING after 5 minutes", got, err)
		}
	})
}

func TestReadyUpdateReportsTheTableAndChangesNothing(t *testing.T) {
	cases := []struct {
		name       string
		table      awsfake.Table
		wantStatus string
	}{
		{name: "protected", table: awsfake.Table{PITR: true, DeletionProtection: true}, wantStatus: "ACTIVE"},
		{name: "still restoring", table: awsfake.Table{Status: "CREATING"}, wantStatus: "RESTORING"},
		{name: "active without PITR", table: awsfake.Table{DeletionProtection: true}, wantStatus: "RESTORING"},
		{name: "active without deletion protection", table: awsfake.Table{PITR: true}, wantStatus: "RESTORING"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, "")
			table := tc.table
			table.Name = tableName
			w.dynamo.PutTable(table)
			start := tablerestore.Response{Data: map[string]string{"TableName": tableName, "Source": "pitr", "PointInTime": "2025-06-01T11:59:00Z",
				"RestoreJobId": "none", "RecoveryPointArn": "none", "SourceTableArn": sourceArn}}
			e := readyEvent(cfn.RequestUpdate, readyProperties(start, map[string]any{"WaitMinutes": "30"}))
			e.PhysicalResourceID = readyPhysID
			e.OldResourceProperties = readyProperties(start, nil)

			resp, err := w.h.OnEvent(context.Background(), e)

			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if resp.PhysicalResourceID != readyPhysID {
				t.Errorf("PhysicalResourceId = %q, want %q", resp.PhysicalResourceID, readyPhysID)
			}
			assertData(t, resp.Data, readyData(targetArn, tc.wantStatus))
			assertNoWrites(t, w)
			if after, _ := w.dynamo.Table(tableName); after.PITR != tc.table.PITR || after.DeletionProtection != tc.table.DeletionProtection || len(after.Tags) != 0 {
				t.Errorf("Update changed the table: %+v", after)
			}
		})
	}

	t.Run("isComplete of the Update finishes an unprotected table", func(t *testing.T) {
		w := newWorld(t, "")
		w.dynamo.PutTable(awsfake.Table{Name: tableName, Tags: map[string]string{"dr:restore-source": "pitr"}})
		start := tablerestore.Response{Data: map[string]string{"TableName": tableName, "Source": "pitr", "PointInTime": "2025-06-01T11:59:00Z"}}
		e := readyEvent(cfn.RequestUpdate, readyProperties(start, nil))
		e.PhysicalResourceID = readyPhysID
		resp, err := w.h.OnEvent(context.Background(), e)
		if err != nil || resp.Data["Status"] != "RESTORING" {
			t.Fatalf("Update = %+v, %v; want Status RESTORING", resp, err)
		}
		got, err := w.h.IsComplete(context.Background(), customresource.Completion(e, resp))
		if err != nil || !got.IsComplete || got.Data["Status"] != "ACTIVE" {
			t.Fatalf("isComplete of the Update = %+v, %v; want ACTIVE", got, err)
		}
		if table, _ := w.dynamo.Table(tableName); !table.PITR || !table.DeletionProtection {
			t.Errorf("table %+v not protected", table)
		}
	})

	t.Run("a vanished table is waited for while the start resource restores it in place", func(t *testing.T) {
		w := newWorld(t, awsfake.DeadEndpoint(t))
		vaultWithPoints(w)
		// The start resource's Update started job 1 for the vanished table.
		w.backup.PutRestoreJob(awsfake.RestoreJob{ID: "restore-job-0001", Status: "PENDING", ResourceType: "DynamoDB",
			RecoveryPointArn: "arn:aws:backup:us-west-2:123456789012:recovery-point:newest-completed", SourceResourceArn: sourceArn,
			Metadata: map[string]string{"targetTableName": tableName}, CreationDate: failoverAt.Add(time.Hour)})
		w.advance(time.Hour)
		start := tablerestore.Response{Data: map[string]string{"TableName": tableName, "Source": "backup", "RestoreJobId": "restore-job-0001"}}
		e := readyEvent(cfn.RequestUpdate, readyProperties(start, nil))
		e.PhysicalResourceID = readyPhysID
		resp, err := w.h.OnEvent(context.Background(), e)
		if err != nil || resp.Data["Status"] != "RESTORING" || resp.Data["TableArn"] != "none" {
			t.Fatalf("Update = %+v, %v; want Status RESTORING", resp, err)
		}
		got, err := w.h.IsComplete(context.Background(), customresource.Completion(e, resp))
		if err != nil || got.IsComplete {
			t.Fatalf("isComplete of the Update = %+v, %v; want to wait for the job", got, err)
		}
		assertNoWrites(t, w)
	})
}

func TestReadyDeleteDoesNothing(t *testing.T) {
	for name, props := range map[string]map[string]any{
		"valid properties":   readyProperties(tablerestore.Response{Data: map[string]string{"TableName": tableName, "Source": "pitr"}}, nil),
		"invalid properties": {"TableName": "x", "WaitMinutes": "never"},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, "")
			w.dynamo.PutTable(awsfake.Table{Name: tableName})
			e := readyEvent(cfn.RequestDelete, props)
			e.PhysicalResourceID = readyPhysID

			resp, err := w.h.OnEvent(context.Background(), e)

			if err != nil || resp.PhysicalResourceID != readyPhysID {
				t.Fatalf("Delete = %+v, %v; want success keeping %s", resp, err, readyPhysID)
			}
			for _, s := range []interface{ Ops() []string }{w.primary, w.dynamo, w.backup, w.ssm} {
				if ops := s.Ops(); len(ops) != 0 {
					t.Errorf("Delete made AWS calls: %v", ops)
				}
			}
		})
	}
}

func TestIsCompleteIsImmediateForUpdateAndDelete(t *testing.T) {
	for _, resourceType := range []string{"Custom::TableRestore", "Custom::TableRestoreReady"} {
		for _, rt := range []cfn.RequestType{cfn.RequestUpdate, cfn.RequestDelete} {
			t.Run(resourceType+"/"+string(rt), func(t *testing.T) {
				w := newWorld(t, "")
				e := event(rt, properties(nil))
				e.ResourceType = resourceType
				e.PhysicalResourceID = tableName
				got, err := w.h.IsComplete(context.Background(), tablerestore.CompletionEvent{Event: e})
				if err != nil || !got.IsComplete {
					t.Fatalf("IsComplete = %v, err = %v; want true, nil", got.IsComplete, err)
				}
				if ops := w.dynamo.Ops(); len(ops) != 0 {
					t.Errorf("%s isComplete made calls: %v", rt, ops)
				}
			})
		}
	}
}

func TestDispatchRejectsUnknownResourceTypes(t *testing.T) {
	ctx := context.Background()
	want := `table restore AggregatesTable: ResourceType "Custom::TableRestorer" is neither Custom::TableRestore (start the restore) nor Custom::TableRestoreReady (wait for it)`
	for _, rt := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate} {
		t.Run("onEvent "+string(rt), func(t *testing.T) {
			w := newWorld(t, "")
			e := event(rt, properties(nil))
			e.ResourceType = "Custom::TableRestorer"
			_, err := w.h.OnEvent(ctx, e)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error = %v\nwant it to contain %q", err, want)
			}
			assertNoWrites(t, w)
		})
	}
	t.Run("isComplete Create", func(t *testing.T) {
		w := newWorld(t, "")
		e := event(cfn.RequestCreate, properties(nil))
		e.ResourceType = "Custom::TableRestorer"
		_, err := w.h.IsComplete(ctx, tablerestore.CompletionEvent{Event: e})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v\nwant it to contain %q", err, want)
		}
	})
	t.Run("onEvent Delete succeeds: neither resource deletes anything", func(t *testing.T) {
		w := newWorld(t, "")
		e := event(cfn.RequestDelete, properties(nil))
		e.ResourceType, e.PhysicalResourceID = "", tableName
		resp, err := w.h.OnEvent(ctx, e)
		if err != nil || resp.PhysicalResourceID != tableName {
			t.Errorf("Delete = %+v, %v; want success keeping %s", resp, err, tableName)
		}
		if _, ok := w.dynamo.Table(tableName); ok {
			t.Error("a table appeared")
		}
		if !strings.Contains(w.logs.String(), "delete of an unknown resource type") {
			t.Errorf("no warning logged:\n%s", w.logs)
		}
	})
}

// The framework sends JSON; Dispatch must read its field names and answer
// with the keys it reads back, for both resources.
func TestDispatchSpeaksTheProviderFrameworkJSON(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	ctx := context.Background()
	onEventJSON := `{"RequestType":"Create","RequestId":"6e2c7e0a-request","LogicalResourceId":"AggregatesTable",
		"StackId":"arn:aws:cloudformation:us-west-2:123456789012:stack/BackupFailoverStack/guid","ResourceType":"Custom::TableRestore",
		"ResourceProperties":{"ServiceToken":"arn:x","TableName":"dr-analytics-aggregates","SourceTableArn":"` + sourceArn + `",
		"SourceRegion":"us-east-1","VaultName":"dr-analytics-vault","RestoreRoleArn":"` + roleArn + `","Source":"auto",
		"ProbeTimeoutSeconds":"5","FailoverStartedParameter":"` + startedParameter + `"}}`
	var e tablerestore.CompletionEvent
	if err := json.Unmarshal([]byte(onEventJSON), &e); err != nil {
		t.Fatal(err)
	}
	out, err := w.h.Dispatch("onEvent")(ctx, e)
	if err != nil {
		t.Fatalf("onEvent: %v", err)
	}
	raw, _ := json.Marshal(out)
	var onEvent struct {
		PhysicalResourceId string
		Data               map[string]any
	}
	if err := json.Unmarshal(raw, &onEvent); err != nil || onEvent.PhysicalResourceId != tableName || onEvent.Data["Source"] != "pitr" ||
		onEvent.Data["FailoverStartedAt"] != "2025-06-01T12:00:05Z" {
		t.Fatalf("onEvent answered %s", raw)
	}

	// The ready resource takes the start resource's attributes.
	readyJSON := `{"RequestType":"Create","RequestId":"7f3d-request","LogicalResourceId":"AggregatesTableReady",
		"StackId":"arn:aws:cloudformation:us-west-2:123456789012:stack/BackupFailoverStack/guid","ResourceType":"Custom::TableRestoreReady",
		"ResourceProperties":{"ServiceToken":"arn:x","TableName":"dr-analytics-aggregates","Source":"pitr",
		"PointInTime":"2025-06-01T12:00:00Z","RestoreJobId":"none","RecoveryPointArn":"none","SourceTableArn":"` + sourceArn + `",
		"FailoverStartedAt":"2025-06-01T12:00:05Z","VaultName":"` + vaultName + `","RestoreRoleArn":"` + roleArn + `",
		"Tags":{"team":"analytics"},"WaitMinutes":"50"}}`
	if err := json.Unmarshal([]byte(readyJSON), &e); err != nil {
		t.Fatal(err)
	}
	out, err = w.h.Dispatch("onEvent")(ctx, e)
	if err != nil {
		t.Fatalf("ready onEvent: %v", err)
	}
	raw, _ = json.Marshal(out)
	if err := json.Unmarshal(raw, &onEvent); err != nil || onEvent.PhysicalResourceId != readyPhysID || onEvent.Data["WaitStartedAt"] != "2025-06-01T12:00:05Z" {
		t.Fatalf("ready onEvent answered %s", raw)
	}

	// isComplete gets the event with the onEvent answer merged in.
	var merged map[string]any
	_ = json.Unmarshal([]byte(readyJSON), &merged)
	merged["PhysicalResourceId"] = onEvent.PhysicalResourceId
	merged["Data"] = onEvent.Data
	mergedJSON, _ := json.Marshal(merged)
	var poll tablerestore.CompletionEvent
	if err := json.Unmarshal(mergedJSON, &poll); err != nil {
		t.Fatal(err)
	}
	w.dynamo.SetTableStatus(tableName, "ACTIVE")
	out, err = w.h.Dispatch("isComplete")(ctx, poll)
	if err != nil {
		t.Fatalf("isComplete: %v", err)
	}
	raw, _ = json.Marshal(out)
	var isComplete map[string]any
	_ = json.Unmarshal(raw, &isComplete)
	data, _ := isComplete["Data"].(map[string]any)
	if isComplete["IsComplete"] != true || data["TableArn"] != targetArn || data["Status"] != "ACTIVE" {
		t.Errorf("isComplete answered %s", raw)
	}

	_, err = w.h.Dispatch("onCreate")(ctx, e)
	if err == nil || !strings.Contains(err.Error(), `HANDLER is "onCreate": set it to onEvent or isComplete`) {
		t.Errorf("unknown mode: error = %v", err)
	}
}
