package readiness_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/readiness"
	"github.com/dr-analytics/drplan/internal/recoverytime"
)

// lastFailoverAt is when the recorded failover of these tests began.
var lastFailoverAt = seeded.Add(-10 * 24 * time.Hour)

func after(minutes float64) *time.Time {
	t := lastFailoverAt.Add(time.Duration(minutes * float64(time.Minute)))
	return &t
}

// measuredFailover is a failover within the default targets (60 min each).
func measuredFailover() recoverytime.Failover {
	return recoverytime.Failover{StartedAt: after(0), EndpointHealthyAt: after(6), TrafficMovedAt: after(7), TableActiveAt: after(25),
		RestoreSource: "pitr", RestorePointInTime: after(-3)}
}

// measuredFailback is a complete failback of 41 minutes, two days later.
func measuredFailback() recoverytime.Failback {
	start := lastFailoverAt.Add(48 * time.Hour)
	return recoverytime.Failback{FailoverStartedAt: lastFailoverAt, StartedAt: start, FinishedAt: ptr(start.Add(41 * time.Minute)), Complete: true,
		Steps: []recoverytime.FailbackStep{
			{Name: "traffic dials", FinishedAt: start.Add(time.Minute), Seconds: 60, Status: "done"},
			{Name: "copy objects", FinishedAt: start.Add(40 * time.Minute), Seconds: 2340, Status: "done"},
			{Name: "clear failover record", FinishedAt: start.Add(41 * time.Minute), Seconds: 60, Status: "done"},
		}}
}

func ptr[T any](v T) *T { return &v }

func recordFailover(t *testing.T, w *drfake.World, rec recoverytime.Failover) {
	t.Helper()
	if _, err := recoverytime.RecordFailover(context.Background(), w.Backup.SSM.Client(), w.Names.FailoverRecordParameter(), rec); err != nil {
		t.Fatal(err)
	}
}

func recordFailback(t *testing.T, w *drfake.World, rec recoverytime.Failback) {
	t.Helper()
	if err := recoverytime.RecordFailback(context.Background(), w.Backup.SSM.Client(), w.Names.FailbackRecordParameter(), rec); err != nil {
		t.Fatal(err)
	}
}

func TestStatusShowsTheLastFailoverAndFailbackAgainstTheTargets(t *testing.T) {
	cfg := testConfig(t)
	cases := []struct {
		name    string
		record  func(t *testing.T, w *drfake.World)
		check   string
		want    readiness.Status
		details []string
		value   float64 // the line's Value in minutes; 0 for none
	}{
		{"no failover recorded yet is OK", func(*testing.T, *drfake.World) {}, "last failover", readiness.OK, []string{"none recorded"}, 0},
		{"no failback recorded yet is OK", func(*testing.T, *drfake.World) {}, "last failback", readiness.OK, []string{"none recorded"}, 0},
		{"a failover within the targets shows each measured time", func(t *testing.T, w *drfake.World) { recordFailover(t, w, measuredFailover()) },
			"last failover", readiness.OK, []string{
				"started " + lastFailoverAt.Format(time.RFC3339),
				"traffic moved after 7m0s (rtoTargetMinutes 60 min), backup endpoint healthy after 6m0s",
				"table ACTIVE after 25m0s (rtoTargetMinutes 60 min)",
				"RPO 3m0s (rpoTargetMinutes 60 min), restored from pitr",
			}, 7},
		{"a table slower than the RTO target warns", func(t *testing.T, w *drfake.World) {
			rec := measuredFailover()
			rec.TableActiveAt = after(95)
			recordFailover(t, w, rec)
		}, "last failover", readiness.Warn, []string{"table ACTIVE after 1h35m0s", "over target: table ACTIVE;"}, 7},
		{"a restore point older than the RPO target warns", func(t *testing.T, w *drfake.World) {
			rec := measuredFailover()
			rec.RestoreSource, rec.RestorePointInTime = "backup", after(-300)
			recordFailover(t, w, rec)
		}, "last failover", readiness.Warn, []string{"RPO 5h0m0s (rpoTargetMinutes 60 min), restored from backup", "over target: RPO"}, 7},
		{"a moment the failover did not record warns and names the record", func(t *testing.T, w *drfake.World) {
			rec := measuredFailover()
			rec.EndpointHealthyAt, rec.TrafficMovedAt = nil, nil
			recordFailover(t, w, rec)
		}, "last failover", readiness.Warn, []string{"traffic moved: not recorded", "/dr-analytics/failover/last (its function's log says why)"}, 0},
		{"a complete failback within the RTO target shows its total and slowest step", func(t *testing.T, w *drfake.World) { recordFailback(t, w, measuredFailback()) },
			"last failback", readiness.OK, []string{"of the failover started " + lastFailoverAt.Format(time.RFC3339), "3 steps, total 41m0s (rtoTargetMinutes 60 min)", `slowest step "copy objects" 39m0s`}, 41},
		{"a failback longer than the RTO target warns", func(t *testing.T, w *drfake.World) {
			rec := measuredFailback()
			rec.FinishedAt = ptr(rec.StartedAt.Add(2 * time.Hour))
			recordFailback(t, w, rec)
		}, "last failback", readiness.Warn, []string{"total 2h0m0s", "over target"}, 120},
		{"a failback that did not match warns to run it again", func(t *testing.T, w *drfake.World) {
			rec := measuredFailback()
			rec.Complete = false
			recordFailback(t, w, rec)
		}, "last failback", readiness.Warn, []string{"not complete", "run `drctl failback` again"}, 41},
		{"a failback that never finished warns to run it again", func(t *testing.T, w *drfake.World) {
			rec := measuredFailback()
			rec.FinishedAt, rec.Steps = nil, rec.Steps[:2]
			recordFailback(t, w, rec)
		}, "last failback", readiness.Warn, []string{"2 steps, total 40m0s", "still running, or stopped without finishing"}, 40},
		{"a record that is not one warns with how to clear it", func(t *testing.T, w *drfake.World) {
			w.Backup.SSM.PutParameter(awsfake.Parameter{Name: w.Names.FailoverRecordParameter(), Value: "yesterday"})
		}, "last failover", readiness.Warn, []string{"aws ssm delete-parameter --name /dr-analytics/failover/last"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := healthyWorld(t, cfg)
			tc.record(t, w)
			r := readiness.Run(context.Background(), input(cfg, w.Endpoint, seeded))
			l := lineFor(t, r, cfg.BackupRegion, tc.check)
			if l.Status != tc.want {
				t.Errorf("%s = %s %q, want %s", tc.check, l.Status, l.Detail, tc.want)
			}
			for _, d := range tc.details {
				if !strings.Contains(l.Detail, d) {
					t.Errorf("%s detail %q lacks %q", tc.check, l.Detail, d)
				}
			}
			got := 0.0
			if l.Value != nil {
				got = *l.Value
			}
			if got != tc.value || (l.Value != nil && l.Unit != "minutes") {
				t.Errorf("%s value %v %s, want %v minutes", tc.check, got, l.Unit, tc.value)
			}
			if !strings.Contains(text(t, r), tc.check) {
				t.Errorf("the text report lacks the %q line", tc.check)
			}
		})
	}
}

func TestPublisherRepublishesTheLastFailoverAndFailback(t *testing.T) {
	cfg := testConfig(t)
	w := healthyWorld(t, cfg)
	recordFailover(t, w, measuredFailover())
	recordFailback(t, w, measuredFailback())
	got, _ := watch(t, input(cfg, w.Endpoint, seeded))
	for name, want := range map[string]float64{
		drmetrics.LastFailoverRTOMinutes: 7, drmetrics.LastFailoverTableRTOMinutes: 25,
		drmetrics.LastFailoverRPOMinutes: 3, drmetrics.LastFailbackMinutes: 41,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (published %v), want %v", name, v, ok, want)
		}
	}

	t.Run("a figure whose moments were not both recorded is left out", func(t *testing.T) {
		w := healthyWorld(t, cfg)
		rec := measuredFailover()
		rec.TableActiveAt = nil
		recordFailover(t, w, rec)
		unfinished := measuredFailback()
		unfinished.FinishedAt = nil
		recordFailback(t, w, unfinished)
		got, _ := watch(t, input(cfg, w.Endpoint, seeded))
		for _, name := range []string{drmetrics.LastFailoverTableRTOMinutes, drmetrics.LastFailbackMinutes} {
			if v, ok := got[name]; ok {
				t.Errorf("%s published as %v from an unrecorded moment", name, v)
			}
		}
		if got[drmetrics.LastFailoverRTOMinutes] != 7 {
			t.Errorf("%s = %v, want 7", drmetrics.LastFailoverRTOMinutes, got[drmetrics.LastFailoverRTOMinutes])
		}
	})
}
