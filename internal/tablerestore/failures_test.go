package tablerestore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/tablerestore"
)

func denied(op string) func(w *world) {
	// The message spans lines on purpose: the error must still be one line.
	fault := awsfake.Fault{Code: "AccessDeniedException", Message: "User is not authorized to perform " + op + "\non this resource"}
	return func(w *world) {
		if isBackupOp(op) {
			w.backup.Inject(op, fault)
			return
		}
		if isSSMOp(op) {
			w.ssm.Inject(op, fault)
			return
		}
		w.dynamo.Inject(op, fault)
	}
}

func isSSMOp(op string) bool { return op == "PutParameter" || op == "GetParameter" }

func isBackupOp(op string) bool {
	return op == "ListRecoveryPointsByBackupVault" || op == "StartRestoreJob" || op == "ListRestoreJobs" || op == "GetRestoreJobMetadata"
}

// Every failure reaches CloudFormation as one line that names the table (or
// the resource and property) and says what to do; none hangs or panics.
func TestEveryFailureIsOneLineNamingTheResource(t *testing.T) {
	type stage int
	const (
		onCreate      stage = iota // fault, then Create
		onPoll                     // healthy start and ready Create of an ACTIVE table, fault, then isComplete
		onBackupPoll               // healthy backup start and ready Create (no table yet), fault, then isComplete
		onUpdate                   // existing table, fault, then Update
		onReadyCreate              // healthy start, fault, then ready Create with props
		onReadyUpdate              // existing table, fault, then ready Update
	)
	cases := []struct {
		name  string
		stage stage
		props map[string]any
		fault func(w *world)
		want  []string
	}{
		{name: "existing-table check denied", stage: onCreate, fault: denied("DescribeTable"),
			want: []string{"restore table " + tableName, "check whether it already exists in us-west-2", "AccessDeniedException", "allow dynamodb:DescribeTable"}},
		{name: "this region hangs", stage: onCreate, fault: func(w *world) { w.dynamo.Hang() },
			want: []string{"restore table " + tableName, "context deadline exceeded"}},
		{name: "adopted table tags unreadable", stage: onCreate,
			fault: func(w *world) {
				w.dynamo.PutTable(awsfake.Table{Name: tableName})
				denied("ListTagsOfResource")(w)
			},
			want: []string{"adopt existing table " + tableName, "allow dynamodb:ListTagsOfResource"}},
		{name: "point-in-time restore refused", stage: onCreate, props: map[string]any{"Source": "pitr"},
			fault: func(w *world) {
				w.dynamo.Inject("RestoreTableToPointInTime", awsfake.Fault{Code: "LimitExceededException", Message: "Too many\nconcurrent restores"})
			},
			want: []string{"restore table " + tableName + " with restoreSource=pitr", "RestoreTableToPointInTime from " + sourceArn + " failed", "Too many concurrent restores", "deploy with -c restoreSource=backup or auto"}},
		{name: "recovery point listing denied", stage: onCreate, props: map[string]any{"Source": "backup"}, fault: denied("ListRecoveryPointsByBackupVault"),
			want: []string{"restore table " + tableName + " with restoreSource=backup", "vault " + vaultName, "check VaultName"}},
		{name: "vault missing", stage: onCreate, props: map[string]any{"Source": "backup", "VaultName": "no-such-vault"},
			want: []string{"restore table " + tableName, "vault no-such-vault", "ResourceNotFoundException"}},
		{name: "restore job refused", stage: onCreate, props: map[string]any{"Source": "backup"}, fault: denied("StartRestoreJob"),
			want: []string{"restore table " + tableName, "start AWS Backup restore job", "allow backup:StartRestoreJob, and iam:PassRole on " + roleArn}},
		{name: "backup service hangs", stage: onCreate, props: map[string]any{"Source": "backup"}, fault: func(w *world) { w.backup.Hang() },
			want: []string{"restore table " + tableName, "context deadline exceeded"}},
		{name: "table check fails while polling", stage: onPoll, fault: denied("DescribeTable"),
			want: []string{"restore table " + tableName, "describe it in us-west-2"}},
		{name: "PITR status unreadable", stage: onPoll, fault: denied("DescribeContinuousBackups"),
			want: []string{"restore table " + tableName, "read its point-in-time recovery status"}},
		{name: "PITR refused", stage: onPoll, fault: denied("UpdateContinuousBackups"),
			want: []string{"restore table " + tableName, "turn on point-in-time recovery", "allow dynamodb:UpdateContinuousBackups"}},
		{name: "deletion protection refused", stage: onPoll, fault: denied("UpdateTable"),
			want: []string{"restore table " + tableName, "turn on deletion protection", "allow dynamodb:UpdateTable"}},
		{name: "tags unreadable", stage: onPoll, fault: denied("ListTagsOfResource"),
			want: []string{"restore table " + tableName, "read its tags"}},
		{name: "tagging refused", stage: onPoll, fault: denied("TagResource"),
			want: []string{"restore table " + tableName, "tag it", "allow dynamodb:TagResource"}},
		{name: "table archived", stage: onPoll, fault: func(w *world) { w.dynamo.SetTableStatus(tableName, "ARCHIVED") },
			want: []string{"restore table " + tableName, "the table is ARCHIVED in us-west-2"}},
		{name: "restore jobs unlistable", stage: onBackupPoll, fault: denied("ListRestoreJobs"),
			want: []string{"restore table " + tableName + ": no table in us-west-2 and list AWS Backup restore jobs since 2025-06-01T12:00:05Z in us-west-2", "allow backup:ListRestoreJobs"}},
		{name: "restore job metadata unreadable", stage: onBackupPoll, fault: denied("GetRestoreJobMetadata"),
			want: []string{"restore table " + tableName, "read the metadata of AWS Backup restore job restore-job-0001", "allow backup:GetRestoreJobMetadata"}},
		{name: "running jobs unlistable at the start", stage: onCreate, props: map[string]any{"Source": "backup"}, fault: denied("ListRestoreJobs"),
			want: []string{"restore table " + tableName + ": list AWS Backup restore jobs since", "allow backup:ListRestoreJobs and deploy again"}},
		{name: "update cannot describe", stage: onUpdate, fault: denied("DescribeTable"),
			want: []string{"update table restore " + tableName, "allow dynamodb:DescribeTable"}},
		{name: "update cannot read tags", stage: onUpdate, fault: denied("ListTagsOfResource"),
			want: []string{"update table restore " + tableName, "read its tags"}},
		{name: "table name invalid", stage: onCreate, props: map[string]any{"TableName": "x"},
			want: []string{"table restore " + logicalID, `property TableName is "x"`}},
		{name: "table name missing", stage: onCreate, props: map[string]any{"TableName": nil},
			want: []string{"table restore " + logicalID, `property TableName is ""`}},
		{name: "table name not a string", stage: onCreate, props: map[string]any{"TableName": 5.0},
			want: []string{"table restore " + logicalID, "property TableName is 5 (float64): give a string"}},
		{name: "source unknown", stage: onCreate, props: map[string]any{"Source": "snapshot"},
			want: []string{"table restore " + logicalID, `property Source is "snapshot": use auto, pitr or backup`}},
		{name: "source table ARN invalid", stage: onCreate, props: map[string]any{"SourceTableArn": "dr-analytics-aggregates"},
			want: []string{"table restore " + logicalID, "property SourceTableArn"}},
		{name: "source region mismatch", stage: onCreate, props: map[string]any{"SourceRegion": "eu-west-1"},
			want: []string{"table restore " + logicalID, `property SourceRegion is "eu-west-1" but SourceTableArn is in "us-east-1"`}},
		{name: "vault missing for auto", stage: onCreate, props: map[string]any{"VaultName": ""},
			want: []string{"table restore " + logicalID, "property VaultName is empty"}},
		{name: "restore role invalid", stage: onCreate, props: map[string]any{"Source": "backup", "RestoreRoleArn": "restore-role"},
			want: []string{"table restore " + logicalID, `property RestoreRoleArn is "restore-role"`}},
		{name: "probe timeout zero", stage: onCreate, props: map[string]any{"ProbeTimeoutSeconds": "0"},
			want: []string{"table restore " + logicalID, `property ProbeTimeoutSeconds is "0"`}},
		{name: "probe timeout not a number", stage: onCreate, props: map[string]any{"ProbeTimeoutSeconds": "5s"},
			want: []string{"table restore " + logicalID, `property ProbeTimeoutSeconds is "5s"`}},
		{name: "probe timeout too long", stage: onCreate, props: map[string]any{"ProbeTimeoutSeconds": "600"},
			want: []string{"table restore " + logicalID, `property ProbeTimeoutSeconds is "600"`}},
		{name: "failover start parameter missing", stage: onCreate, props: map[string]any{"FailoverStartedParameter": nil},
			want: []string{"table restore " + logicalID, `property FailoverStartedParameter is ""`, "naming.Names.FailoverStartedParameter"}},
		{name: "failover start parameter not a path", stage: onCreate, props: map[string]any{"FailoverStartedParameter": "started at"},
			want: []string{"table restore " + logicalID, `property FailoverStartedParameter is "started at"`}},
		{name: "failover start not recordable", stage: onCreate, fault: denied("PutParameter"),
			want: []string{"restore table " + tableName, "record the failover start time in SSM parameter " + startedParameter, "allow ssm:PutParameter on it"}},
		{name: "tag value not a string", stage: onReadyCreate, props: map[string]any{"Tags": map[string]any{"cost": 1.0}},
			want: []string{"table restore " + readyID, "property Tags has cost=1"}},
		{name: "tags not a map", stage: onReadyCreate, props: map[string]any{"Tags": "team=analytics"},
			want: []string{"table restore " + readyID, "property Tags is team=analytics"}},
		{name: "reserved tag key", stage: onReadyCreate, props: map[string]any{"Tags": map[string]any{"aws:owner": "x"}},
			want: []string{"table restore " + readyID, `property Tags has key "aws:owner"`}},
		{name: "ready table name invalid", stage: onReadyCreate, props: map[string]any{"TableName": "x"},
			want: []string{"table restore " + readyID, `property TableName is "x": give the start resource's TableName attribute`}},
		{name: "ready source unknown", stage: onReadyCreate, props: map[string]any{"Source": "auto"},
			want: []string{"table restore " + readyID, `property Source is "auto": give the start resource's Source attribute (pitr, backup or existing)`}},
		{name: "ready point in time invalid", stage: onReadyCreate, props: map[string]any{"PointInTime": "noon"},
			want: []string{"table restore " + readyID, `property PointInTime is "noon"`}},
		{name: "ready source table ARN invalid", stage: onReadyCreate, props: map[string]any{"SourceTableArn": "aggregates"},
			want: []string{"table restore " + readyID, `property SourceTableArn is "aggregates"`}},
		{name: "wait zero", stage: onReadyCreate, props: map[string]any{"WaitMinutes": "0"},
			want: []string{"table restore " + readyID, `property WaitMinutes is "0": give minutes above 0 and at most 120`}},
		{name: "wait not a number", stage: onReadyCreate, props: map[string]any{"WaitMinutes": "50m"},
			want: []string{"table restore " + readyID, `property WaitMinutes is "50m"`}},
		{name: "wait beyond the provider", stage: onReadyCreate, props: map[string]any{"WaitMinutes": "180"},
			want: []string{"table restore " + readyID, `property WaitMinutes is "180"`}},
		{name: "wait not a string", stage: onReadyCreate, props: map[string]any{"WaitMinutes": 50.0},
			want: []string{"table restore " + readyID, "property WaitMinutes is 50 (float64): give a string"}},
		{name: "ready update cannot describe", stage: onReadyUpdate, fault: denied("DescribeTable"),
			want: []string{"update table restore " + tableName, "describe the table in us-west-2", "allow dynamodb:DescribeTable"}},
		{name: "ready update cannot read PITR", stage: onReadyUpdate, fault: denied("DescribeContinuousBackups"),
			want: []string{"update table restore " + tableName, "read the point-in-time recovery status of " + tableName, "allow dynamodb:DescribeContinuousBackups"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, "")
			w.h.CallTimeout = 300 * time.Millisecond
			w.primaryHasPITR(probeLatest)
			vaultWithPoints(w)
			ctx := context.Background()
			var err error
			switch tc.stage {
			case onCreate:
				if tc.fault != nil {
					tc.fault(w)
				}
				_, err = w.h.OnEvent(ctx, event(cfn.RequestCreate, properties(tc.props)))
			case onPoll, onBackupPoll:
				props := properties(nil)
				if tc.stage == onBackupPoll {
					props = properties(map[string]any{"Source": "backup"})
				}
				_, poll := mustWait(t, w, props, nil)
				w.dynamo.SetTableStatus(tableName, "ACTIVE")
				tc.fault(w)
				_, err = w.h.IsComplete(ctx, poll)
			case onUpdate:
				w.dynamo.PutTable(awsfake.Table{Name: tableName})
				tc.fault(w)
				e := event(cfn.RequestUpdate, properties(nil))
				e.PhysicalResourceID = tableName
				_, err = w.h.OnEvent(ctx, e)
			case onReadyCreate:
				_, start := mustCreate(t, w, properties(nil))
				_, err = w.h.OnEvent(ctx, readyEvent(cfn.RequestCreate, readyProperties(start, tc.props)))
			case onReadyUpdate:
				w.dynamo.PutTable(awsfake.Table{Name: tableName, DeletionProtection: true})
				tc.fault(w)
				start := tablerestore.Response{Data: map[string]string{"TableName": tableName, "Source": "pitr"}}
				e := readyEvent(cfn.RequestUpdate, readyProperties(start, nil))
				e.PhysicalResourceID = readyPhysID
				_, err = w.h.OnEvent(ctx, e)
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q\ndoes not contain %q", msg, want)
				}
			}
		})
	}
}

func TestUnknownRequestTypeIsAnError(t *testing.T) {
	w := newWorld(t, "")
	_, err := w.h.OnEvent(context.Background(), event("Replace", properties(nil)))
	if err == nil || !strings.Contains(err.Error(), `RequestType "Replace" is not Create, Update or Delete`) {
		t.Errorf("error = %v", err)
	}
}

func TestPanicBecomesError(t *testing.T) {
	var h tablerestore.Handler // no clients: any call panics inside the SDK-less handler
	h.Log = discardLog()
	_, err := h.OnEvent(context.Background(), event(cfn.RequestCreate, properties(nil)))
	if err == nil || !strings.Contains(err.Error(), "table restore: internal error") {
		t.Errorf("start onEvent: error = %v, want an internal error instead of a panic", err)
	}
	ready := readyEvent(cfn.RequestCreate, readyProperties(tablerestore.Response{Data: map[string]string{"TableName": tableName, "Source": "pitr"}}, nil))
	_, err = h.IsComplete(context.Background(), tablerestore.CompletionEvent{Event: ready})
	if err == nil || !strings.Contains(err.Error(), "table restore: internal error") {
		t.Errorf("ready isComplete: error = %v, want an internal error instead of a panic", err)
	}
}
