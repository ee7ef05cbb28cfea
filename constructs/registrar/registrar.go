// Package registrar deploys the PartitionRegistrar: S3 ObjectCreated
// notifications for each data prefix go to an encrypted queue with a
// dead-letter queue, and a Go Lambda adds the Glue partitions they imply. The
// function may read the catalog's table definitions and add partitions to
// this region's product database, nothing else. Messages that keep failing
// land in the DLQ, which alarms.
package registrar

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/gofunction"
	"github.com/dr-analytics/drplan/constructs/nag"
)

// Route sends objects created under Prefix in Bucket to a Glue table.
type Route struct {
	// Bucket whose notifications to consume (the construct adds them).
	Bucket awss3.CfnBucket
	// BucketName is Bucket's physical name, e.g. "dr-analytics-streaming-123456789012-us-east-1".
	BucketName string
	// Prefix of the data, e.g. "raw/".
	Prefix string
	// Table in the product database, e.g. "raw".
	Table string
}

// Props configures the registrar.
type Props struct {
	// FunctionName, e.g. "dr-analytics-partition-registrar".
	FunctionName string
	// Database is the Glue database, e.g. "dr_analytics".
	Database string
	// CatalogArns are the Glue catalog, database and table ARNs the function may use.
	CatalogArns []string
	// Routes are the bucket prefixes to register.
	Routes []Route
	// Alerts receives the DLQ alarm.
	Alerts *alerts.Alerts
	// LogRetentionDays for the function's logs, e.g. 90.
	LogRetentionDays int
}

// FunctionTimeout bounds one batch: GetTable plus a few BatchCreatePartition calls with retries.
const FunctionTimeout = 60 * time.Second

// MaxReceiveCount is how often a message is tried before it goes to the DLQ.
const MaxReceiveCount = 5

// routeJSON is the Lambda's PARTITION_ROUTES contract.
type routeJSON struct {
	Bucket   string `json:"bucket"`
	Prefix   string `json:"prefix"`
	Database string `json:"database"`
	Table    string `json:"table"`
}

// New deploys the registrar and subscribes it to every route.
func New(scope constructs.Construct, id string, props Props) {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	dlq := awssqs.NewQueue(scope, jsii.String("DeadLetters"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	nag.Suppress(dlq, "SQS3", "This is the dead-letter queue of the notification queue; it keeps failed messages 14 days for inspection and redrive.")
	queue := awssqs.NewQueue(scope, jsii.String("Notifications"), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL: jsii.Bool(true),
		// Lambda's guidance: at least six times the function timeout, so a
		// message is not redelivered while a slow batch still works on it.
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(6 * FunctionTimeout.Seconds())),
		RetentionPeriod:   awscdk.Duration_Days(jsii.Number(4)),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(MaxReceiveCount)},
	})

	routes := make([]routeJSON, len(props.Routes))
	sourceArns := make([]*string, len(props.Routes))
	for i, r := range props.Routes {
		routes[i] = routeJSON{Bucket: r.BucketName, Prefix: r.Prefix, Database: props.Database, Table: r.Table}
		sourceArns[i] = jsii.String("arn:aws:s3:::" + r.BucketName)
	}
	// Bucket ARNs come from names, not references: the bucket depends on
	// this policy (S3 checks it when the notification is set), so the policy
	// cannot depend on the bucket.
	queue.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("s3.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  jsii.Strings(*queue.QueueArn()),
		Conditions: &map[string]any{
			"ArnEquals":    map[string]any{"aws:SourceArn": sourceArns},
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
		},
	}))
	policy := queue.Node().FindChild(jsii.String("Policy")).Node().DefaultChild().(awscdk.CfnResource)
	notify(props.Routes, queue, policy)

	routesJSON, err := json.Marshal(routes)
	if err != nil {
		panic(fmt.Sprintf("registrar %s: %v", id, err))
	}
	fn := gofunction.New(scope, "Handler", gofunction.Props{
		Package:          "./lambdas/partitions",
		FunctionName:     props.FunctionName,
		Description:      "Adds Glue partitions for objects landing in the data buckets",
		Environment:      map[string]string{"PARTITION_ROUTES": string(routesJSON)},
		Timeout:          FunctionTimeout,
		LogRetentionDays: props.LogRetentionDays,
	})
	fn.AllowTo([]string{"glue:GetTable", "glue:BatchCreatePartition"}, props.CatalogArns...)
	fn.Function().AddEventSource(awslambdaeventsources.NewSqsEventSource(queue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize:               jsii.Number(100),
		MaxBatchingWindow:       awscdk.Duration_Seconds(jsii.Number(10)),
		ReportBatchItemFailures: jsii.Bool(true),
		// Partitions are few and Glue throttles: two concurrent batches are
		// plenty. The event source's maximum concurrency bounds the function
		// without a reservation, which would fail on accounts whose
		// unreserved concurrency would drop below 100
		// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
		MaxConcurrency: jsii.Number(2),
	}))

	alarm := awscloudwatch.NewAlarm(scope, jsii.String("DeadLettersAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("S3 notifications failed " + fmt.Sprint(MaxReceiveCount) + " times and wait in the DLQ: their partitions are missing from the catalog. Read the registrar's logs, fix, then redrive the DLQ or run drctl repair-partitions."),
		Metric:             dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	props.Alerts.Notify(alarm)
}

// notify sets native S3 -> SQS notifications on each route's bucket, one
// queue configuration per prefix. It owns the buckets' notification settings.
func notify(routes []Route, queue awssqs.Queue, policy awscdk.CfnResource) {
	byBucket := map[string][]any{}
	buckets := map[string]awss3.CfnBucket{}
	var order []string
	for _, r := range routes {
		if _, seen := buckets[r.BucketName]; !seen {
			order = append(order, r.BucketName)
			buckets[r.BucketName] = r.Bucket
		}
		byBucket[r.BucketName] = append(byBucket[r.BucketName], &awss3.CfnBucket_QueueConfigurationProperty{
			Event: jsii.String("s3:ObjectCreated:*"),
			Queue: queue.QueueArn(),
			Filter: &awss3.CfnBucket_NotificationFilterProperty{
				S3Key: &awss3.CfnBucket_S3KeyFilterProperty{
					Rules: &[]any{&awss3.CfnBucket_FilterRuleProperty{Name: jsii.String("prefix"), Value: jsii.String(r.Prefix)}},
				},
			},
		})
	}
	for _, name := range order {
		configs := byBucket[name]
		buckets[name].SetNotificationConfiguration(&awss3.CfnBucket_NotificationConfigurationProperty{QueueConfigurations: &configs})
		buckets[name].AddResourceDependency(policy, jsii.String("S3 tests the queue policy when notifications are put"))
	}
}
