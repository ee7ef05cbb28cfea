package failback_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/naming"
)

func TestFailoverTimeIsTheEarlierOfRecordedStartAndStack(t *testing.T) {
	param := "the first failover attempt, SSM parameter /dr-analytics/failover/started-at"
	stack := "BackupFailoverStack creation time"
	cases := []struct {
		name       string
		recorded   time.Time // zero: no parameter
		created    time.Time // zero: no stack
		since      time.Time
		want       time.Time
		wantSource string
	}{
		{"a redeployed stack is younger than the first attempt", failover, failover.Add(2 * time.Hour), time.Time{}, failover, param},
		{"the stack's creation precedes the restore's record", failover.Add(time.Minute), failover, time.Time{}, failover, stack},
		{"the record alone, the stack destroyed", failover, time.Time{}, time.Time{}, failover, param},
		{"the stack alone, nothing recorded", time.Time{}, failover, time.Time{}, failover, stack},
		{"-since overrides both", failover, failover, failover.Add(-time.Hour), failover.Add(-time.Hour), "--since"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.w.Backup.CloudFormation.DeleteStack(h.w.Names.StackName(naming.BackupFailoverStack))
			deleteParameter(t, h, h.names.FailoverStartedParameter())
			if !tc.created.IsZero() {
				h.w.Backup.CloudFormation.PutStack(drfake.Stack{Name: h.w.Names.StackName(naming.BackupFailoverStack), Status: "CREATE_COMPLETE", Created: tc.created})
			}
			if !tc.recorded.IsZero() {
				h.w.Backup.SSM.PutParameter(awsfake.Parameter{Name: h.names.FailoverStartedParameter(), Value: tc.recorded.Format(time.RFC3339)})
			}
			h.w.Primary.DynamoDB.PutTable(awsfake.Table{Name: h.names.Table()})
			in := h.input()
			in.Primary.DynamoDB = h.w.Primary.DynamoDB.Client()
			in.Since = tc.since
			pf, err := failback.Check(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if !pf.Failover.Equal(tc.want) || pf.FailoverSource != tc.wantSource {
				t.Errorf("failover %s from %q, want %s from %q", pf.Failover, pf.FailoverSource, tc.want, tc.wantSource)
			}
		})
	}
}

// A failover stack destroyed and deployed again two hours into the
// disaster: everything written since the first attempt still comes back.
func TestFailbackAfterARedeployedFailoverStackCopiesFromTheFirstAttempt(t *testing.T) {
	h := newHarness(t).withTables(t)
	h.seedAll(t)
	h.w.Backup.CloudFormation.PutStack(drfake.Stack{Name: h.w.Names.StackName(naming.BackupFailoverStack), Status: "CREATE_COMPLETE", Created: failover.Add(2 * time.Hour)})
	report, err := failback.Run(context.Background(), h.input())
	if err != nil || !report.OK() {
		t.Fatalf("%v\n%s", err, reportText(t, report))
	}
	if !report.Preflight.Failover.Equal(failover) {
		t.Errorf("failover time %s, want the first attempt's %s", report.Preflight.Failover, failover)
	}
	if got := h.w.S3.Calls("CopyObject"); got != 14 {
		t.Errorf("CopyObject calls = %d, want all 14 objects written since the first attempt", got)
	}
	if got := len(scanAll(t, h.dynamo(h.cfg.PrimaryRegion), h.names.Table())); got != 50 {
		t.Errorf("primary table has %d items, want 30 + 20 merged", got)
	}
}

func TestRecordedStartIsClearedOnlyAfterACompleteRealRun(t *testing.T) {
	cases := []struct {
		name    string
		dryRun  bool
		breakIt func(h *harness)
		kept    bool
		want    string
	}{
		{"a complete run deletes it", false, nil, false, "deleted SSM parameter /dr-analytics/failover/started-at in us-west-2 (recorded start 2026-11-25T11:00:00Z)"},
		{"a dry run keeps it", true, nil, true, "would delete SSM parameter /dr-analytics/failover/started-at"},
		{"a run with a mismatch keeps it", false, func(h *harness) { h.w.Backup.SQS.SetMessages(h.w.AggregatorFailures, 2) }, true,
			"kept SSM parameter /dr-analytics/failover/started-at in us-west-2 (recorded start 2026-11-25T11:00:00Z): the failback is not complete"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t).withTables(t)
			h.seedAll(t)
			if tc.breakIt != nil {
				tc.breakIt(h)
			}
			in := h.input()
			in.DryRun = tc.dryRun
			report, err := failback.Run(context.Background(), in)
			if err != nil {
				t.Fatalf("%v\n%s", err, reportText(t, report))
			}
			_, kept := h.w.Backup.SSM.Parameter(h.names.FailoverStartedParameter())
			text := reportText(t, report)
			if kept != tc.kept || !strings.Contains(text, tc.want) {
				t.Errorf("parameter kept = %v, want %v; report lacks %q:\n%s", kept, tc.kept, tc.want, text)
			}
			if n := len(h.w.Backup.SSM.CallsTo("DeleteParameter")); (n == 0) != tc.kept {
				t.Errorf("%d DeleteParameter calls", n)
			}
		})
	}
	t.Run("a failed delete fails the run with the command to finish by hand", func(t *testing.T) {
		h := newHarness(t).withTables(t)
		h.seedAll(t)
		h.w.Backup.SSM.Inject("DeleteParameter", awsfake.Fault{Code: "AccessDeniedException", Message: "not authorized to perform ssm:DeleteParameter"})
		report, err := failback.Run(context.Background(), h.input())
		if err == nil || report.OK() || !strings.Contains(err.Error(), "aws ssm delete-parameter --name /dr-analytics/failover/started-at --region us-west-2") {
			t.Errorf("err = %v, OK %v", err, report.OK())
		}
	})
}
