// Package dashboard builds the one CloudWatch dashboard for DR: both
// regions' ingest path, replication, the readiness metrics with their alarm
// thresholds, restore tests, and which region takes traffic.
//
// Guarantees: every widget names its metric from the names the stacks use
// (internal/naming for resources, internal/drmetrics for the watchers'
// metrics), so nothing is hand-typed twice; every metric carries an explicit
// region, because a dashboard is global ("All dashboards in your account are
// global, not region-specific", AWS::CloudWatch::Dashboard) and each metric
// lives in the region that emits it; Global Accelerator's metrics are read in
// us-west-2, where the service publishes them ("Using Amazon CloudWatch with
// AWS Global Accelerator"). Costs a flat monthly fee, nothing by the hour.
package dashboard

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglobalaccelerator"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Props configures the dashboard.
type Props struct {
	// Names derives every physical name.
	Names naming.Names
	// PrimaryRegion and BackupRegion, e.g. "us-east-1" and "us-west-2".
	PrimaryRegion, BackupRegion string
	// RPOTargetMinutes, RTOTargetMinutes are drawn as thresholds, e.g. 60.
	RPOTargetMinutes, RTOTargetMinutes int
	// RestoreTestMaxAgeHours is drawn on the restore test age, e.g. 174.25; 0 hides it.
	RestoreTestMaxAgeHours float64
	// Accelerator whose endpoint groups' flows show which region takes traffic.
	Accelerator awsglobalaccelerator.Accelerator
	// AggregatorFailures is the backup region's aggregator on-failure queue.
	AggregatorFailures awssqs.IQueue
	// Alarms are shown with their state.
	Alarms []interfacesawscloudwatch.IAlarmRef
}

// period of the graphs.
var period = awscdk.Duration_Minutes(jsii.Number(5))

// New creates the dashboard and the DashboardUrl output.
func New(scope constructs.Construct, id string, props Props) awscloudwatch.Dashboard {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	n := props.Names
	regions := []string{props.PrimaryRegion, props.BackupRegion}
	d := awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(drmetrics.DashboardName(n.Prefix)),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(6)),
	})
	d.AddWidgets(awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
		Markdown: jsii.String(fmt.Sprintf("## DR of %s: primary %s, backup %s\nFail over: `npx aws-cdk@2 deploy BackupFailoverStack --no-rollback` · fail back: `go run ./cmd/drctl failback` · check: `go run ./cmd/drctl status`",
			n.Prefix, props.PrimaryRegion, props.BackupRegion)),
		Width: jsii.Number(24), Height: jsii.Number(2),
	}))
	d.AddWidgets(awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
		Title: jsii.String("DR alarms"), Alarms: &props.Alarms, Width: jsii.Number(24), Height: jsii.Number(3),
	}))

	// Traffic: which region takes it, and how ingest answers.
	accelerator := awscdk.Fn_Select(jsii.Number(1), awscdk.Fn_Split(jsii.String("/"), props.Accelerator.AcceleratorArn(), nil))
	var requests, errors []awscloudwatch.IMetric
	for _, r := range regions {
		requests = append(requests, albSearch("RequestCount", n.IngestLoadBalancer(), r))
		for _, code := range []string{"HTTPCode_Target_4XX_Count", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"} {
			errors = append(errors, albSearch(code, n.IngestLoadBalancer(), r))
		}
	}
	d.AddWidgets(
		graph("Traffic by region (new flows per endpoint group)", []awscloudwatch.IMetric{awscloudwatch.NewSearchExpression(&awscloudwatch.SearchExpressionProps{
			Expression:   jsii.String(fmt.Sprintf(`SEARCH('{AWS/GlobalAccelerator,Accelerator,Listener,EndpointGroup} MetricName="NewFlowCount" Accelerator="%s"', 'Sum', 300)`, *accelerator)),
			Label:        jsii.String(""),
			Period:       period,
			SearchRegion: jsii.String(config.GlobalAcceleratorControlRegion),
		})}, nil),
		graph("Ingest requests per region", requests, nil),
		graph("Ingest 4xx / 5xx per region", errors, nil),
	)

	// The pipeline in each region (the backup region's exists during DR).
	var incoming, iterator, freshness []awscloudwatch.IMetric
	for _, r := range regions {
		stream := map[string]string{"StreamName": n.Stream()}
		incoming = append(incoming, metric("AWS/Kinesis", "IncomingRecords", "Sum", r, stream))
		iterator = append(iterator, metric("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "Maximum", r, stream))
		freshness = append(freshness, metric("AWS/Firehose", "DeliveryToS3.DataFreshness", "Maximum", r, map[string]string{"DeliveryStreamName": n.DeliveryStream()}))
	}
	d.AddWidgets(
		graph("Kinesis records in per region", incoming, nil),
		graph("Kinesis iterator age (ms) per region", iterator, nil),
		graph("Firehose data freshness (s) per region", freshness, nil),
	)

	// Replication, as S3 measures it in the primary region and as readiness republishes it in the backup region.
	var latency, pending, republished []awscloudwatch.IMetric
	for _, p := range []naming.Purpose{naming.Streaming, naming.Batch} {
		dims := map[string]string{
			"SourceBucket":      n.Bucket(p, props.PrimaryRegion),
			"DestinationBucket": n.Bucket(p, props.BackupRegion),
			"RuleId":            n.ReplicationRuleID(p, props.BackupRegion),
		}
		latency = append(latency, metric("AWS/S3", "ReplicationLatency", "Maximum", props.PrimaryRegion, dims))
		pending = append(pending, metric("AWS/S3", "OperationsPendingReplication", "Maximum", props.PrimaryRegion, dims))
		republished = append(republished, readiness(n, props.BackupRegion, drmetrics.ReplicationLatencySeconds, map[string]string{drmetrics.DimBucket: string(p)}))
	}
	d.AddWidgets(
		graph("Replication latency (s), S3 in the primary", latency, []float64{900}),
		graph("Replication operations pending, S3 in the primary", pending, nil),
		graph("Replication latency (s) seen by readiness", republished, []float64{900}),
	)

	// Readiness.
	var rpo []awscloudwatch.IMetric
	for _, path := range []string{drmetrics.PathWorst, drmetrics.PathS3, drmetrics.PathTablePITR, drmetrics.PathTableVault} {
		rpo = append(rpo, readiness(n, props.BackupRegion, drmetrics.EstimatedRPOMinutes, map[string]string{drmetrics.DimPath: path}))
	}
	var restoreAge []float64
	if props.RestoreTestMaxAgeHours > 0 {
		restoreAge = []float64{props.RestoreTestMaxAgeHours}
	}
	d.AddWidgets(
		graph("Estimated RPO (min) per path", rpo, []float64{float64(props.RPOTargetMinutes)}),
		graph("Readiness checks failing / warning, primary reachable", []awscloudwatch.IMetric{
			readiness(n, props.BackupRegion, drmetrics.ChecksFailing, nil),
			readiness(n, props.BackupRegion, drmetrics.ChecksWarning, nil),
			readiness(n, props.BackupRegion, drmetrics.PrimaryReachable, nil),
		}, []float64{1}),
		graph("Newest vault recovery point age (min)", []awscloudwatch.IMetric{readiness(n, props.BackupRegion, drmetrics.RecoveryPointAgeMinutes, nil)}, nil),
	)

	// Restore tests and the backup aggregator.
	restore := func(name string) awscloudwatch.IMetric {
		return metric(drmetrics.RestoreTestNamespace, name, "Maximum", props.BackupRegion, map[string]string{drmetrics.DimPrefix: n.Prefix})
	}
	d.AddWidgets(
		graph("Restore test: restore duration (min), the table's measured RTO", []awscloudwatch.IMetric{restore(drmetrics.RestoreMinutes)}, []float64{float64(props.RTOTargetMinutes)}),
		graph("Restore test: validation passed, hours since the last pass", []awscloudwatch.IMetric{
			restore(drmetrics.ValidationPassed),
			readiness(n, props.BackupRegion, drmetrics.HoursSinceRestoreTest, nil),
		}, restoreAge),
		graph("Aggregator on-failure queue depth (backup region)", []awscloudwatch.IMetric{
			props.AggregatorFailures.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
				Statistic: jsii.String("Maximum"), Period: period, Region: jsii.String(props.BackupRegion),
			}),
		}, []float64{0}),
	)

	awscdk.NewCfnOutput(scope, jsii.String("DashboardUrl"), &awscdk.CfnOutputProps{
		Key:         jsii.String("DashboardUrl"),
		Description: jsii.String("The DR dashboard in the backup region's console"),
		Value:       jsii.String(drmetrics.DashboardURL(n.Prefix, props.BackupRegion)),
	})
	return d
}

func metric(namespace, name, statistic, region string, dims map[string]string) awscloudwatch.Metric {
	d := map[string]*string{}
	for k, v := range dims {
		d[k] = jsii.String(v)
	}
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(namespace), MetricName: jsii.String(name), DimensionsMap: &d,
		Statistic: jsii.String(statistic), Period: period, Region: jsii.String(region),
		Label: jsii.String(label(name, region, dims)),
	})
}

// readiness is a DRAnalytics/Readiness metric of this deployment.
func readiness(n naming.Names, region, name string, dims map[string]string) awscloudwatch.Metric {
	all := map[string]string{drmetrics.DimPrefix: n.Prefix}
	for k, v := range dims {
		all[k] = v
	}
	return metric(drmetrics.ReadinessNamespace, name, "Maximum", region, all)
}

func label(name, region string, dims map[string]string) string {
	for _, k := range []string{drmetrics.DimPath, drmetrics.DimBucket, "SourceBucket"} {
		if v, ok := dims[k]; ok {
			return fmt.Sprintf("%s %s (%s)", name, v, region)
		}
	}
	return fmt.Sprintf("%s (%s)", name, region)
}

// albSearch finds the ingest load balancer's metric in a region: its
// LoadBalancer dimension ("app/<name>/<id>") carries an id that only exists
// once the stack that owns the ALB is deployed, so the widget searches by
// the name, a partial match of the dimension value (CloudWatch "Search
// expression syntax": InstanceType=micro matches t2.micro).
func albSearch(metricName, loadBalancer, region string) awscloudwatch.IMetric {
	return awscloudwatch.NewSearchExpression(&awscloudwatch.SearchExpressionProps{
		Expression:   jsii.String(fmt.Sprintf(`SEARCH('{AWS/ApplicationELB,LoadBalancer} MetricName="%s" LoadBalancer=%s', 'Sum', 300)`, metricName, loadBalancer)),
		Label:        jsii.String(metricName + " (" + region + ")"),
		Period:       period,
		SearchRegion: jsii.String(region),
	})
}

func graph(title string, metrics []awscloudwatch.IMetric, thresholds []float64) awscloudwatch.GraphWidget {
	var annotations []*awscloudwatch.HorizontalAnnotation
	for _, t := range thresholds {
		annotations = append(annotations, &awscloudwatch.HorizontalAnnotation{Value: jsii.Number(t), Label: jsii.String(fmt.Sprintf("threshold %g", t))})
	}
	return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String(title), Left: &metrics, LeftAnnotations: &annotations,
		Width: jsii.Number(8), Height: jsii.Number(6),
	})
}
