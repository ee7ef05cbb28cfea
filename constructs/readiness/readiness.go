// Package readiness runs the `drctl status` checks on a schedule in the
// backup region and alarms on what they find, so DR readiness is watched
// instead of remembered.
//
// Guarantees: one Lambda function, started by EventBridge Scheduler every
// IntervalMinutes, publishes the checks as metrics (drmetrics,
// DRAnalytics/Readiness) from the backup region, so the watcher keeps
// working when the primary region is gone; every call it makes to the
// primary has a short deadline (readiness.WatchCallTimeout) and a primary
// that does not answer is a finding, never a failed run. Nothing here is
// billed by the hour: a schedule, a function, its log group and alarms.
//
// Alarms (CloudWatch alarms watch metrics of their own region only, which
// is why the checks are republished here), each on two of the last three
// runs, and what missing data means:
//   - a check failing for two runs; missing data is breaching: no datapoint
//     means the watcher itself stopped;
//   - the estimated RPO above the target for two runs; missing is breaching:
//     the watcher stopped, or the table's RPO could not be estimated at all;
//   - the primary region not answering for two runs; missing is NOT
//     breaching: this alarm tells an operator to fail over, so it fires on
//     evidence only (a dead watcher raises the checks alarm instead);
//   - hours since the last passed restore test above the schedule plus the
//     test's window (when restore tests are on); missing is breaching: no
//     test has ever passed, or the watcher stopped.
package readiness

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglobalaccelerator"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/gofunction"
	"github.com/dr-analytics/drplan/constructs/nag"
	"github.com/dr-analytics/drplan/constructs/scheduler"
	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/naming"
	checks "github.com/dr-analytics/drplan/internal/readiness"
	"github.com/dr-analytics/drplan/internal/restoretest"
)

// FailoverCommand is the failover runbook's first command; the primary
// unreachable alarm carries it.
const FailoverCommand = "npx aws-cdk@2 deploy BackupFailoverStack --no-rollback"

// Props configures the scheduled readiness run.
type Props struct {
	// Names derives every physical name; Prefix is the metrics' Prefix dimension.
	Names naming.Names
	// PrimaryRegion and BackupRegion, e.g. "us-east-1" and "us-west-2".
	PrimaryRegion, BackupRegion string
	// ContextJSON is the configuration the function validates at start,
	// e.g. readiness.ContextJSON(cfg).
	ContextJSON string
	// IntervalMinutes between runs, e.g. 15.
	IntervalMinutes int
	// RPOTargetMinutes is the RPO alarm's threshold, e.g. 60.
	RPOTargetMinutes int
	// RestoreTestMaxAge is how old the last passed restore test may grow,
	// e.g. 7 days plus the test's window; zero when restore tests are off.
	RestoreTestMaxAge time.Duration
	// Accelerator is the Global Accelerator whose groups the checks read.
	Accelerator awsglobalaccelerator.Accelerator
	// Alerts receives the alarms.
	Alerts *alerts.Alerts
	// LogRetentionDays for the function's logs, e.g. 90.
	LogRetentionDays int
}

// Readiness is the scheduled readiness run and its alarms.
type Readiness struct {
	alarms []awscloudwatch.Alarm
}

// New creates the function, its schedule and the alarms.
func New(scope constructs.Construct, id string, props Props) *Readiness {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	n, primary, backup := props.Names, props.PrimaryRegion, props.BackupRegion
	fn := gofunction.New(scope, "Function", gofunction.Props{
		Package:      "./lambdas/readiness",
		FunctionName: n.Function("readiness"),
		Description:  "Runs the drctl status checks on a schedule and publishes them as DRAnalytics/Readiness metrics",
		Environment:  map[string]string{"DR_CONTEXT": props.ContextJSON},
		// Checks run concurrently; the longest chain is a few calls of
		// readiness.WatchCallTimeout each.
		Timeout:          time.Minute,
		MemoryMB:         256,
		LogRetentionDays: props.LogRetentionDays,
	})
	account := n.Account
	stackArn := func(region, name string) string {
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/*", region, account, name)
	}
	parameterArn := func(name string) string {
		return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", backup, account, name)
	}
	fn.AllowTo([]string{"s3:GetReplicationConfiguration"}, n.BucketArn(naming.Streaming, primary), n.BucketArn(naming.Batch, primary))
	fn.AllowTo([]string{"dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable"}, n.TableArn(primary), n.TableArn(backup))
	fn.AllowTo([]string{"backup:ListRecoveryPointsByBackupVault"}, n.BackupVaultArn(backup))
	fn.AllowTo([]string{"ssm:GetParameter"}, parameterArn(checks.BootstrapParameter), n.ListenerParameterArn(backup),
		n.FailoverStartedParameterArn(backup), parameterArn(restoretest.RecordParameter(n.Prefix)),
		n.FailoverRecordParameterArn(backup), n.FailbackRecordParameterArn(backup))
	fn.AllowTo([]string{"cloudformation:DescribeStacks"}, stackArn(backup, naming.BackupStack), stackArn(backup, naming.BackupFailoverStack),
		stackArn(backup, checks.BootstrapStack), stackArn(primary, naming.PrimaryStack))
	accelerator := *props.Accelerator.AcceleratorArn()
	fn.AllowTo([]string{"globalaccelerator:DescribeAccelerator", "globalaccelerator:ListEndpointGroups"}, accelerator, accelerator+"/*")
	// GetMetricData and DescribeRegionSettings have no resource-level
	// permissions (Service Authorization Reference: Amazon CloudWatch, AWS Backup).
	fn.AllowTo([]string{"cloudwatch:GetMetricData", "backup:DescribeRegionSettings"}, "*")
	findings := []string{nag.AnyResource, nag.Attribute(props.Accelerator, "AcceleratorArn", "/*")}
	for _, s := range []string{stackArn(backup, naming.BackupStack), stackArn(backup, naming.BackupFailoverStack), stackArn(backup, checks.BootstrapStack), stackArn(primary, naming.PrimaryStack)} {
		findings = append(findings, nag.Resource(s))
	}
	nag.Suppress(fn.Role(), "IAM5", "Read-only: CloudWatch GetMetricData and AWS Backup DescribeRegionSettings have no resource-level permissions; stack ARNs end in a stack id generated at creation; the accelerator pattern covers exactly this accelerator's listener.",
		findings...)

	role := awsiam.NewRole(scope, jsii.String("SchedulerRole"), &awsiam.RoleProps{
		AssumedBy:   scheduler.Principal(),
		Description: jsii.String("Starts the scheduled readiness run"),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: jsii.Strings(*fn.Function().FunctionArn()),
	}))
	awsscheduler.NewCfnSchedule(scope, jsii.String("Schedule"), &awsscheduler.CfnScheduleProps{
		Name:        jsii.String(n.Function("readiness")),
		Description: jsii.String("Runs the DR readiness checks"),
		// rate(value unit): "minute" for 1, "minutes" above (EventBridge
		// Scheduler User Guide, "Schedule types", rate-based schedules).
		ScheduleExpression: jsii.String(RateExpression(props.IntervalMinutes)),
		FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
		State:              jsii.String("ENABLED"),
		Target: &awsscheduler.CfnSchedule_TargetProperty{
			Arn:     fn.Function().FunctionArn(),
			RoleArn: role.RoleArn(),
			// A missed run is replaced by the next one: no backlog of stale runs.
			RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
				MaximumRetryAttempts:     jsii.Number(2),
				MaximumEventAgeInSeconds: jsii.Number(max(60, props.IntervalMinutes*60/2)),
			},
		},
	})

	r := &Readiness{}
	period := awscdk.Duration_Minutes(jsii.Number(props.IntervalMinutes))
	metric := func(name, statistic string, dims map[string]string) awscloudwatch.Metric {
		d := map[string]*string{drmetrics.DimPrefix: jsii.String(n.Prefix)}
		for k, v := range dims {
			d[k] = jsii.String(v)
		}
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(drmetrics.ReadinessNamespace), MetricName: jsii.String(name),
			DimensionsMap: &d, Statistic: jsii.String(statistic), Period: period,
		})
	}
	alarm := func(id, description string, m awscloudwatch.Metric, threshold float64, op awscloudwatch.ComparisonOperator, missing awscloudwatch.TreatMissingData) {
		r.alarms = append(r.alarms, props.Alerts.Alarm(scope, id, &awscloudwatch.AlarmProps{
			AlarmName: jsii.String(n.Prefix + "-" + id), AlarmDescription: jsii.String(description),
			Metric: m, Threshold: jsii.Number(threshold), ComparisonOperator: op, TreatMissingData: missing,
			// Two of the last three runs: one late datapoint (EMF is
			// extracted from the log asynchronously) never alarms alone.
			EvaluationPeriods: jsii.Number(3), DatapointsToAlarm: jsii.Number(2),
		}))
	}
	alarm("readiness-check-failing",
		"A DR readiness check has failed for two runs, or the readiness function stopped reporting (missing data counts as failing). Run `go run ./cmd/drctl status` for the failing line and what to do.",
		metric(drmetrics.ChecksFailing, "Maximum", nil), 1, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, awscloudwatch.TreatMissingData_BREACHING)
	alarm("rpo-above-target",
		fmt.Sprintf("The estimated RPO (worse of the S3 and table paths) has been above rpoTargetMinutes = %d min for two runs, or could not be estimated (missing data counts as breaching). `drctl status` shows which path bounds it.", props.RPOTargetMinutes),
		metric(drmetrics.EstimatedRPOMinutes, "Maximum", map[string]string{drmetrics.DimPath: drmetrics.PathWorst}), float64(props.RPOTargetMinutes),
		awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, awscloudwatch.TreatMissingData_BREACHING)
	alarm("primary-unreachable",
		fmt.Sprintf("The primary region %s has not answered the readiness function for two runs (%d min apart). If it stays down, fail over from this repository: %s (README, Failover runbook).", primary, props.IntervalMinutes, FailoverCommand),
		metric(drmetrics.PrimaryReachable, "Maximum", nil), 1, awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD, awscloudwatch.TreatMissingData_NOT_BREACHING)
	if props.RestoreTestMaxAge > 0 {
		hours := props.RestoreTestMaxAge.Hours()
		alarm("restore-test-overdue",
			fmt.Sprintf("No table restore test has passed for more than %s h (the schedule plus the test's window), or none ever has (missing data counts as overdue). See the %s state machine's executions and `drctl status`.", trim(hours), restoretest.StateMachineName(n.Prefix)),
			metric(drmetrics.HoursSinceRestoreTest, "Maximum", nil), hours, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, awscloudwatch.TreatMissingData_BREACHING)
	}
	return r
}

// Alarms are the readiness alarms, for the dashboard.
func (r *Readiness) Alarms() []awscloudwatch.Alarm { return r.alarms }

// RateExpression is an EventBridge Scheduler rate for a whole number of minutes.
func RateExpression(minutes int) string {
	if minutes == 1 {
		return "rate(1 minute)"
	}
	return fmt.Sprintf("rate(%d minutes)", minutes)
}

func trim(f float64) string { return fmt.Sprintf("%g", f) }
