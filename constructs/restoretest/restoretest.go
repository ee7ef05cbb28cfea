// Package restoretest restores the aggregates table from its newest copy in
// the backup vault on a schedule, validates it and deletes it: the measured
// RTO of the table, from the backup region alone. Why a state machine and
// not an AWS Backup restore testing plan: see internal/restoretest.
//
// Guarantees: the test restores into a throwaway table
// ("<prefix>-restore-test-..."), the only tables its function may delete;
// every run records its result (SSM) and metrics (DRAnalytics/RestoreTest),
// so readiness sees a stale or failed test; alarms fire on a failed
// validation, a restore slower than the RTO target, and a failed, timed out
// or aborted execution. Idle cost is nil: a schedule, a state machine, a
// function; the restore itself bills per test (DynamoDB restore per GB).
package restoretest

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/gofunction"
	"github.com/dr-analytics/drplan/constructs/loggroup"
	"github.com/dr-analytics/drplan/constructs/nag"
	"github.com/dr-analytics/drplan/constructs/scheduler"
	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/naming"
	rt "github.com/dr-analytics/drplan/internal/restoretest"
)

// Timeout bounds one test execution: a restore of a large table takes
// hours; readiness.RestoreTestWindow allows for it.
const Timeout = 6 * time.Hour

// PollInterval is how often the state machine asks whether the restore job
// has ended.
const PollInterval = 5 * time.Minute

// Props configures the restore test.
type Props struct {
	// Names derives every physical name.
	Names naming.Names
	// PrimaryRegion is the table's home, whose copies the vault holds, e.g. "us-east-1".
	PrimaryRegion string
	// BackupRegion runs the test, e.g. "us-west-2".
	BackupRegion string
	// Schedule is the EventBridge Scheduler cron (UTC), e.g.
	// "cron(0 6 ? * SUN *)", or "" for no schedule (manual runs only).
	Schedule string
	// RTOTargetMinutes is the restore duration alarm's threshold, e.g. 60.
	RTOTargetMinutes int
	// RestoreRole is the role AWS Backup assumes to restore from the vault.
	RestoreRole awsiam.IRole
	// Alerts receives the alarms.
	Alerts *alerts.Alerts
	// LogRetentionDays for the logs, e.g. 90.
	LogRetentionDays int
}

// RestoreTest is the scheduled restore test.
type RestoreTest struct {
	stateMachine awsstepfunctions.StateMachine
	alarms       []awscloudwatch.Alarm
}

// New creates the function, the state machine, its schedule and alarms.
func New(scope constructs.Construct, id string, props Props) *RestoreTest {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	n, region := props.Names, props.BackupRegion
	fn := gofunction.New(scope, "Function", gofunction.Props{
		Package:      "./lambdas/restoretest",
		FunctionName: n.Function("restore-test"),
		Description:  "Restores the aggregates table from the backup vault, validates and deletes it (scheduled restore test)",
		Environment: map[string]string{"PREFIX": n.Prefix, "ACCOUNT": n.Account, "PRIMARY_REGION": props.PrimaryRegion,
			"RESTORE_ROLE_ARN": *props.RestoreRole.RoleArn()},
		Timeout:          2 * time.Minute,
		LogRetentionDays: props.LogRetentionDays,
	})
	recoveryPoints := fmt.Sprintf("arn:aws:backup:%s:%s:recovery-point:*", region, n.Account)
	throwaway := fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s*", region, n.Account, rt.TablePrefix(n.Prefix))
	fn.AllowTo([]string{"backup:ListRecoveryPointsByBackupVault"}, n.BackupVaultArn(region))
	fn.AllowTo([]string{"backup:StartRestoreJob"}, recoveryPoints)
	// Neither has resource-level permissions; ListTables finds throwaway
	// tables earlier tests left behind.
	fn.AllowTo([]string{"backup:DescribeRestoreJob", "dynamodb:ListTables"}, "*")
	// Query reads the throwaway table's by-writer-hour index (an index ARN
	// extends the table's, so the pattern covers it).
	fn.AllowTo([]string{"dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:Query", "dynamodb:DeleteTable"}, throwaway)
	fn.AllowTo([]string{"ssm:GetParameter", "ssm:PutParameter"}, fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", region, n.Account, rt.RecordParameter(n.Prefix)))
	fn.Role().AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings("iam:PassRole"),
		Resources:  jsii.Strings(*props.RestoreRole.RoleArn()),
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "backup.amazonaws.com"}},
	}))
	nag.Suppress(fn.Role(), "IAM5", "DescribeRestoreJob has no resource-level permissions; the newest recovery point's id is known only when the test runs; the throwaway table's name carries the test's start time, and only tables with the restore-test prefix may be read or deleted.",
		nag.AnyResource, nag.Resource(recoveryPoints), nag.Resource(throwaway))

	t := &RestoreTest{}
	t.stateMachine = awsstepfunctions.NewStateMachine(scope, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName: jsii.String(rt.StateMachineName(n.Prefix)),
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromChainable(definition(scope, fn)),
		Timeout:          awscdk.Duration_Seconds(jsii.Number(Timeout.Seconds())),
		TracingEnabled:   jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination: loggroup.New(scope, "StateMachineLogs", props.LogRetentionDays, ""),
			Level:       awsstepfunctions.LogLevel_ALL,
		},
	})
	nag.Suppress(t.stateMachine, "IAM5", "Invoking the restore test function also allows its versions; CloudWatch Logs delivery and X-Ray tracing actions have no resource-level permissions.",
		nag.AnyResource, nag.Attribute(fn.Function(), "Arn", ":*"))

	if props.Schedule != "" {
		role := awsiam.NewRole(scope, jsii.String("SchedulerRole"), &awsiam.RoleProps{
			AssumedBy:   scheduler.Principal(),
			Description: jsii.String("Starts the scheduled table restore test"),
		})
		t.stateMachine.GrantStartExecution(role)
		awsscheduler.NewCfnSchedule(scope, jsii.String("Schedule"), &awsscheduler.CfnScheduleProps{
			Name:                       jsii.String(rt.StateMachineName(n.Prefix)),
			Description:                jsii.String("Restores the aggregates table from the backup vault and validates it"),
			ScheduleExpression:         jsii.String(props.Schedule),
			ScheduleExpressionTimezone: jsii.String("UTC"),
			FlexibleTimeWindow:         &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
			State:                      jsii.String("ENABLED"),
			Target: &awsscheduler.CfnSchedule_TargetProperty{
				Arn:     t.stateMachine.StateMachineArn(),
				RoleArn: role.RoleArn(),
				Input:   jsii.String("{}"),
				RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
					MaximumRetryAttempts:     jsii.Number(5),
					MaximumEventAgeInSeconds: jsii.Number(3600),
				},
			},
		})
	}

	day := awscdk.Duration_Days(jsii.Number(1))
	metric := func(name, statistic string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(drmetrics.RestoreTestNamespace), MetricName: jsii.String(name),
			DimensionsMap: &map[string]*string{drmetrics.DimPrefix: jsii.String(n.Prefix)},
			Statistic:     jsii.String(statistic), Period: day,
		})
	}
	// One datapoint per test: missing data between tests is normal here;
	// readiness' restore-test-overdue alarm watches for tests that stop.
	alarm := func(id, description string, m awscloudwatch.IMetric, threshold float64, op awscloudwatch.ComparisonOperator) {
		t.alarms = append(t.alarms, props.Alerts.Alarm(scope, id, &awscloudwatch.AlarmProps{
			AlarmName: jsii.String(n.Prefix + "-" + id), AlarmDescription: jsii.String(description),
			Metric: m, Threshold: jsii.Number(threshold), ComparisonOperator: op, EvaluationPeriods: jsii.Number(1),
			TreatMissingData: awscloudwatch.TreatMissingData_NOT_BREACHING,
		}))
	}
	alarm("restore-test-failed",
		"The table restore test's validation failed: the newest copy in the backup vault did not restore into a usable aggregates table. `drctl status` (line restore test) says why.",
		metric(drmetrics.ValidationPassed, "Minimum"), 1, awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD)
	alarm("restore-slower-than-rto",
		fmt.Sprintf("The table restore test's restore took longer than rtoTargetMinutes = %d min: a failover from the vault would miss the RTO.", props.RTOTargetMinutes),
		metric(drmetrics.RestoreMinutes, "Maximum"), float64(props.RTOTargetMinutes), awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD)
	alarm("restore-test-execution-failed",
		"A restore test execution failed, timed out or was aborted (for example: no completed copy in the backup vault, or a restore job that never ended). See the state machine's execution history.",
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("failed + timedOut + aborted"),
			Label:      jsii.String("unsuccessful executions"),
			Period:     day,
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"failed":   t.stateMachine.MetricFailed(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: day}),
				"timedOut": t.stateMachine.MetricTimedOut(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: day}),
				"aborted":  t.stateMachine.MetricAborted(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: day}),
			},
		}), 0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD)
	return t
}

// StateMachine runs one test.
func (t *RestoreTest) StateMachine() awsstepfunctions.StateMachine { return t.stateMachine }

// Alarms are the restore test's alarms, for the dashboard.
func (t *RestoreTest) Alarms() []awscloudwatch.Alarm { return t.alarms }

// definition: Start -> (Wait -> Check)* until the job ended -> Finish.
func definition(scope constructs.Construct, fn *gofunction.GoFunction) awsstepfunctions.IChainable {
	step := func(id, action string, job bool) awsstepfunctionstasks.LambdaInvoke {
		payload := map[string]any{"action": action}
		if job {
			payload["job"] = awsstepfunctions.JsonPath_ObjectAt(jsii.String("$.job"))
		}
		// LambdaInvoke retries Lambda's own service errors by default; a
		// function error (a failed test) fails the execution.
		return awsstepfunctionstasks.NewLambdaInvoke(scope, jsii.String(id), &awsstepfunctionstasks.LambdaInvokeProps{
			LambdaFunction:      fn.Function(),
			Payload:             awsstepfunctions.TaskInput_FromObject(&payload),
			PayloadResponseOnly: jsii.Bool(true),
			ResultPath:          jsii.String("$.job"),
		})
	}
	start := step("Start", rt.ActionStart, false)
	wait := awsstepfunctions.NewWait(scope, jsii.String("WaitForRestore"), &awsstepfunctions.WaitProps{
		Time: awsstepfunctions.WaitTime_Duration(awscdk.Duration_Seconds(jsii.Number(PollInterval.Seconds()))),
	})
	check := step("Check", rt.ActionCheck, true)
	finish := step("Finish", rt.ActionFinish, true)
	// A Check that keeps failing (AWS Backup throttling, say) still ends
	// in Finish, which deletes the throwaway table and records the
	// failure; the error goes beside the job.
	check.AddRetry(&awsstepfunctions.RetryProps{
		Errors: jsii.Strings("States.TaskFailed"), Interval: awscdk.Duration_Seconds(jsii.Number(30)),
		MaxAttempts: jsii.Number(3), BackoffRate: jsii.Number(2),
	})
	check.AddCatch(finish, &awsstepfunctions.CatchProps{Errors: jsii.Strings("States.ALL"), ResultPath: jsii.String("$.error")})
	// The function decides when a job has ended (restoretest.Job.Done).
	ended := awsstepfunctions.Condition_BooleanEquals(jsii.String("$.job.ended"), jsii.Bool(true))
	done := awsstepfunctions.NewChoice(scope, jsii.String("RestoreEnded"), nil).
		When(ended, finish, nil).
		Otherwise(wait)
	return start.Next(wait).Next(check).Next(done)
}
