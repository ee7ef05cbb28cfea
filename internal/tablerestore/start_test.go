package tablerestore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/customresource"
)

// Failback copies everything written since the first failover attempt, so
// the first attempt's time is recorded and every later attempt keeps it.
func TestStartRecordsTheFirstFailoverStartOnEveryPath(t *testing.T) {
	cases := []struct {
		name       string
		setup      func(t *testing.T) *world
		wantSource string
	}{
		{name: "point-in-time restore", wantSource: "pitr", setup: func(t *testing.T) *world {
			w := newWorld(t, "")
			w.primaryHasPITR(probeLatest)
			return w
		}},
		{name: "backup vault restore", wantSource: "backup", setup: func(t *testing.T) *world {
			w := newWorld(t, awsfake.DeadEndpoint(t))
			vaultWithPoints(w)
			return w
		}},
		{name: "existing table adopted", wantSource: "existing", setup: func(t *testing.T) *world {
			w := newWorld(t, "")
			w.dynamo.PutTable(awsfake.Table{Name: tableName})
			return w
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.setup(t)

			_, first := mustCreate(t, w, properties(nil))

			if first.Data["Source"] != tc.wantSource || first.Data["FailoverStartedAt"] != "2025-06-01T12:00:05Z" {
				t.Fatalf("first attempt Data = %v, want source %s started 2025-06-01T12:00:05Z", first.Data, tc.wantSource)
			}
			assertRecorded(t, w, failoverAt)
			var put struct {
				Name, Type, Value string
				Overwrite         bool
			}
			puts := w.ssm.CallsTo("PutParameter")
			if len(puts) != 1 {
				t.Fatalf("%d PutParameter calls, want 1", len(puts))
			}
			if err := puts[0].Decode(&put); err != nil || put.Name != startedParameter || put.Type != "String" ||
				put.Value != "2025-06-01T12:00:05Z" || put.Overwrite {
				t.Errorf("PutParameter request = %+v (%v), want %s = 2025-06-01T12:00:05Z, String, no overwrite", put, err, startedParameter)
			}

			// The stack rolled back (Delete keeps the table) and is deployed
			// again an hour later: the restored table is adopted and the
			// first attempt's time stands.
			w.advance(time.Hour)
			if tc.wantSource == "backup" {
				w.dynamo.PutTable(awsfake.Table{Name: tableName, Status: "CREATING"})
			}
			second := event(cfn.RequestCreate, properties(nil))
			second.RequestID = "second-attempt"
			resp, err := w.h.OnEvent(context.Background(), second)
			if err != nil {
				t.Fatalf("second attempt: %v", err)
			}
			if resp.Data["FailoverStartedAt"] != "2025-06-01T12:00:05Z" {
				t.Errorf("second attempt FailoverStartedAt = %q, want the first attempt's 2025-06-01T12:00:05Z", resp.Data["FailoverStartedAt"])
			}
			assertRecorded(t, w, failoverAt)
			if n := len(w.dynamo.CallsTo("RestoreTableToPointInTime")) + len(w.backup.CallsTo("StartRestoreJob")); n > 1 {
				t.Errorf("%d restores started over two attempts, want at most 1", n)
			}
			if !strings.Contains(w.logs.String(), "failover start already recorded by an earlier attempt; keeping it") {
				t.Errorf("no log line says the earlier time is kept:\n%s", w.logs)
			}
		})
	}
}

// The start resource does its work in onEvent, so a restore that cannot
// start fails there, within seconds, before anything that depends on it
// (the traffic dial) moves. The failover start is recorded before any
// restore is tried (it names the failover's restore jobs), so only invalid
// properties leave no time behind.
func TestStartFailsInOnEventWhenNoRestoreCanStart(t *testing.T) {
	cases := []struct {
		name        string
		setup       func(t *testing.T) *world
		props       map[string]any
		want        string
		notRecorded bool
	}{
		{name: "no completed recovery point, primary down", want: "no completed recovery point",
			setup: func(t *testing.T) *world { return newWorld(t, awsfake.DeadEndpoint(t)) }},
		{name: "forced pitr, primary down", props: map[string]any{"Source": "pitr"}, want: "primary region us-east-1 is unreachable",
			setup: func(t *testing.T) *world { return newWorld(t, awsfake.DeadEndpoint(t)) }},
		{name: "point-in-time restore refused", props: map[string]any{"Source": "pitr"}, want: "LimitExceededException",
			setup: func(t *testing.T) *world {
				w := newWorld(t, "")
				w.primaryHasPITR(probeLatest)
				w.dynamo.Inject("RestoreTableToPointInTime", awsfake.Fault{Code: "LimitExceededException", Message: "too many restores"})
				return w
			}},
		{name: "no failover start parameter given", props: map[string]any{"FailoverStartedParameter": nil}, want: `property FailoverStartedParameter is ""`,
			setup: func(t *testing.T) *world { return newWorld(t, "") }, notRecorded: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.setup(t)
			_, err := w.h.OnEvent(context.Background(), event(cfn.RequestCreate, properties(tc.props)))

			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("onEvent error = %v, want it to contain %q", err, tc.want)
			}
			if tc.notRecorded {
				assertNotRecorded(t, w)
			} else {
				assertRecorded(t, w, failoverAt)
			}
			if jobs := w.backup.RestoreJobs(); len(jobs) != 0 {
				t.Errorf("restore jobs started: %v", jobs)
			}
			if _, ok := w.dynamo.Table(tableName); ok {
				t.Error("a table exists after the failed start")
			}
		})
	}
}

func TestStartFailsWhenTheFailoverStartCannotBeRecorded(t *testing.T) {
	cases := []struct {
		name  string
		fault func(w *world)
		want  []string
	}{
		{name: "put denied",
			fault: func(w *world) {
				w.ssm.Inject("PutParameter", awsfake.Fault{Code: "AccessDeniedException", Message: "not authorized\nto PutParameter"})
			},
			want: []string{"restore table " + tableName + ": record the failover start time in SSM parameter " + startedParameter + " (us-west-2)",
				"AccessDeniedException", "allow ssm:PutParameter on it and deploy again; no restore was started"}},
		{name: "SSM hangs", fault: func(w *world) { w.ssm.Hang() },
			want: []string{"record the failover start time in SSM parameter " + startedParameter, "context deadline exceeded"}},
		{name: "earlier time unreadable",
			fault: func(w *world) {
				w.ssm.PutParameter(awsfake.Parameter{Name: startedParameter, Value: "2025-05-31T08:00:00Z"})
				w.ssm.Inject("GetParameter", awsfake.Fault{Code: "AccessDeniedException", Message: "not authorized"})
			},
			want: []string{"read the failover start time in SSM parameter " + startedParameter, "allow ssm:GetParameter on it"}},
		{name: "earlier value not a time",
			fault: func(w *world) { w.ssm.PutParameter(awsfake.Parameter{Name: startedParameter, Value: "yesterday"}) },
			want:  []string{`SSM parameter ` + startedParameter + ` (us-west-2) holds "yesterday", not an RFC 3339 time`, "aws ssm put-parameter --overwrite"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, "")
			w.h.CallTimeout = 300 * time.Millisecond
			w.primaryHasPITR(probeLatest)
			tc.fault(w)

			_, err := w.h.OnEvent(context.Background(), event(cfn.RequestCreate, properties(nil)))

			if err == nil {
				t.Fatal("no error")
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error spans lines: %q", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
			if n := len(w.dynamo.CallsTo("RestoreTableToPointInTime")); n != 0 {
				t.Errorf("%d restores started without a recorded failover start", n)
			}
		})
	}

	t.Run("the next deploy restores and records the time", func(t *testing.T) {
		w := newWorld(t, "")
		w.primaryHasPITR(probeLatest)
		w.ssm.Inject("PutParameter", awsfake.Fault{Code: "AccessDeniedException", Message: "not authorized", Times: 1})
		if _, err := w.h.OnEvent(context.Background(), event(cfn.RequestCreate, properties(nil))); err == nil {
			t.Fatal("first attempt: no error")
		}
		w.advance(10 * time.Minute)

		_, resp := mustCreate(t, w, properties(nil))

		if n := len(w.dynamo.CallsTo("RestoreTableToPointInTime")); n != 1 {
			t.Errorf("%d point-in-time restores, want the second attempt's only", n)
		}
		if resp.Data["Source"] != "pitr" || resp.Data["FailoverStartedAt"] != "2025-06-01T12:10:05Z" {
			t.Errorf("Data = %v, want a pitr restore, failover started 2025-06-01T12:10:05Z", resp.Data)
		}
		assertRecorded(t, w, failoverAt.Add(10*time.Minute))
	})
}

// If both resources share one provider, the framework polls the start
// resource too; it has nothing to wait for.
func TestStartIsCompleteIsImmediate(t *testing.T) {
	w := newWorld(t, "")
	w.primaryHasPITR(probeLatest)
	e, resp := mustCreate(t, w, properties(nil))
	before := len(w.dynamo.Calls()) + len(w.backup.Calls()) + len(w.ssm.Calls())

	got, err := w.h.IsComplete(context.Background(), customresource.Completion(e, resp))

	if err != nil || !got.IsComplete || got.Data != nil {
		t.Fatalf("IsComplete = %+v, err = %v; want complete with no Data (onEvent's stands)", got, err)
	}
	if after := len(w.dynamo.Calls()) + len(w.backup.Calls()) + len(w.ssm.Calls()); after != before {
		t.Errorf("isComplete of the start resource made %d AWS calls", after-before)
	}
}

// Update reads the recorded time for its Data and never records one.
func TestStartUpdateReportsTheRecordedStart(t *testing.T) {
	cases := []struct {
		name     string
		recorded string // "" means no parameter
		props    map[string]any
		want     string
		wantOps  []string
	}{
		{name: "recorded", recorded: "2025-05-31T08:00:00Z", want: "2025-05-31T08:00:00Z", wantOps: []string{"GetParameter"}},
		{name: "removed by a finished failback", want: "none", wantOps: []string{"GetParameter"}},
		{name: "no parameter property (an older template)", recorded: "2025-05-31T08:00:00Z",
			props: map[string]any{"FailoverStartedParameter": nil}, want: "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, "")
			w.dynamo.PutTable(awsfake.Table{Name: tableName, Tags: map[string]string{"dr:restore-source": "backup"}})
			if tc.recorded != "" {
				w.ssm.PutParameter(awsfake.Parameter{Name: startedParameter, Value: tc.recorded})
			}
			e := event(cfn.RequestUpdate, properties(tc.props))
			e.PhysicalResourceID = tableName

			resp, err := w.h.OnEvent(context.Background(), e)

			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if resp.Data["FailoverStartedAt"] != tc.want {
				t.Errorf("FailoverStartedAt = %q, want %q", resp.Data["FailoverStartedAt"], tc.want)
			}
			if ops := w.ssm.Ops(); strings.Join(ops, ",") != strings.Join(tc.wantOps, ",") {
				t.Errorf("SSM calls %v, want %v", ops, tc.wantOps)
			}
		})
	}
}
