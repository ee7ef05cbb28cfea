package tablerestore_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// One restore per failover: a deploy run again while the first AWS Backup
// restore job is still PENDING (no table yet, so nothing to adopt) follows
// that job instead of starting a second, whatever the primary region does
// by then.
func TestDeployAgainWhileTheFirstJobIsPendingStartsNoSecondJob(t *testing.T) {
	for _, status := range []string{"PENDING", "RUNNING"} {
		for _, primaryBack := range []bool{false, true} {
			name := status
			if primaryBack {
				name += "/primary answers by then"
			}
			t.Run(name, func(t *testing.T) {
				w := newWorld(t, "")
				w.primary.Hang() // the probe times out: the vault restore starts
				vaultWithPoints(w)
				_, first := mustCreate(t, w, properties(nil))
				if first.Data["Source"] != "backup" {
					t.Fatalf("first attempt Data = %v, want a backup restore", first.Data)
				}
				w.backup.SetRestoreJobStatus(first.Data["RestoreJobId"], status, "")
				w.advance(20 * time.Minute)
				if primaryBack {
					w.primary.Clear()
					w.primaryHasPITR(probeLatest)
				}

				// The stack rolled back (Delete keeps everything) and the
				// same deploy runs again: a new Create with a new request id.
				again := event(cfn.RequestCreate, properties(nil))
				again.RequestID = "second-deploy"
				resp, err := w.h.OnEvent(context.Background(), again)
				if err != nil {
					t.Fatalf("second attempt: %v", err)
				}

				if n := len(w.backup.CallsTo("StartRestoreJob")); n != 1 {
					t.Errorf("%d StartRestoreJob calls over two deploys, want 1", n)
				}
				if n := len(w.backup.RestoreJobs()); n != 1 {
					t.Errorf("%d restore jobs, want 1", n)
				}
				if n := len(w.dynamo.CallsTo("RestoreTableToPointInTime")); n != 0 {
					t.Errorf("%d point-in-time restores next to a running restore job", n)
				}
				for _, key := range []string{"Source", "RestoreJobId", "RecoveryPointArn", "PointInTime", "FailoverStartedAt", "TableArn"} {
					if resp.Data[key] != first.Data[key] {
						t.Errorf("second attempt %s = %q, want the first attempt's %q", key, resp.Data[key], first.Data[key])
					}
				}
				if !strings.Contains(w.logs.String(), "following it instead of starting another") {
					t.Errorf("no log line says the running job is followed:\n%s", w.logs)
				}
			})
		}
	}

	t.Run("a deploy with restoreSource=pitr follows the running job too", func(t *testing.T) {
		w := newWorld(t, awsfake.DeadEndpoint(t))
		vaultWithPoints(w)
		_, first := mustCreate(t, w, properties(nil))
		w.advance(20 * time.Minute)

		_, again := mustCreate(t, w, properties(map[string]any{"Source": "pitr"}))

		if n := len(w.primary.Calls()); n != 0 {
			t.Errorf("the primary was probed %d times next to a running restore job", n)
		}
		if again.Data["RestoreJobId"] != first.Data["RestoreJobId"] || len(w.backup.RestoreJobs()) != 1 {
			t.Errorf("second attempt Data %v, want the running job %s only", again.Data, first.Data["RestoreJobId"])
		}
	})

	t.Run("a failed first job is replaced by a fresh one", func(t *testing.T) {
		w := newWorld(t, awsfake.DeadEndpoint(t))
		vaultWithPoints(w)
		_, first := mustCreate(t, w, properties(nil))
		w.backup.SetRestoreJobStatus(first.Data["RestoreJobId"], "FAILED", "Access denied to KMS key")
		w.advance(20 * time.Minute)

		_, second := mustCreate(t, w, properties(nil))

		jobs := w.backup.RestoreJobs()
		if len(jobs) != 2 || second.Data["RestoreJobId"] != jobs[1].ID || jobs[1].IdempotencyToken == jobs[0].IdempotencyToken {
			t.Errorf("jobs %+v, second attempt Data %v; want a second job with its own token", jobs, second.Data)
		}
	})
}

// The idempotency token names the failover and the table, not the request:
// the same failover asks for the same first job, another failover for
// another. Jobs that are not this table's restores (restore testing, a
// restore into another table) are neither followed nor counted.
func TestRestoreJobTokenNamesTheFailover(t *testing.T) {
	firstToken := func(t *testing.T, failoverStart string, seed func(w *world)) string {
		t.Helper()
		w := newWorld(t, awsfake.DeadEndpoint(t))
		vaultWithPoints(w)
		if failoverStart != "" {
			w.ssm.PutParameter(awsfake.Parameter{Name: startedParameter, Value: failoverStart})
		}
		if seed != nil {
			seed(w)
		}
		e := event(cfn.RequestCreate, properties(nil))
		e.RequestID = "request-" + failoverStart
		if _, err := w.h.OnEvent(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		starts := w.backup.CallsTo("StartRestoreJob")
		if len(starts) != 1 {
			t.Fatalf("%d StartRestoreJob calls, want 1", len(starts))
		}
		var in struct{ IdempotencyToken string }
		if err := starts[0].Decode(&in); err != nil {
			t.Fatal(err)
		}
		if !tokenPattern.MatchString(in.IdempotencyToken) {
			t.Fatalf("IdempotencyToken %q", in.IdempotencyToken)
		}
		return in.IdempotencyToken
	}
	other := func(w *world) {
		created := failoverAt.Add(-time.Second)
		w.backup.PutRestoreJob(awsfake.RestoreJob{ID: "restore-testing-job", Status: "PENDING", ResourceType: "DynamoDB",
			SourceResourceArn: sourceArn, CreationDate: created, RestoreTestingPlanArn: "arn:aws:backup:us-west-2:123456789012:restore-testing-plan:weekly",
			Metadata: map[string]string{"targetTableName": "awsbackup-restore-test-1234"}})
		w.backup.PutRestoreJob(awsfake.RestoreJob{ID: "drill-job", Status: "RUNNING", ResourceType: "DynamoDB",
			SourceResourceArn: sourceArn, CreationDate: created, Metadata: map[string]string{"TargetTableName": "aggregates-drill"}})
		w.backup.PutRestoreJob(awsfake.RestoreJob{ID: "other-table-job", Status: "RUNNING", ResourceType: "DynamoDB",
			SourceResourceArn: "arn:aws:dynamodb:us-east-1:123456789012:table/other", CreationDate: created,
			Metadata: map[string]string{"targetTableName": tableName}})
	}

	same := firstToken(t, "2025-06-01T11:00:00Z", nil)
	if again := firstToken(t, "2025-06-01T11:00:00Z", nil); again != same {
		t.Errorf("same failover: tokens %q and %q differ", same, again)
	}
	if withOthers := firstToken(t, "2025-06-01T11:00:00Z", other); withOthers != same {
		t.Errorf("other jobs changed the token: %q, want %q", withOthers, same)
	}
	if another := firstToken(t, "2025-05-01T11:00:00Z", nil); another == same {
		t.Errorf("another failover has the same token %q", same)
	}
}

// The ready resource repairs restores in place; the start resource's
// failures happen before traffic moves. No message anywhere may tell an
// operator to destroy or redeploy the failover stack: that deletes the
// stream, Firehose and ALB producers are using, with accepted events inside.
func TestNoMessageTellsToDestroyTheStack(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			text, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			checked++
			lower := strings.ToLower(text)
			for _, banned := range []string{"destroy", "deploy it again", "delete the stack", "redeploy"} {
				if strings.Contains(lower, banned) {
					t.Errorf("%s: message %q says %q", file, text, banned)
				}
			}
			return true
		})
	}
	if checked < 50 {
		t.Fatalf("checked only %d string literals; the package's messages were not found", checked)
	}
}

// A table in a state no wait can fix fails with the run-again line too.
func TestTableInAnUnrecoverableStateFailsWithTheRunAgainLine(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	_, poll := mustWait(t, w, properties(map[string]any{"Source": "pitr"}), map[string]any{"VaultName": "", "RestoreRoleArn": ""})
	w.dynamo.SetTableStatus(tableName, "INACCESSIBLE_ENCRYPTION_CREDENTIALS")
	_, err := w.h.IsComplete(context.Background(), poll)
	if err == nil || !strings.HasSuffix(err.Error(), runAgain) {
		t.Fatalf("error = %v, want it to end with %q", err, runAgain)
	}
}
