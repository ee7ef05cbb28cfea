package readiness

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dr-analytics/drplan/internal/recoverytime"
)

// lastRecovery reports what the last real failover and failback measured
// of themselves (internal/recoverytime), against rtoTargetMinutes and
// rpoTargetMinutes: a figure over its target is a WARN, and so is a moment
// the failover never recorded (its function's log says why).
func (r *run) lastRecovery(ctx context.Context) []Line {
	failover := Line{Region: r.Backup.Name, Check: "last failover"}
	var rec *recoverytime.Failover
	err := r.call(ctx, func(ctx context.Context) (err error) {
		rec, err = recoverytime.ReadFailover(ctx, r.Backup.SSM, r.names.FailoverRecordParameter())
		return err
	})
	switch {
	case err != nil:
		failover.Status, failover.Detail = Warn, err.Error()
	case rec == nil:
		failover.Status, failover.Detail = OK, "none recorded"
	default:
		r.record(func(f *figures) { f.lastFailover = rec })
		failover = r.failoverLine(failover, *rec)
	}

	failback := Line{Region: r.Backup.Name, Check: "last failback"}
	var back *recoverytime.Failback
	err = r.call(ctx, func(ctx context.Context) (err error) {
		back, err = recoverytime.ReadFailback(ctx, r.Backup.SSM, r.names.FailbackRecordParameter())
		return err
	})
	switch {
	case err != nil:
		failback.Status, failback.Detail = Warn, err.Error()
	case back == nil:
		failback.Status, failback.Detail = OK, "none recorded"
	default:
		r.record(func(f *figures) { f.lastFailback = back })
		failback = r.failbackLine(failback, *back)
	}
	return []Line{failover, failback}
}

// failoverLine states the failover's measured RTO (start to traffic moved,
// start to table ACTIVE) and RPO (start minus the restore point); its
// Value is the traffic RTO in minutes.
func (r *run) failoverLine(line Line, rec recoverytime.Failover) Line {
	rtoTarget := time.Duration(r.Config.RTOTargetMinutes) * time.Minute
	rpoTarget := time.Duration(r.Config.RPOTargetMinutes) * time.Minute
	var parts, over, missing []string
	started := "start not recorded"
	if rec.StartedAt != nil {
		started = "started " + rec.StartedAt.UTC().Format(time.RFC3339)
	}
	// measure adds one figure: name is what it measures, measured how it reads.
	measure := func(name, measured string, d time.Duration, ok bool, target time.Duration, targetKey string) {
		if !ok {
			missing = append(missing, name)
			parts = append(parts, name+": not recorded")
			return
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s %d min)", measured, duration(d), targetKey, int(target.Minutes())))
		if d > target {
			over = append(over, name)
		}
	}
	traffic, trafficOK := rec.TrafficRTO()
	if trafficOK {
		line.Value, line.Unit = number(traffic.Minutes()), "minutes"
	}
	measure("traffic moved", "traffic moved after", traffic, trafficOK, rtoTarget, "rtoTargetMinutes")
	if healthy, ok := rec.EndpointHealthy(); ok {
		parts[len(parts)-1] += fmt.Sprintf(", backup endpoint healthy after %s", duration(healthy))
	}
	table, tableOK := rec.TableRTO()
	measure("table ACTIVE", "table ACTIVE after", table, tableOK, rtoTarget, "rtoTargetMinutes")
	rpo, rpoOK := rec.RPO()
	measure("RPO", "RPO", rpo, rpoOK, rpoTarget, "rpoTargetMinutes")
	if rec.RestoreSource != "" {
		parts[len(parts)-1] += ", restored from " + rec.RestoreSource
	}
	line.Status, line.Detail = OK, started+": "+strings.Join(parts, "; ")
	if len(over) > 0 {
		line.Status, line.Detail = Warn, line.Detail+": over target: "+strings.Join(over, ", ")+"; see which resource was slow in the BackupFailoverStack events"
	}
	if len(missing) > 0 {
		line.Status = Warn
		line.Detail += ": " + strings.Join(missing, ", ") + " not recorded: still under way, or the failover's custom resource could not write " +
			r.names.FailoverRecordParameter() + " (its function's log says why)"
	}
	return line
}

// failbackLine states the last failback's total against rtoTargetMinutes
// and its slowest step; its Value is the total in minutes.
func (r *run) failbackLine(line Line, rec recoverytime.Failback) Line {
	target := time.Duration(r.Config.RTOTargetMinutes) * time.Minute
	total := rec.Total()
	line.Value, line.Unit = number(total.Minutes()), "minutes"
	detail := fmt.Sprintf("of the failover started %s: started %s, %d steps, total %s (rtoTargetMinutes %d min)",
		rec.FailoverStartedAt.UTC().Format(time.RFC3339), rec.StartedAt.UTC().Format(time.RFC3339), len(rec.Steps), duration(total), r.Config.RTOTargetMinutes)
	if len(rec.Steps) > 0 {
		slowest := slices.MaxFunc(rec.Steps, func(a, b recoverytime.FailbackStep) int {
			return cmp.Compare(a.Seconds, b.Seconds)
		})
		detail += fmt.Sprintf("; slowest step %q %s", slowest.Name, duration(time.Duration(slowest.Seconds*float64(time.Second))))
	}
	line.Status, line.Detail = OK, detail
	switch {
	case rec.FinishedAt == nil:
		line.Status, line.Detail = Warn, detail+": still running, or stopped without finishing; run `drctl failback` again to finish it"
	case !rec.Complete:
		line.Status, line.Detail = Warn, detail+": not complete (a step failed or did not match); run `drctl failback` again to finish it"
	case total > target:
		line.Status, line.Detail = Warn, detail+": over target"
	}
	return line
}
