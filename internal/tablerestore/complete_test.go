package tablerestore_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/tablerestore"
)

func TestIsCompleteWaitsForActiveThenProtectsAndTagsTable(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	w.dynamo.SetClock(restoredTo)
	w.dynamo.SetTagPageSize(3)
	e, resp := mustCreate(t, w, properties(nil))
	poll := completion(e, resp)
	ctx := context.Background()

	got, err := w.h.IsComplete(ctx, poll)
	if err != nil || got.IsComplete {
		t.Fatalf("while CREATING: IsComplete = %v, err = %v; want false, nil", got.IsComplete, err)
	}

	w.dynamo.SetTableStatus(tableName, "ACTIVE")
	got, err = w.h.IsComplete(ctx, poll)
	if err != nil || !got.IsComplete {
		t.Fatalf("once ACTIVE: IsComplete = %v, err = %v; want true, nil", got.IsComplete, err)
	}
	assertData(t, got.Data, resp.Data)

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
		"dr:restored-by": "BackupFailoverStack", "dr:source-table-arn": sourceArn,
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

func TestIsCompleteRetriesWhileDynamoDBDefersPITR(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	e, resp := mustCreate(t, w, properties(nil))
	w.dynamo.SetTableStatus(tableName, "ACTIVE")
	w.dynamo.Inject("UpdateContinuousBackups", awsfake.Fault{Code: "ContinuousBackupsUnavailableException", Message: "Backups are being enabled for the table", Times: 1})

	got, err := w.h.IsComplete(context.Background(), completion(e, resp))
	if err != nil || got.IsComplete {
		t.Fatalf("first poll: IsComplete = %v, err = %v; want false, nil", got.IsComplete, err)
	}
	got, err = w.h.IsComplete(context.Background(), completion(e, resp))
	if err != nil || !got.IsComplete {
		t.Fatalf("second poll: IsComplete = %v, err = %v; want true, nil", got.IsComplete, err)
	}
	if table, _ := w.dynamo.Table(tableName); !table.PITR {
		t.Error("point-in-time recovery still off")
	}
}

func TestIsCompleteFollowsBackupRestoreJob(t *testing.T) {
	cases := []struct {
		status, message string
		tableStatus     string // "" means the table does not exist yet
		wantErr         string // "" means not complete, no error
	}{
		{status: "PENDING"},
		{status: "RUNNING"},
		{status: "RUNNING", tableStatus: "CREATING"},
		{status: "FAILED", message: "Access denied to KMS key", wantErr: "restore table dr-analytics-aggregates: AWS Backup restore job restore-job-0001 FAILED: Access denied to KMS key; see the job in the AWS Backup console, fix the cause and deploy again"},
		{status: "ABORTED", message: "Stopped by user", tableStatus: "CREATING", wantErr: "AWS Backup restore job restore-job-0001 ABORTED: Stopped by user"},
	}
	for _, tc := range cases {
		t.Run(tc.status+"/"+tc.tableStatus, func(t *testing.T) {
			w := newWorld(t, awsfake.DeadEndpoint(t))
			vaultWithPoints(w)
			e, resp := mustCreate(t, w, properties(map[string]any{"Source": "backup"}))
			w.backup.SetRestoreJobStatus(resp.Data["RestoreJobId"], tc.status, tc.message)
			if tc.tableStatus != "" {
				w.dynamo.PutTable(awsfake.Table{Name: tableName, Status: tc.tableStatus})
			}

			got, err := w.h.IsComplete(context.Background(), completion(e, resp))

			if tc.wantErr == "" {
				if err != nil || got.IsComplete {
					t.Fatalf("IsComplete = %v, err = %v; want false, nil", got.IsComplete, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v\nwant it to contain %q", err, tc.wantErr)
			}
		})
	}

	t.Run("restored table becomes ready", func(t *testing.T) {
		w := newWorld(t, awsfake.DeadEndpoint(t))
		vaultWithPoints(w)
		e, resp := mustCreate(t, w, properties(nil))
		w.backup.SetRestoreJobStatus(resp.Data["RestoreJobId"], "COMPLETED", "")
		w.dynamo.PutTable(awsfake.Table{Name: tableName})

		got, err := w.h.IsComplete(context.Background(), completion(e, resp))
		if err != nil || !got.IsComplete {
			t.Fatalf("IsComplete = %v, err = %v; want true, nil", got.IsComplete, err)
		}
		table, _ := w.dynamo.Table(tableName)
		if table.Tags["dr:restore-source"] != "backup" || table.Tags["dr:recovery-point-arn"] != resp.Data["RecoveryPointArn"] ||
			table.Tags["dr:restore-job-id"] != "restore-job-0001" || table.Tags["dr:restore-point"] != resp.Data["PointInTime"] {
			t.Errorf("tags do not record the backup restore: %v", table.Tags)
		}
	})
}

func TestIsCompleteIsImmediateForUpdateAndDelete(t *testing.T) {
	for _, rt := range []cfn.RequestType{cfn.RequestUpdate, cfn.RequestDelete} {
		t.Run(string(rt), func(t *testing.T) {
			w := newWorld(t, "")
			e := event(rt, properties(nil))
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

// The framework sends JSON; Dispatch must read its field names and answer
// with the keys it reads back.
func TestDispatchSpeaksTheProviderFrameworkJSON(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	onEventJSON := `{"RequestType":"Create","RequestId":"6e2c7e0a-request","LogicalResourceId":"AggregatesTable",
		"StackId":"arn:aws:cloudformation:us-west-2:123456789012:stack/BackupFailoverStack/guid","ResourceType":"Custom::TableRestore",
		"ResourceProperties":{"ServiceToken":"arn:x","TableName":"dr-analytics-aggregates","SourceTableArn":"` + sourceArn + `",
		"SourceRegion":"us-east-1","VaultName":"dr-analytics-vault","RestoreRoleArn":"` + roleArn + `","Source":"auto",
		"ProbeTimeoutSeconds":"5","Tags":{"team":"analytics"}}}`
	var e tablerestore.CompletionEvent
	if err := json.Unmarshal([]byte(onEventJSON), &e); err != nil {
		t.Fatal(err)
	}
	out, err := w.h.Dispatch("onEvent")(context.Background(), e)
	if err != nil {
		t.Fatalf("onEvent: %v", err)
	}
	raw, _ := json.Marshal(out)
	var onEvent struct {
		PhysicalResourceId string
		Data               map[string]any
	}
	if err := json.Unmarshal(raw, &onEvent); err != nil || onEvent.PhysicalResourceId != tableName || onEvent.Data["Source"] != "pitr" {
		t.Fatalf("onEvent answered %s", raw)
	}

	// isComplete gets the event with the onEvent answer merged in.
	var merged map[string]any
	_ = json.Unmarshal([]byte(onEventJSON), &merged)
	merged["PhysicalResourceId"] = onEvent.PhysicalResourceId
	merged["Data"] = onEvent.Data
	mergedJSON, _ := json.Marshal(merged)
	var poll tablerestore.CompletionEvent
	if err := json.Unmarshal(mergedJSON, &poll); err != nil {
		t.Fatal(err)
	}
	w.dynamo.SetTableStatus(tableName, "ACTIVE")
	out, err = w.h.Dispatch("isComplete")(context.Background(), poll)
	if err != nil {
		t.Fatalf("isComplete: %v", err)
	}
	raw, _ = json.Marshal(out)
	var isComplete map[string]any
	_ = json.Unmarshal(raw, &isComplete)
	if isComplete["IsComplete"] != true || isComplete["Data"].(map[string]any)["TableArn"] != targetArn {
		t.Errorf("isComplete answered %s", raw)
	}

	_, err = w.h.Dispatch("onCreate")(context.Background(), e)
	if err == nil || !strings.Contains(err.Error(), `HANDLER is "onCreate": set it to onEvent or isComplete`) {
		t.Errorf("unknown mode: error = %v", err)
	}
}
