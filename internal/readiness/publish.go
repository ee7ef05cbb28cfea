package readiness

import (
	"io"
	"time"

	"github.com/dr-analytics/drplan/internal/drmetrics"
)

// Publish writes the report as CloudWatch metrics (EMF lines on w) in
// drmetrics.ReadinessNamespace. A figure that could not be measured is left
// out rather than written as zero, so an alarm sees missing data, never a
// reassuring value nobody measured. Counts of failing and warning checks
// and whether the primary answered are always written.
func Publish(w io.Writer, r Report) error {
	prefix := map[string]string{drmetrics.DimPrefix: r.Prefix}
	with := func(k, v string) map[string]string { return map[string]string{drmetrics.DimPrefix: r.Prefix, k: v} }
	reachable := 0.0
	if r.PrimaryReachable {
		reachable = 1
	}
	overall := []drmetrics.Value{
		{Name: drmetrics.ChecksFailing, Unit: drmetrics.UnitCount, Value: float64(r.Summary.Fail)},
		{Name: drmetrics.ChecksWarning, Unit: drmetrics.UnitCount, Value: float64(r.Summary.Warn)},
		{Name: drmetrics.PrimaryReachable, Unit: drmetrics.UnitNone, Value: reachable},
	}
	if r.RPO.TableIfPrimaryLost != nil {
		overall = append(overall, drmetrics.Value{Name: drmetrics.RecoveryPointAgeMinutes, Unit: drmetrics.UnitNone, Value: *r.RPO.TableIfPrimaryLost / 60})
	}
	if t := r.RestoreTest; t != nil && t.LastPassedAt != nil {
		overall = append(overall, drmetrics.Value{Name: drmetrics.HoursSinceRestoreTest, Unit: drmetrics.UnitNone, Value: r.GeneratedAt.Sub(*t.LastPassedAt).Hours()})
	}
	overall = append(overall, lastRecovery(r)...)
	docs := []drmetrics.Document{{Namespace: drmetrics.ReadinessNamespace, Dimensions: prefix, Values: overall,
		Fields: map[string]any{"ok": r.Summary.OK, "account": r.Account}}}

	rpo := func(path string, seconds float64) drmetrics.Document {
		return drmetrics.Document{Namespace: drmetrics.ReadinessNamespace, Dimensions: with(drmetrics.DimPath, path),
			Values: []drmetrics.Value{{Name: drmetrics.EstimatedRPOMinutes, Unit: drmetrics.UnitNone, Value: seconds / 60}}}
	}
	// The S3 path always has an estimate: the RTC bound stands in for an
	// unreadable latency, which is the honest worst case.
	docs = append(docs, rpo(drmetrics.PathS3, r.RPO.S3))
	if r.RPO.TableSource == "pitr" {
		docs = append(docs, rpo(drmetrics.PathTablePITR, r.RPO.Table))
	}
	if r.RPO.TableIfPrimaryLost != nil {
		docs = append(docs, rpo(drmetrics.PathTableVault, *r.RPO.TableIfPrimaryLost))
	}
	if r.RPO.TableSource != "unknown" {
		docs = append(docs, rpo(drmetrics.PathWorst, r.RPO.Seconds))
	}
	for _, b := range r.Replication {
		docs = append(docs, drmetrics.Document{Namespace: drmetrics.ReadinessNamespace, Dimensions: with(drmetrics.DimBucket, b.Bucket),
			Values: []drmetrics.Value{
				{Name: drmetrics.ReplicationLatencySeconds, Unit: drmetrics.UnitSeconds, Value: b.LatencySeconds},
				{Name: drmetrics.ReplicationOperationsFailed, Unit: drmetrics.UnitCount, Value: b.FailedOperations},
			}})
	}
	return drmetrics.Write(w, r.GeneratedAt.Truncate(time.Millisecond), docs...)
}

// lastRecovery is what the last failover and failback measured, each figure
// only when both its moments were recorded (a failback's total once it
// finished).
func lastRecovery(r Report) []drmetrics.Value {
	var values []drmetrics.Value
	add := func(name string, d time.Duration, ok bool) {
		if ok {
			values = append(values, drmetrics.Value{Name: name, Unit: drmetrics.UnitNone, Value: d.Minutes()})
		}
	}
	if f := r.LastFailover; f != nil {
		rto, ok := f.TrafficRTO()
		add(drmetrics.LastFailoverRTOMinutes, rto, ok)
		table, ok := f.TableRTO()
		add(drmetrics.LastFailoverTableRTOMinutes, table, ok)
		rpo, ok := f.RPO()
		add(drmetrics.LastFailoverRPOMinutes, rpo, ok)
	}
	if b := r.LastFailback; b != nil {
		add(drmetrics.LastFailbackMinutes, b.Total(), b.FinishedAt != nil)
	}
	return values
}
