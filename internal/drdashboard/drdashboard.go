// Package drdashboard generates the body of the DR dashboard: both
// regions' ingest path, replication, the readiness metrics with their alarm
// thresholds, restore tests and which region takes traffic.
//
// Guarantees: every metric is named from the names the stacks use
// (internal/naming for resources, internal/drmetrics for the watchers'
// own metrics), never typed twice; every metric and every widget carries an
// explicit region, because a dashboard is global ("All dashboards in your
// account are global, not region-specific", AWS::CloudWatch::Dashboard) and
// each metric lives in the region that emits it. The body follows
// "Dashboard Body Structure and Syntax" (Amazon CloudWatch API Reference):
// widgets of type metric (properties.metrics: [namespace, name, dimension
// name, value, ..., {rendering options}] or [{expression}]), alarm and text.
//
// The package does not import awscdk: values known only at deploy time
// (alarm ARNs, the accelerator's id, the queue's name) come in as strings,
// which CDK tokens are.
package drdashboard

import (
	"encoding/json"
	"fmt"

	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/naming"
)

// GlobalAcceleratorMetricsRegion is where Global Accelerator publishes its
// metrics ("You must view CloudWatch metrics and logs for Global
// Accelerator in the US West (Oregon) Region", Using Amazon CloudWatch with
// AWS Global Accelerator).
const GlobalAcceleratorMetricsRegion = "us-west-2"

// Input is what the dashboard shows.
type Input struct {
	Names                       naming.Names
	PrimaryRegion, BackupRegion string
	// RPOTargetMinutes and RTOTargetMinutes are drawn as thresholds.
	RPOTargetMinutes, RTOTargetMinutes int
	// RestoreTestMaxAgeHours is drawn on the restore test age; 0 hides it.
	RestoreTestMaxAgeHours float64
	// AcceleratorID is the id in the accelerator's ARN, its metrics' Accelerator dimension.
	AcceleratorID string
	// AggregatorFailuresQueue is the backup region's aggregator on-failure queue name.
	AggregatorFailuresQueue string
	// AlarmArns are shown with their state.
	AlarmArns []string
}

// Metric is one line of a graph: a metric, or a search expression.
type Metric struct {
	Namespace, Name string
	// Dimensions are name, value pairs in order.
	Dimensions [][2]string
	// Expression is a SEARCH expression instead of a metric.
	Expression string
	Region     string
	Stat       string
	Label      string
}

// Widget is one dashboard widget.
type Widget struct {
	Kind   string // "metric", "alarm" or "text"
	Title  string
	Width  int
	Height int
	Region string // for metric widgets
	// Metrics of a metric widget.
	Metrics []Metric
	// Thresholds are horizontal annotations of a metric widget.
	Thresholds []Threshold
	// Markdown of a text widget.
	Markdown string
	// AlarmArns of an alarm widget.
	AlarmArns []string
}

// Threshold is a horizontal line on a graph.
type Threshold struct {
	Value float64
	Label string
}

// PeriodSeconds of every graph.
const PeriodSeconds = 300

// Widgets lays the dashboard out, row by row.
func Widgets(in Input) []Widget {
	n := in.Names
	regions := []string{in.PrimaryRegion, in.BackupRegion}
	ws := []Widget{
		{Kind: "text", Width: 24, Height: 2, Markdown: fmt.Sprintf("## DR of %s: primary %s, backup %s\n"+
			"Fail over: `npx aws-cdk@2 deploy BackupFailoverStack --no-rollback` · fail back: `go run ./cmd/drctl failback` · check: `go run ./cmd/drctl status`",
			n.Prefix, in.PrimaryRegion, in.BackupRegion)},
		{Kind: "alarm", Title: "DR alarms", Width: 24, Height: 3, AlarmArns: in.AlarmArns},
	}
	graph := func(title, region string, metrics []Metric, thresholds ...Threshold) Widget {
		return Widget{Kind: "metric", Title: title, Width: 8, Height: 6, Region: region, Metrics: metrics, Thresholds: thresholds}
	}

	// Traffic: which region takes it, and how ingest answers.
	var requests, errors []Metric
	for _, r := range regions {
		requests = append(requests, albSearch("RequestCount", n.IngestLoadBalancer(), r))
		for _, code := range []string{"HTTPCode_Target_4XX_Count", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"} {
			errors = append(errors, albSearch(code, n.IngestLoadBalancer(), r))
		}
	}
	ws = append(ws,
		graph("Traffic by region (new flows per endpoint group)", GlobalAcceleratorMetricsRegion, []Metric{{
			// A partial match on the id: it holds whether the dimension
			// carries the id or the whole accelerator ARN.
			Expression: fmt.Sprintf(`SEARCH('{AWS/GlobalAccelerator,Accelerator,Listener,EndpointGroup} MetricName="NewFlowCount" Accelerator=%s', 'Sum', %d)`, in.AcceleratorID, PeriodSeconds),
			Region:     GlobalAcceleratorMetricsRegion, Label: "new flows",
		}}),
		graph("Ingest requests per region", in.BackupRegion, requests),
		graph("Ingest 4xx / 5xx per region", in.BackupRegion, errors),
	)

	// The pipeline in each region (the backup region's exists during DR).
	var incoming, iterator, freshness []Metric
	for _, r := range regions {
		stream := [][2]string{{"StreamName", n.Stream()}}
		incoming = append(incoming, metric("AWS/Kinesis", "IncomingRecords", "Sum", r, stream))
		iterator = append(iterator, metric("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "Maximum", r, stream))
		freshness = append(freshness, metric("AWS/Firehose", "DeliveryToS3.DataFreshness", "Maximum", r, [][2]string{{"DeliveryStreamName", n.DeliveryStream()}}))
	}
	ws = append(ws,
		graph("Kinesis records in per region", in.BackupRegion, incoming),
		graph("Kinesis iterator age (ms) per region", in.BackupRegion, iterator),
		graph("Firehose data freshness (s) per region", in.BackupRegion, freshness),
	)

	// Replication, as S3 measures it in the primary region and as
	// readiness republishes it in the backup region.
	var latency, pending, republished []Metric
	for _, p := range []naming.Purpose{naming.Streaming, naming.Batch} {
		dims := [][2]string{
			{"SourceBucket", n.Bucket(p, in.PrimaryRegion)},
			{"DestinationBucket", n.Bucket(p, in.BackupRegion)},
			{"RuleId", n.ReplicationRuleID(p, in.BackupRegion)},
		}
		latency = append(latency, metric("AWS/S3", "ReplicationLatency", "Maximum", in.PrimaryRegion, dims))
		pending = append(pending, metric("AWS/S3", "OperationsPendingReplication", "Maximum", in.PrimaryRegion, dims))
		republished = append(republished, readiness(in, drmetrics.ReplicationLatencySeconds, drmetrics.DimBucket, string(p)))
	}
	rtc := Threshold{Value: 900, Label: "RTC 15 min"}
	ws = append(ws,
		graph("Replication latency (s), S3 in the primary", in.PrimaryRegion, latency, rtc),
		graph("Replication operations pending, S3 in the primary", in.PrimaryRegion, pending),
		graph("Replication latency (s) seen by readiness", in.BackupRegion, republished, rtc),
	)

	// Readiness, with the alarms' thresholds.
	var rpo []Metric
	for _, path := range []string{drmetrics.PathWorst, drmetrics.PathS3, drmetrics.PathTablePITR, drmetrics.PathTableVault} {
		rpo = append(rpo, readiness(in, drmetrics.EstimatedRPOMinutes, drmetrics.DimPath, path))
	}
	ws = append(ws,
		graph("Estimated RPO (min) per path", in.BackupRegion, rpo, Threshold{Value: float64(in.RPOTargetMinutes), Label: "rpoTargetMinutes"}),
		graph("Readiness: checks failing / warning, primary reachable", in.BackupRegion, []Metric{
			readiness(in, drmetrics.ChecksFailing), readiness(in, drmetrics.ChecksWarning), readiness(in, drmetrics.PrimaryReachable),
		}, Threshold{Value: 1, Label: "alarm: failing >= 1, reachable < 1"}),
		graph("Newest vault recovery point age (min)", in.BackupRegion, []Metric{readiness(in, drmetrics.RecoveryPointAgeMinutes)}),
	)

	// Restore tests and the backup region's aggregator.
	restore := func(name string) Metric {
		return metric(drmetrics.RestoreTestNamespace, name, "Maximum", in.BackupRegion, [][2]string{{drmetrics.DimPrefix, n.Prefix}})
	}
	var age []Threshold
	if in.RestoreTestMaxAgeHours > 0 {
		age = append(age, Threshold{Value: in.RestoreTestMaxAgeHours, Label: "restore test overdue (h)"})
	}
	ws = append(ws,
		graph("Restore test: restore duration (min), the table's measured RTO", in.BackupRegion, []Metric{restore(drmetrics.RestoreMinutes)},
			Threshold{Value: float64(in.RTOTargetMinutes), Label: "rtoTargetMinutes"}),
		graph("Restore test: validation passed, hours since the last pass", in.BackupRegion, []Metric{
			restore(drmetrics.ValidationPassed), readiness(in, drmetrics.HoursSinceRestoreTest),
		}, age...),
		graph("Aggregator on-failure queue depth (backup region)", in.BackupRegion, []Metric{
			metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", in.BackupRegion, [][2]string{{"QueueName", in.AggregatorFailuresQueue}}),
		}, Threshold{Value: 0, Label: "alarm above 0"}),
	)

	// What the last real failover and failback measured of themselves.
	rto := Threshold{Value: float64(in.RTOTargetMinutes), Label: "rtoTargetMinutes"}
	ws = append(ws,
		graph("Last failover: measured RTO (min), start to traffic moved and to table ACTIVE", in.BackupRegion, []Metric{
			readiness(in, drmetrics.LastFailoverRTOMinutes), readiness(in, drmetrics.LastFailoverTableRTOMinutes),
		}, rto),
		graph("Last failover: measured RPO (min), start minus the restore point", in.BackupRegion, []Metric{
			readiness(in, drmetrics.LastFailoverRPOMinutes),
		}, Threshold{Value: float64(in.RPOTargetMinutes), Label: "rpoTargetMinutes"}),
		graph("Last failback: total (min)", in.BackupRegion, []Metric{readiness(in, drmetrics.LastFailbackMinutes)}, rto),
	)
	return ws
}

func metric(namespace, name, stat, region string, dims [][2]string) Metric {
	label := name + " (" + region + ")"
	for _, d := range dims {
		switch d[0] {
		case drmetrics.DimPath, drmetrics.DimBucket, "SourceBucket":
			label = fmt.Sprintf("%s %s (%s)", name, d[1], region)
		}
	}
	return Metric{Namespace: namespace, Name: name, Dimensions: dims, Region: region, Stat: stat, Label: label}
}

// readiness is one of this deployment's DRAnalytics/Readiness metrics,
// published in the backup region; dims are extra name, value pairs.
func readiness(in Input, name string, dims ...string) Metric {
	d := [][2]string{{drmetrics.DimPrefix, in.Names.Prefix}}
	for i := 0; i+1 < len(dims); i += 2 {
		d = append(d, [2]string{dims[i], dims[i+1]})
	}
	return metric(drmetrics.ReadinessNamespace, name, "Maximum", in.BackupRegion, d)
}

// albSearch finds the ingest load balancer's metric in a region: its
// LoadBalancer dimension ("app/<name>/<id>") carries an id that exists only
// once the stack owning the ALB is deployed (the backup one only during
// DR), so the widget searches for the name as a partial match of the
// dimension value (CloudWatch "CloudWatch search expression syntax":
// InstanceType=micro matches t2.micro).
func albSearch(metricName, loadBalancer, region string) Metric {
	return Metric{
		Expression: fmt.Sprintf(`SEARCH('{AWS/ApplicationELB,LoadBalancer} MetricName="%s" LoadBalancer=%s', 'Sum', %d)`, metricName, loadBalancer, PeriodSeconds),
		Region:     region, Label: metricName + " (" + region + ")",
	}
}

// Body renders the dashboard body JSON.
func Body(in Input) (string, error) {
	type annotation struct {
		Value float64 `json:"value"`
		Label string  `json:"label"`
	}
	var widgets []map[string]any
	x, y, rowHeight := 0, 0, 0
	for _, w := range Widgets(in) {
		if x+w.Width > 24 {
			x, y, rowHeight = 0, y+rowHeight, 0
		}
		out := map[string]any{"type": w.Kind, "x": x, "y": y, "width": w.Width, "height": w.Height}
		x, rowHeight = x+w.Width, max(rowHeight, w.Height)
		switch w.Kind {
		case "text":
			out["properties"] = map[string]any{"markdown": w.Markdown}
		case "alarm":
			out["properties"] = map[string]any{"title": w.Title, "alarms": w.AlarmArns}
		case "metric":
			var metrics [][]any
			for i, m := range w.Metrics {
				options := map[string]any{"region": m.Region, "label": m.Label}
				if m.Expression != "" {
					options["expression"], options["id"] = m.Expression, fmt.Sprintf("e%d", i+1)
					metrics = append(metrics, []any{options})
					continue
				}
				options["stat"] = m.Stat
				line := []any{m.Namespace, m.Name}
				for _, d := range m.Dimensions {
					line = append(line, d[0], d[1])
				}
				metrics = append(metrics, append(line, options))
			}
			props := map[string]any{"title": w.Title, "view": "timeSeries", "region": w.Region, "period": PeriodSeconds, "metrics": metrics}
			if len(w.Thresholds) > 0 {
				var lines []annotation
				for _, t := range w.Thresholds {
					lines = append(lines, annotation{t.Value, t.Label})
				}
				props["annotations"] = map[string]any{"horizontal": lines}
			}
			out["properties"] = props
		default:
			return "", fmt.Errorf("dashboard widget %q: unknown kind %q", w.Title, w.Kind)
		}
		widgets = append(widgets, out)
	}
	body, err := json.Marshal(map[string]any{"start": "-PT6H", "widgets": widgets})
	if err != nil {
		return "", fmt.Errorf("encode dashboard body: %w", err)
	}
	return string(body), nil
}
