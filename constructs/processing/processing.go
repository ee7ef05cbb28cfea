// Package processing builds the two consumers of the event stream: the
// aggregator (Lambda with a 60 s tumbling window writing exact, idempotent
// per-window counts to DynamoDB) and the nightly compaction (EventBridge
// Scheduler -> Step Functions -> Athena UNLOAD -> Parquet in the batch
// bucket).
//
// Like ingest, it has a Foundation, billed only by use (functions, roles,
// queues, the state machine, the Athena workgroup), and a Pipeline that does
// the work (the stream's event source mapping and the nightly schedule).
package processing

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsathena"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctionstasks"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/databucket"
	"github.com/dr-analytics/drplan/constructs/gofunction"
	"github.com/dr-analytics/drplan/constructs/loggroup"
	"github.com/dr-analytics/drplan/constructs/nag"
	"github.com/dr-analytics/drplan/constructs/scheduler"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Window is the aggregator's tumbling window.
const Window = 60 * time.Second

// RecordAge bounds how long the aggregator retries a window: the stream's
// retention, after which Kinesis drops the records anyway.
const RecordAge = 24 * time.Hour

// MaxRetries is the event source mapping's retry bound. Each failed attempt
// waits inside the function while the table is missing, so in practice the
// record age bound ends retries first.
const MaxRetries = 10000

// FoundationProps configures the part billed only by use.
type FoundationProps struct {
	// Names derives every physical name.
	Names naming.Names
	// Region is where this runs, e.g. "us-west-2".
	Region string
	// StreamKey encrypts the stream the aggregator reads.
	StreamKey awskms.IKey
	// StreamingBucketName holds raw/ (read by Athena).
	StreamingBucketName string
	// BatchBucketName receives compacted/.
	BatchBucketName string
	// AccessLogs receives the results bucket's access logs.
	AccessLogs awss3.IBucket
	// CatalogArns are the Glue catalog, database and table ARNs Athena may read.
	CatalogArns []string
	// AggregateKey is the event field to count by, e.g. "type".
	AggregateKey string
	// NoncurrentVersionDays for the results bucket, e.g. 30.
	NoncurrentVersionDays int
	// LogRetentionDays for every log group, e.g. 90.
	LogRetentionDays int
	// Alerts receives the failure alarms.
	Alerts *alerts.Alerts
}

// Foundation is the part of processing billed only by use.
type Foundation struct {
	props         FoundationProps
	aggregator    *gofunction.GoFunction
	failures      awssqs.Queue
	stateMachine  awsstepfunctions.StateMachine
	schedulerRole awsiam.Role
}

// NewFoundation creates the part billed only by use.
func NewFoundation(scope constructs.Construct, id string, props FoundationProps) *Foundation {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	s := &Foundation{props: props}
	s.newAggregator(scope)
	s.newCompaction(scope)
	return s
}

func (s *Foundation) newAggregator(scope constructs.Construct) {
	n, region := s.props.Names, s.props.Region
	s.aggregator = gofunction.New(scope, "Aggregator", gofunction.Props{
		Package:      "./lambdas/aggregator",
		FunctionName: n.Function("aggregator"),
		Description:  "Counts events per key in 60 s tumbling windows into the aggregates table",
		Environment:  map[string]string{"TABLE_NAME": n.Table(), "AGGREGATE_KEY": s.props.AggregateKey},
		Timeout:      60 * time.Second,
		MemoryMB:     512,
		// One window per shard at a time; the stream is on-demand.
		LogRetentionDays: s.props.LogRetentionDays,
	})
	s.aggregator.AllowTo([]string{"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"}, n.StreamArn(region))
	// The table is restored under this name during failover; the grant
	// does not depend on the table existing.
	s.aggregator.AllowTo([]string{"dynamodb:BatchWriteItem", "dynamodb:DescribeTable"}, n.TableArn(region))
	s.aggregator.AllowTo([]string{"kms:Decrypt"}, *s.props.StreamKey.KeyArn())

	dlq := awssqs.NewQueue(scope, jsii.String("AggregatorFailures"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nag.Suppress(dlq, "SQS3", "This queue is itself the on-failure destination of the aggregator; it records which stream batches were given up so an operator can replay them.")
	dlq.GrantSendMessages(s.aggregator.Role())
	s.failures = dlq
	alarm := awscloudwatch.NewAlarm(scope, jsii.String("AggregatorFailuresAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("The aggregator gave up on stream records: their windows are missing from the aggregates table. The queue message names the shard and sequence numbers to replay."),
		Metric:             dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	s.props.Alerts.Notify(alarm)
}

func (s *Foundation) newCompaction(scope constructs.Construct) {
	n, region := s.props.Names, s.props.Region
	resultsName := n.Bucket(naming.AthenaResults, region)
	results := databucket.New(scope, "Results", databucket.Props{
		BucketName:            resultsName,
		AccessLogs:            s.props.AccessLogs,
		NoncurrentVersionDays: s.props.NoncurrentVersionDays,
	}).Bucket()
	for _, prefix := range []string{naming.AthenaResultsPrefix, naming.CompactionStagingPrefix} {
		results.AddLifecycleRule(&awss3.LifecycleRule{
			Id:         jsii.String("expire-" + prefix[:len(prefix)-1]),
			Prefix:     jsii.String(prefix),
			Expiration: awscdk.Duration_Days(jsii.Number(7)),
		})
	}
	// Failback's S3 Batch Operations manifests and completion reports:
	// kept as long as S3 keeps the jobs (90 days after they end,
	// "Troubleshooting S3 Batch Operations").
	results.AddLifecycleRule(&awss3.LifecycleRule{
		Id:         jsii.String("expire-failback-jobs"),
		Prefix:     jsii.String(naming.FailbackJobsPrefix),
		Expiration: awscdk.Duration_Days(jsii.Number(90)),
	})

	workGroup := awsathena.NewCfnWorkGroup(scope, jsii.String("WorkGroup"), &awsathena.CfnWorkGroupProps{
		Name:                  jsii.String(n.WorkGroup()),
		Description:           jsii.String("Nightly compaction of raw events into Parquet"),
		State:                 jsii.String("ENABLED"),
		RecursiveDeleteOption: jsii.Bool(true),
		WorkGroupConfiguration: &awsathena.CfnWorkGroup_WorkGroupConfigurationProperty{
			EnforceWorkGroupConfiguration:   jsii.Bool(true),
			PublishCloudWatchMetricsEnabled: jsii.Bool(true),
			EngineVersion:                   &awsathena.CfnWorkGroup_EngineVersionProperty{SelectedEngineVersion: jsii.String("Athena engine version 3")},
			ResultConfiguration: &awsathena.CfnWorkGroup_ResultConfigurationProperty{
				OutputLocation:          jsii.String(fmt.Sprintf("s3://%s/%s", resultsName, naming.AthenaResultsPrefix)),
				EncryptionConfiguration: &awsathena.CfnWorkGroup_EncryptionConfigurationProperty{EncryptionOption: jsii.String("SSE_S3")},
			},
		},
	})

	compactor := gofunction.New(scope, "Compactor", gofunction.Props{
		Package:      "./lambdas/compaction",
		FunctionName: n.Function("compaction"),
		Description:  "Plans a day's UNLOAD query and publishes its Parquet files under deterministic names",
		Environment: map[string]string{
			"DATABASE":       n.Database(),
			"RAW_TABLE":      naming.RawTable,
			"RESULTS_BUCKET": resultsName,
			"BATCH_BUCKET":   s.props.BatchBucketName,
		},
		Timeout:          5 * time.Minute,
		LogRetentionDays: s.props.LogRetentionDays,
	})
	resultsArn, batchArn := "arn:aws:s3:::"+resultsName, "arn:aws:s3:::"+s.props.BatchBucketName
	listPrefix := func(bucketArn, prefix string) {
		compactor.Role().AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:    jsii.Strings("s3:ListBucket"),
			Resources:  jsii.Strings(bucketArn),
			Conditions: &map[string]any{"StringLike": map[string]any{"s3:prefix": prefix + "*"}},
		}))
	}
	listPrefix(resultsArn, naming.CompactionStagingPrefix)
	listPrefix(batchArn, naming.CompactedPrefix)
	// PutObject on staging writes Publish's "_published.json" progress marker.
	compactor.AllowTo([]string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, resultsArn+"/"+naming.CompactionStagingPrefix+"*")
	compactor.AllowTo([]string{"s3:PutObject", "s3:DeleteObject"}, batchArn+"/"+naming.CompactedPrefix+"*")
	nag.Suppress(compactor.Role(), "IAM5", "Publish reads and removes the day's UNLOAD output under the staging prefix and writes part files under compacted/ of the one batch bucket; object names are generated per run.",
		nag.Resource(resultsArn+"/"+naming.CompactionStagingPrefix+"*"), nag.Resource(batchArn+"/"+naming.CompactedPrefix+"*"))

	role := awsiam.NewRole(scope, jsii.String("StateMachineRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), nil),
		Description: jsii.String("Runs the nightly compaction: Athena in its workgroup over the product catalog"),
	})
	allow := func(actions []string, resources ...string) {
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...)}))
	}
	workGroupArn := fmt.Sprintf("arn:aws:athena:%s:%s:workgroup/%s", region, n.Account, n.WorkGroup())
	allow([]string{"athena:StartQueryExecution", "athena:GetQueryExecution", "athena:StopQueryExecution"}, workGroupArn)
	// Step Functions' own policy for athena:startQueryExecution.sync also
	// allows athena:getDataCatalog; the queries use only AwsDataCatalog
	// (https://docs.aws.amazon.com/step-functions/latest/dg/athena-iam.html).
	allow([]string{"athena:GetDataCatalog"}, fmt.Sprintf("arn:aws:athena:%s:%s:datacatalog/AwsDataCatalog", region, n.Account))
	allow([]string{"glue:GetDatabase", "glue:GetTable", "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"}, s.props.CatalogArns...)
	streamingArn := "arn:aws:s3:::" + s.props.StreamingBucketName
	allow([]string{"s3:GetBucketLocation", "s3:ListBucket"}, streamingArn, resultsArn)
	allow([]string{"s3:ListBucketMultipartUploads"}, resultsArn)
	allow([]string{"s3:GetObject"}, streamingArn+"/"+naming.RawPrefix+"*")
	allow([]string{"s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"}, resultsArn+"/"+naming.AthenaResultsPrefix+"*", resultsArn+"/"+naming.CompactionStagingPrefix+"*")
	nag.Suppress(role, "IAM5", "Athena, running as this role, reads any raw object of the streaming bucket and writes generated result and UNLOAD files under two prefixes of the results bucket; invoking the compaction function also allows its versions; CloudWatch Logs delivery and X-Ray tracing actions have no resource-level permissions.",
		nag.AnyResource,
		nag.Resource(streamingArn+"/"+naming.RawPrefix+"*"),
		nag.Resource(resultsArn+"/"+naming.AthenaResultsPrefix+"*"),
		nag.Resource(resultsArn+"/"+naming.CompactionStagingPrefix+"*"),
		nag.Attribute(compactor.Function(), "Arn", ":*"))

	s.stateMachine = awsstepfunctions.NewStateMachine(scope, jsii.String("Compaction"), &awsstepfunctions.StateMachineProps{
		StateMachineName: jsii.String(n.StateMachine()),
		DefinitionBody:   awsstepfunctions.DefinitionBody_FromChainable(compactionDefinition(scope, compactor.Function(), n.WorkGroup(), n.Database())),
		Role:             role,
		Timeout:          awscdk.Duration_Hours(jsii.Number(2)),
		TracingEnabled:   jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination: loggroup.New(scope, "CompactionLogs", s.props.LogRetentionDays, ""),
			Level:       awsstepfunctions.LogLevel_ALL,
		},
	})
	s.stateMachine.Node().AddDependency(workGroup)

	failed := awscloudwatch.NewAlarm(scope, jsii.String("CompactionFailedAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("The nightly compaction failed after its retries: that day is missing from the compacted table. Rerun it with the date as input (see README, backfill)."),
		Metric:             s.stateMachine.MetricFailed(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	s.props.Alerts.Notify(failed)

	s.schedulerRole = awsiam.NewRole(scope, jsii.String("SchedulerRole"), &awsiam.RoleProps{
		AssumedBy:   scheduler.Principal(),
		Description: jsii.String("Starts the nightly compaction"),
	})
	s.stateMachine.GrantStartExecution(s.schedulerRole)
}

// compactionDefinition: HasDate (or DefaultDate) -> Plan -> UNLOAD -> Publish.
func compactionDefinition(scope constructs.Construct, compactor awslambda.IFunction, workGroup, database string) awsstepfunctions.IChainable {
	// Plan fails only on bad input (a wrong date): retrying cannot help, so
	// it keeps just the Lambda service retries LambdaInvoke adds. UNLOAD and
	// Publish retry with backoff: a throttled or interrupted UNLOAD wrote
	// nothing to its fresh staging prefix, and Publish is idempotent.
	retry := &awsstepfunctions.RetryProps{
		Errors:      jsii.Strings("States.ALL"),
		Interval:    awscdk.Duration_Seconds(jsii.Number(30)),
		MaxAttempts: jsii.Number(3),
		BackoffRate: jsii.Number(2),
	}
	fail := awsstepfunctions.NewFail(scope, jsii.String("CompactionFailed"), &awsstepfunctions.FailProps{
		Comment: jsii.String("Retries exhausted; the alarm fires and an operator reruns the day"),
	})
	catch := &awsstepfunctions.CatchProps{ResultPath: jsii.String("$.error")}

	plan := awsstepfunctionstasks.NewLambdaInvoke(scope, jsii.String("Plan"), &awsstepfunctionstasks.LambdaInvokeProps{
		LambdaFunction: compactor,
		Payload: awsstepfunctions.TaskInput_FromObject(&map[string]any{
			"action": "plan",
			"date":   awsstepfunctions.JsonPath_StringAt(jsii.String("$.date")),
			"runId":  awsstepfunctions.JsonPath_StringAt(jsii.String("$$.Execution.Name")),
		}),
		PayloadResponseOnly: jsii.Bool(true),
		ResultPath:          jsii.String("$.plan"),
	})
	plan.AddCatch(fail, catch)
	// Written as raw ASL: CDK's Athena task grants Glue and S3 on "*" and
	// on the default database; the state machine role above grants exactly
	// the workgroup, the product catalog and the two buckets instead.
	unload := awsstepfunctions.NewCustomState(scope, jsii.String("Unload"), &awsstepfunctions.CustomStateProps{
		StateJson: &map[string]any{
			"Type":     "Task",
			"Resource": "arn:aws:states:::athena:startQueryExecution.sync",
			"Parameters": map[string]any{
				"QueryString.$": "$.plan.query",
				"WorkGroup":     workGroup,
				// Without it Athena resolves names against "default", which
				// the role may not read.
				"QueryExecutionContext": map[string]any{"Database": database},
			},
			"ResultPath": "$.unload",
		},
	})
	unload.AddRetry(retry)
	unload.AddCatch(fail, catch)
	publish := awsstepfunctionstasks.NewLambdaInvoke(scope, jsii.String("Publish"), &awsstepfunctionstasks.LambdaInvokeProps{
		LambdaFunction: compactor,
		Payload: awsstepfunctions.TaskInput_FromObject(&map[string]any{
			"action":        "publish",
			"date":          awsstepfunctions.JsonPath_StringAt(jsii.String("$.plan.date")),
			"stagingPrefix": awsstepfunctions.JsonPath_StringAt(jsii.String("$.plan.stagingPrefix")),
		}),
		PayloadResponseOnly: jsii.Bool(true),
		ResultPath:          jsii.String("$.published"),
	})
	publish.AddRetry(retry)
	publish.AddCatch(fail, catch)
	// An operator backfills with {"date":"YYYY-MM-DD"}; the schedule starts
	// executions without a date, which Plan reads as "the previous UTC day".
	defaultDate := awsstepfunctions.NewPass(scope, jsii.String("DefaultDate"), &awsstepfunctions.PassProps{
		Result:     awsstepfunctions.Result_FromString(jsii.String("")),
		ResultPath: jsii.String("$.date"),
	})
	plan.Next(unload).Next(publish)
	return awsstepfunctions.NewChoice(scope, jsii.String("HasDate"), nil).
		When(awsstepfunctions.Condition_IsPresent(jsii.String("$.date")), plan, nil).
		Otherwise(defaultDate.Next(plan))
}

// PipelineProps configures the live data path.
type PipelineProps struct {
	// Foundation is this region's Foundation.
	Foundation *Foundation
	// StreamArn is the event stream the aggregator consumes.
	StreamArn string
}

// NewPipeline wires the aggregator to the stream.
func NewPipeline(scope constructs.Construct, id string, props PipelineProps) {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	s := props.Foundation
	awslambda.NewCfnEventSourceMapping(scope, jsii.String("AggregatorSource"), &awslambda.CfnEventSourceMappingProps{
		FunctionName:                   s.aggregator.Function().FunctionArn(),
		EventSourceArn:                 jsii.String(props.StreamArn),
		StartingPosition:               jsii.String("TRIM_HORIZON"),
		BatchSize:                      jsii.Number(1000),
		MaximumBatchingWindowInSeconds: jsii.Number(5),
		TumblingWindowInSeconds:        jsii.Number(Window.Seconds()),
		ParallelizationFactor:          jsii.Number(1),
		// Off on purpose. The aggregator never fails for a bad record (it
		// counts it); it fails only when a window's final write fails. Split
		// in two, a final batch would write a partial window over the whole.
		BisectBatchOnFunctionError: jsii.Bool(false),
		MaximumRetryAttempts:       jsii.Number(MaxRetries),
		MaximumRecordAgeInSeconds:  jsii.Number(RecordAge.Seconds()),
		FunctionResponseTypes:      jsii.Strings("ReportBatchItemFailures"),
		DestinationConfig: &awslambda.CfnEventSourceMapping_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: s.failures.QueueArn()},
		},
	})
}

// ScheduleProps configures the nightly compaction's schedule.
type ScheduleProps struct {
	// Foundation is this region's Foundation (its state machine runs).
	Foundation *Foundation
	// Schedule is the compaction's Scheduler expression in UTC, e.g. "cron(30 1 * * ? *)".
	Schedule string
}

// NewSchedule starts the nightly compaction on schedule. Only a region that
// takes traffic has one: in an idle backup region it would compact the
// replica bucket's copy of the primary's data over the primary's own
// compacted files arriving by replication.
func NewSchedule(scope constructs.Construct, id string, props ScheduleProps) {
	s := props.Foundation
	awsscheduler.NewCfnSchedule(scope, jsii.String(id), &awsscheduler.CfnScheduleProps{
		Name:                       jsii.String(s.props.Names.StateMachine()),
		Description:                jsii.String("Compacts the previous UTC day into Parquet"),
		ScheduleExpression:         jsii.String(props.Schedule),
		ScheduleExpressionTimezone: jsii.String("UTC"),
		FlexibleTimeWindow:         &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: jsii.String("OFF")},
		State:                      jsii.String("ENABLED"),
		Target: &awsscheduler.CfnSchedule_TargetProperty{
			Arn:     s.stateMachine.StateMachineArn(),
			RoleArn: s.schedulerRole.RoleArn(),
			Input:   jsii.String("{}"),
			RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{
				MaximumRetryAttempts:     jsii.Number(5),
				MaximumEventAgeInSeconds: jsii.Number(3600),
			},
		},
	})
}

// AggregatorFailures is the queue of stream batches the aggregator gave up
// on, for the DR dashboard.
func (s *Foundation) AggregatorFailures() awssqs.IQueue { return s.failures }
