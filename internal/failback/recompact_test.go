package failback_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/failback"
)

// since is a failover two and a half days before now: 2026-11-22 and
// -23 and -24 are whole UTC days since.
var since = time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC)

func executionNames(h *harness) []string {
	var names []string
	for _, e := range h.w.Primary.StepFunctions.Executions() {
		names = append(names, e.Name)
	}
	return names
}

func TestRecompactionRunsEveryWholeDaySinceFailover(t *testing.T) {
	h := newHarness(t).withTables(t)
	h.seedAll(t)
	in := h.input()
	in.Since = since
	report, err := failback.Run(context.Background(), in)
	if err != nil || !report.OK() {
		t.Fatalf("%v\n%s", err, reportText(t, report))
	}
	machine := h.w.CompactionStateMachineArn(h.cfg.PrimaryRegion)
	executions := h.w.Primary.StepFunctions.Executions()
	if len(executions) != 3 {
		t.Fatalf("%d executions, want one per whole day: %v", len(executions), executionNames(h))
	}
	for i, day := range []string{"2026-11-22", "2026-11-23", "2026-11-24"} {
		e := executions[i]
		if e.StateMachineArn != machine || e.Input != fmt.Sprintf(`{"date":%q}`, day) || e.Name != fmt.Sprintf("failback-%s-%d", day, since.Unix()) {
			t.Errorf("execution %d = %s of %s with %s; want %s's", i, e.Name, e.StateMachineArn, e.Input, day)
		}
	}
	text := reportText(t, report)
	for _, want := range []string{"2026-11-22 recompacted (execution arn:aws:states:us-east-1:123456789012:execution:dr-analytics-compaction:failback-2026-11-22-",
		"2026-11-24 recompacted", "days recompacted since failover"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if h.w.S3.Calls("CopyObject") != 14 {
		t.Errorf("%d copies: compacted/ is copied back as well, in case recompaction fails", h.w.S3.Calls("CopyObject"))
	}

	again, err := failback.Run(context.Background(), in)
	if err != nil || !again.OK() {
		t.Fatalf("second run: %v\n%s", err, reportText(t, again))
	}
	if n := len(h.w.Primary.StepFunctions.Executions()); n != 3 {
		t.Errorf("the second run started %d more executions: %v", n-3, executionNames(h))
	}
	if text := reportText(t, again); strings.Count(text, "recompacted by an earlier failback") != 3 {
		t.Errorf("second run's report:\n%s", text)
	}
}

func TestRecompactionDryRunListsTheDays(t *testing.T) {
	h := newHarness(t).withTables(t)
	h.seedAll(t)
	in := h.input()
	in.Since, in.DryRun = since, true
	report, err := failback.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := "would recompact 3 day(s) from the primary's raw data with arn:aws:states:us-east-1:123456789012:stateMachine:dr-analytics-compaction: 2026-11-22, 2026-11-23, 2026-11-24"
	if text := reportText(t, report); !strings.Contains(text, want) {
		t.Errorf("dry-run report lacks %q:\n%s", want, text)
	}
	if n := h.w.Primary.StepFunctions.Calls("StartExecution"); n != 0 {
		t.Errorf("dry run started %d executions", n)
	}
}

func TestFailedOrUnfinishedRecompactionIsAMismatch(t *testing.T) {
	failDay := func(day string, o drfake.Outcome) func(name, input string) drfake.Outcome {
		return func(name, input string) drfake.Outcome {
			if strings.Contains(input, day) {
				return o
			}
			return drfake.Outcome{Running: 1}
		}
	}
	cases := []struct {
		name    string
		outcome func(name, input string) drfake.Outcome
		want    string
	}{
		{"a failed day", failDay("2026-11-23", drfake.Outcome{Status: "FAILED", Error: "Athena.QueryFailed", Cause: "HIVE_BAD_DATA"}),
			"2026-11-23 compaction FAILED: Athena.QueryFailed: HIVE_BAD_DATA (execution arn:aws:states:us-east-1:123456789012:execution:dr-analytics-compaction:failback-2026-11-23-"},
		{"a day still running at the timeout", failDay("2026-11-24", drfake.Outcome{Running: 1000}),
			"2026-11-24 still compacting after -compaction-timeout 10m0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t).withTables(t)
			h.seedAll(t)
			h.w.Primary.StepFunctions.SetOutcome(tc.outcome)
			in := h.input()
			in.Since, in.CompactionTimeout, in.CompactionPoll = since, 10*time.Minute, time.Minute
			report, err := failback.Run(context.Background(), in)
			if err != nil {
				t.Fatalf("%v\n%s", err, reportText(t, report))
			}
			step := report.Steps[5]
			if report.OK() || len(step.Mismatches) != 1 || !strings.Contains(step.Mismatches[0], tc.want) {
				t.Errorf("recompaction mismatches %q, want one containing %q\n%s", step.Mismatches, tc.want, reportText(t, report))
			}
			if _, kept := h.w.Backup.SSM.Parameter(h.names.FailoverStartedParameter()); !kept {
				t.Error("the failover record was deleted although recompaction did not finish")
			}
		})
	}
	t.Run("a rerun retries a failed day under a new name", func(t *testing.T) {
		h := newHarness(t).withTables(t)
		h.seedAll(t)
		h.w.Primary.StepFunctions.SetOutcome(failDay("2026-11-23", drfake.Outcome{Status: "FAILED", Error: "States.Timeout"}))
		in := h.input()
		in.Since = since
		if report, _ := failback.Run(context.Background(), in); report.OK() {
			t.Fatal("first run OK despite a failed day")
		}
		h.w.Primary.StepFunctions.SetOutcome(nil)
		report, err := failback.Run(context.Background(), in)
		if err != nil || !report.OK() {
			t.Fatalf("rerun: %v\n%s", err, reportText(t, report))
		}
		want := fmt.Sprintf("failback-2026-11-23-%d-r2", since.Unix())
		if names := executionNames(h); len(names) != 4 || names[3] != want {
			t.Errorf("executions %v, want the three first ones and %s", names, want)
		}
	})
}

// A long disaster does not start every day's Athena queries at once.
func TestRecompactionRunsAtMostFourDaysAtOnce(t *testing.T) {
	h := newHarness(t).withTables(t)
	h.seedAll(t)
	h.w.Primary.StepFunctions.SetOutcome(func(string, string) drfake.Outcome { return drfake.Outcome{Running: 2} })
	in := h.input()
	in.Since, in.CompactionPoll = now.Add(-6*24*time.Hour), time.Minute
	report, err := failback.Run(context.Background(), in)
	if err != nil || !report.OK() {
		t.Fatalf("%v\n%s", err, reportText(t, report))
	}
	executions := h.w.Primary.StepFunctions.Executions()
	if len(executions) != 6 {
		t.Fatalf("%d executions, want 6", len(executions))
	}
	first := executions[0].Started
	for i, e := range executions {
		if together := e.Started.Equal(first); together != (i < 4) {
			t.Errorf("execution %d (%s) started at %s, the first at %s: want the first four together, the rest after one finished", i, e.Name, e.Started, first)
		}
	}
}
