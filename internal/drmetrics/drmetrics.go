// Package drmetrics names every custom metric the DR watchers publish and
// writes them as CloudWatch embedded metric format (EMF) lines. The readiness
// function, the restore test, their alarms and the dashboard all take the
// names from here, so a metric cannot be renamed in one place and silently
// stay behind in another.
//
// EMF, not PutMetricData: a Lambda's stdout reaches CloudWatch Logs anyway,
// and CloudWatch extracts the metrics from the log line, so publishing needs
// no API call, no IAM permission and no endpoint in the primary region.
// Format: "Specification: Embedded metric format" (Amazon CloudWatch User
// Guide, CloudWatch_Embedded_Metric_Format_Specification.html): a root
// "_aws" member with Timestamp (epoch milliseconds) and CloudWatchMetrics
// directives (Namespace, Dimensions as arrays of root member names, Metrics
// with Name and Unit); the values are root members of the same name.
package drmetrics

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// Namespaces.
const (
	// ReadinessNamespace holds what the scheduled readiness run measures.
	ReadinessNamespace = "DRAnalytics/Readiness"
	// RestoreTestNamespace holds what each scheduled table restore test measures.
	RestoreTestNamespace = "DRAnalytics/RestoreTest"
)

// Dimension names. Every metric carries DimPrefix (the deployment prefix),
// so two deployments in one account never share a series.
const (
	DimPrefix = "Prefix"
	// DimPath is the RPO path: PathS3, PathTablePITR, PathTableVault or PathWorst.
	DimPath = "Path"
	// DimBucket is a replicated bucket's purpose: streaming or batch.
	DimBucket = "Bucket"
)

// RPO paths (values of DimPath).
const (
	PathS3         = "s3"
	PathTablePITR  = "table-pitr"
	PathTableVault = "table-vault"
	// PathWorst is the estimate the RPO alarm watches: the worse of the
	// S3 path and the table path that failover would use now.
	PathWorst = "worst"
)

// Readiness metrics (ReadinessNamespace).
const (
	EstimatedRPOMinutes         = "EstimatedRPOMinutes"         // dims Prefix, Path
	ReplicationLatencySeconds   = "ReplicationLatencySeconds"   // dims Prefix, Bucket; worst of the last 15 min
	ReplicationOperationsFailed = "ReplicationOperationsFailed" // dims Prefix, Bucket; sum of the last 15 min
	RecoveryPointAgeMinutes     = "RecoveryPointAgeMinutes"     // dims Prefix; newest copy in the backup vault
	ChecksFailing               = "ChecksFailing"               // dims Prefix
	ChecksWarning               = "ChecksWarning"               // dims Prefix
	PrimaryReachable            = "PrimaryReachable"            // dims Prefix; 1 or 0
	HoursSinceRestoreTest       = "HoursSinceRestoreTest"       // dims Prefix; since the last passed test
	// The last real failover's and failback's own measurements
	// (internal/recoverytime), republished each run while recorded.
	LastFailoverRTOMinutes      = "LastFailoverRTOMinutes"      // dims Prefix; failover start to traffic moved
	LastFailoverTableRTOMinutes = "LastFailoverTableRTOMinutes" // dims Prefix; failover start to table ACTIVE
	LastFailoverRPOMinutes      = "LastFailoverRPOMinutes"      // dims Prefix; failover start minus the restore point
	LastFailbackMinutes         = "LastFailbackMinutes"         // dims Prefix; a finished failback's total
)

// Restore test metrics (RestoreTestNamespace), one datapoint per test.
const (
	RestoreMinutes    = "RestoreMinutes"    // dims Prefix; restore job start to completion
	ValidationPassed  = "ValidationPassed"  // dims Prefix; 1 passed, 0 failed
	RestoredItemCount = "RestoredItemCount" // dims Prefix; items the validation counted
)

// Published lists every metric the watchers publish, by namespace, with
// its dimension names; the publishers' tests hold their output to it and
// the dashboard's template test holds every widget to it.
var Published = map[string]map[string][]string{
	ReadinessNamespace: {
		EstimatedRPOMinutes:         {DimPrefix, DimPath},
		ReplicationLatencySeconds:   {DimPrefix, DimBucket},
		ReplicationOperationsFailed: {DimPrefix, DimBucket},
		RecoveryPointAgeMinutes:     {DimPrefix},
		ChecksFailing:               {DimPrefix},
		ChecksWarning:               {DimPrefix},
		PrimaryReachable:            {DimPrefix},
		HoursSinceRestoreTest:       {DimPrefix},
		LastFailoverRTOMinutes:      {DimPrefix},
		LastFailoverTableRTOMinutes: {DimPrefix},
		LastFailoverRPOMinutes:      {DimPrefix},
		LastFailbackMinutes:         {DimPrefix},
	},
	RestoreTestNamespace: {
		RestoreMinutes:    {DimPrefix},
		ValidationPassed:  {DimPrefix},
		RestoredItemCount: {DimPrefix},
	},
}

// Emitter names the function that publishes a namespace's metrics, as the
// role passed to naming.Names.Function.
var Emitter = map[string]string{
	ReadinessNamespace:   "readiness",
	RestoreTestNamespace: "restore-test",
}

// Units (the EMF Unit values used here).
const (
	UnitNone    = "None"
	UnitCount   = "Count"
	UnitSeconds = "Seconds"
)

// Value is one metric value with its unit.
type Value struct {
	Name  string
	Unit  string
	Value float64
}

// Document is one EMF line: metrics sharing one set of dimension values.
type Document struct {
	Namespace  string
	Dimensions map[string]string
	Values     []Value
	// Fields are extra root members for people reading the log (not metrics).
	Fields map[string]any
}

// Write writes the documents as EMF lines stamped at now. Documents without
// values are skipped: CloudWatch extracts nothing from them.
func Write(w io.Writer, now time.Time, docs ...Document) error {
	for _, d := range docs {
		if len(d.Values) == 0 {
			continue
		}
		line := map[string]any{}
		for k, v := range d.Fields {
			line[k] = v
		}
		keys := make([]string, 0, len(d.Dimensions))
		for k, v := range d.Dimensions {
			line[k] = v
			keys = append(keys, k)
		}
		slices.Sort(keys)
		defs := make([]map[string]string, len(d.Values))
		for i, v := range d.Values {
			line[v.Name] = v.Value
			defs[i] = map[string]string{"Name": v.Name, "Unit": v.Unit}
		}
		line["_aws"] = map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  d.Namespace,
				"Dimensions": [][]string{keys},
				"Metrics":    defs,
			}},
		}
		out, err := json.Marshal(line)
		if err != nil {
			return fmt.Errorf("encode %s metrics: %w", d.Namespace, err)
		}
		if _, err := w.Write(append(out, '\n')); err != nil {
			return fmt.Errorf("write %s metrics: %w", d.Namespace, err)
		}
	}
	return nil
}

// DashboardName is the DR dashboard's name. Dashboards are global to the
// account ("All dashboards in your account are global, not region-specific",
// AWS::CloudWatch::Dashboard), so the prefix keeps deployments apart.
func DashboardName(prefix string) string { return prefix + "-dr" }

// DashboardURL opens the dashboard in the console of region (the backup
// region: its console keeps working when the primary is down).
func DashboardURL(prefix, region string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#dashboards/dashboard/%s", region, region, DashboardName(prefix))
}
