package readiness

import (
	"context"
	"fmt"
	"time"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/restoretest"
)

// RestoreTestWindow is how long a scheduled restore test may take from its
// scheduled time to its record: the state machine's timeout (the restore
// and the validation) plus EventBridge Scheduler's start.
const RestoreTestWindow = 6*time.Hour + 15*time.Minute

// RestoreTestPeriod is the longest gap between two runs of a restore test
// schedule (config.SchedulePeriod; config refuses schedules it cannot
// bound, so the fallback of 35 days is never reached from a valid config).
// It is an upper bound, for alarms, not a calendar.
func RestoreTestPeriod(schedule string) time.Duration {
	period, err := config.SchedulePeriod(schedule)
	if err != nil {
		return 35 * 24 * time.Hour
	}
	return period
}

// RestoreTestMaxAge is how old the last passed restore test may be before
// readiness calls it stale: one schedule period plus the test's window.
func RestoreTestMaxAge(schedule string) time.Duration {
	return RestoreTestPeriod(schedule) + RestoreTestWindow
}

// restoreTest reports the last scheduled restore test of the table.
func (r *run) restoreTest(ctx context.Context) []Line {
	line := Line{Region: r.Backup.Name, Check: "restore test"}
	if !r.Config.RestoreTestEnabled() {
		line.Status, line.Detail = Warn, fmt.Sprintf("off (%s=%s): the table's restore from the vault is never tested and its RTO is unmeasured", config.KeyRestoreTestSchedule, config.RestoreTestOff)
		return []Line{line}
	}
	var rec *restoretest.Record
	err := r.call(ctx, func(ctx context.Context) (err error) {
		rec, err = restoretest.ReadRecord(ctx, r.Backup.SSM, r.Config.Prefix)
		return err
	})
	switch {
	case err != nil:
		line.Status, line.Detail = Fail, err.Error()
		return []Line{line}
	case rec == nil:
		line.Status, line.Detail = Warn, fmt.Sprintf("no restore test has run yet (schedule %s); start one: aws stepfunctions start-execution --region %s --state-machine-arn %s",
			r.Config.RestoreTestSchedule, r.Backup.Name, r.restoreTestStateMachineArn())
		return []Line{line}
	}
	r.record(func(f *figures) { f.restoreTest = rec })
	maxAge := RestoreTestMaxAge(r.Config.RestoreTestSchedule)
	line.Value, line.Unit = number(rec.RestoreMinutes), "minutes"
	line.Detail = fmt.Sprintf("last test %s: restore took %s (RTO target %d min), %s",
		rec.FinishedAt.UTC().Format(time.RFC3339), minutes(rec.RestoreMinutes), r.Config.RTOTargetMinutes, verdict(rec))
	switch {
	case !rec.Passed:
		line.Status, line.Detail = Fail, line.Detail+": "+rec.Detail
	case r.now.Sub(rec.FinishedAt) > maxAge:
		line.Status, line.Detail = Fail, line.Detail+fmt.Sprintf(": stale, older than %s (schedule %s plus the test's window); see the restore test state machine's executions", duration(maxAge), r.Config.RestoreTestSchedule)
	case rec.RestoreMinutes > float64(r.Config.RTOTargetMinutes):
		line.Status, line.Detail = Warn, line.Detail+": the restore alone took longer than the RTO target"
	case !rec.Deleted:
		line.Status, line.Detail = Warn, line.Detail+": "+rec.Detail
	default:
		line.Status = OK
	}
	return []Line{line}
}

func (r *run) restoreTestStateMachineArn() string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", r.Backup.Name, r.names.Account, restoretest.StateMachineName(r.Config.Prefix))
}

func verdict(rec *restoretest.Record) string {
	if rec.Passed {
		return fmt.Sprintf("validation passed (%d items sampled)", rec.Items)
	}
	return "validation FAILED"
}

// minutes prints fractional minutes as a duration, e.g. "12m18s".
func minutes(m float64) string { return duration(time.Duration(m * float64(time.Minute))) }
