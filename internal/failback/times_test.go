package failback_test

import (
	"context"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/recoverytime"
)

func TestFailbackRecordsWhenEachStepFinished(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t).withTables(t)
	h.seedAll(t)
	ssm := h.w.Backup.SSM.Client()
	// The last failover's measured times must outlive the failback.
	failoverRecord := recoverytime.Failover{StartedAt: &failover, TrafficMovedAt: ptr(failover.Add(7 * time.Minute))}
	if _, err := recoverytime.RecordFailover(ctx, ssm, h.names.FailoverRecordParameter(), failoverRecord); err != nil {
		t.Fatal(err)
	}

	t.Run("a dry run records nothing", func(t *testing.T) {
		in := h.input()
		in.DryRun = true
		if _, err := failback.Run(ctx, in); err != nil {
			t.Fatal(err)
		}
		if rec, err := recoverytime.ReadFailback(ctx, ssm, h.names.FailbackRecordParameter()); rec != nil || err != nil {
			t.Errorf("failback record after a dry run: %+v, %v", rec, err)
		}
	})

	report, err := failback.Run(ctx, h.input())
	if err != nil || !report.OK() {
		t.Fatalf("%v\n%s", err, reportText(t, report))
	}
	rec, err := recoverytime.ReadFailback(ctx, ssm, h.names.FailbackRecordParameter())
	if err != nil || rec == nil {
		t.Fatalf("ReadFailback = %v, %v", rec, err)
	}
	t.Run("the record holds every step's finish, in order, and the run's total", func(t *testing.T) {
		if len(rec.Steps) != len(report.Steps) {
			t.Fatalf("%d steps recorded, the run had %d", len(rec.Steps), len(report.Steps))
		}
		for i, s := range report.Steps {
			got := rec.Steps[i]
			if got.Name != s.Name || !got.FinishedAt.Equal(s.Finished) || got.Seconds != s.Duration.Seconds() || got.Status != "done" {
				t.Errorf("step %d recorded %+v, the run had %s finished %s after %s", i+1, got, s.Name, s.Finished, s.Duration)
			}
		}
		if !rec.Complete || rec.FinishedAt == nil || !rec.FinishedAt.Equal(report.Finished) || rec.Total() != report.Finished.Sub(report.Started) {
			t.Errorf("record complete %v finished %v total %s; want complete at %s, total %s", rec.Complete, rec.FinishedAt, rec.Total(), report.Finished, report.Finished.Sub(report.Started))
		}
		if !rec.FailoverStartedAt.Equal(report.Preflight.Failover) {
			t.Errorf("record's failover %s, the run's %s", rec.FailoverStartedAt, report.Preflight.Failover)
		}
	})
	t.Run("the failover's measured times outlive the failback", func(t *testing.T) {
		if _, ok := h.w.Backup.SSM.Parameter(h.names.FailoverStartedParameter()); ok {
			t.Errorf("the failover start is still recorded after a complete failback")
		}
		got, err := recoverytime.ReadFailover(ctx, ssm, h.names.FailoverRecordParameter())
		if err != nil || got == nil || got.TrafficMovedAt == nil || !got.TrafficMovedAt.Equal(*failoverRecord.TrafficMovedAt) {
			t.Errorf("failover record after the failback: %+v, %v", got, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
