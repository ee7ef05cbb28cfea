// Package databucket builds the product's buckets. Every bucket is versioned,
// encrypted (SSE-S3), private, TLS-only, retained when its stack is updated
// or deleted, and expires noncurrent versions after a configured number of
// days. A rolled-back first create removes a data bucket it just made (it is
// still empty), so retrying the deploy does not fail on the fixed name; the
// access-log bucket, which the load balancer writes a test object into as
// soon as logging is on, has a generated name and is always retained. Data
// buckets log access to the region's access-log bucket; a bucket given a
// replica replicates every object there within 15 minutes (S3 Replication
// Time Control) and alarms when replication is late or fails.
package databucket

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/regioninfo"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/nag"
)

// ReplicationLatencyThreshold is the RTC promise: 99.99% of objects within 15 minutes.
const ReplicationLatencyThreshold = 15 * 60

// Props configures a data bucket.
type Props struct {
	// BucketName, e.g. "dr-analytics-streaming-123456789012-us-east-1".
	BucketName string
	// AccessLogs receives server access logs, under the prefix "s3/<BucketName>/".
	AccessLogs awss3.IBucket
	// NoncurrentVersionDays expires overwritten and deleted versions, e.g. 30.
	NoncurrentVersionDays int
	// Replica, when set, replicates this bucket to another region.
	Replica *Replica
}

// Replica describes where a bucket replicates to.
type Replica struct {
	// BucketName of the destination, e.g. "dr-analytics-streaming-123456789012-us-west-2".
	BucketName string
	// Region of the destination, e.g. "us-west-2".
	Region string
	// RuleID names the replication rule and the CloudWatch RuleId dimension, e.g. "streaming-to-us-west-2".
	RuleID string
	// Alerts receives the replication alarms.
	Alerts *alerts.Alerts
}

// DataBucket is a bucket with its replication alarms.
type DataBucket struct {
	name   string
	bucket awss3.Bucket
}

// New creates a data bucket.
func New(scope constructs.Construct, id string, props Props) *DataBucket {
	if props.AccessLogs == nil {
		panic(fmt.Sprintf("databucket %s: AccessLogs is required; use NewAccessLogs for the log bucket itself", id))
	}
	scope = constructs.NewConstruct(scope, jsii.String(id))
	bucketProps := baseProps(props.NoncurrentVersionDays)
	bucketProps.BucketName = jsii.String(props.BucketName)
	// Data cannot exist yet while the stack is first created: a rollback
	// may delete the new bucket, so the retry is not refused for its name
	// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html).
	bucketProps.RemovalPolicy = awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE
	bucketProps.ServerAccessLogsBucket = props.AccessLogs
	bucketProps.ServerAccessLogsPrefix = jsii.String("s3/" + props.BucketName + "/")
	d := &DataBucket{name: props.BucketName}
	if r := props.Replica; r != nil {
		destination := awss3.Bucket_FromBucketAttributes(scope, jsii.String("Replica"), &awss3.BucketAttributes{
			BucketName: jsii.String(r.BucketName),
			BucketArn:  jsii.String("arn:aws:s3:::" + r.BucketName),
			Region:     jsii.String(r.Region),
		})
		bucketProps.ReplicationRole = replicationRole(scope, props.BucketName, r.BucketName)
		bucketProps.ReplicationRules = &[]*awss3.ReplicationRule{{
			Id:          jsii.String(r.RuleID),
			Destination: destination,
			Priority:    jsii.Number(1),
			// An empty prefix filter makes this a V2 rule covering every object.
			Filter:                 &awss3.Filter{Prefix: jsii.String("")},
			ReplicationTimeControl: awss3.ReplicationTimeValue_FIFTEEN_MINUTES(),
			Metrics:                awss3.ReplicationTimeValue_FIFTEEN_MINUTES(),
			// A delete in the primary must stay recoverable in the backup region.
			DeleteMarkerReplication: jsii.Bool(false),
		}}
	}
	d.bucket = awss3.NewBucket(scope, jsii.String("Bucket"), bucketProps)
	if r := props.Replica; r != nil {
		for _, alarm := range replicationAlarms(scope, props.BucketName, r) {
			r.Alerts.Notify(alarm)
		}
	}
	return d
}

// AccessLogsProps configures a region's access-log bucket.
type AccessLogsProps struct {
	// Region of the bucket: it decides who delivers ALB logs.
	Region string
	// Account whose load balancers log here, e.g. "123456789012".
	Account string
	// NoncurrentVersionDays, e.g. 30.
	NoncurrentVersionDays int
}

// NewAccessLogs creates the region's access-log bucket. It accepts S3 server
// access logs and, under "alb/", Application Load Balancer access logs, so a
// load balancer created later (for example by the failover stack) can log to
// it without changing this bucket's policy.
//
// Its name is generated and it is always retained: ELB writes a test object
// into it when a load balancer turns logging on, so a rollback could not
// delete it (S3 deletes only empty buckets), and a fixed name would then make
// the retry fail with "already exists"
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
func NewAccessLogs(scope constructs.Construct, id string, props AccessLogsProps) awss3.Bucket {
	bucketProps := baseProps(props.NoncurrentVersionDays)
	bucketProps.RemovalPolicy = awscdk.RemovalPolicy_RETAIN
	bucket := awss3.NewBucket(scope, jsii.String(id), bucketProps)
	bucket.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{loadBalancerLogDelivery(props.Region)},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  jsii.Strings(*bucket.ArnForObjects(jsii.String("alb/AWSLogs/" + props.Account + "/*"))),
	}))
	nag.Suppress(bucket, "S1", "This is the access-log bucket; logging its own access into itself would loop.")
	return bucket
}

// Bucket is the S3 bucket.
func (d *DataBucket) Bucket() awss3.Bucket { return d.bucket }

// Name is the bucket's physical name, known at synth time (unlike the
// bucket's Ref), so policies can name it without depending on it.
func (d *DataBucket) Name() string { return d.name }

// Cfn is the underlying CloudFormation bucket, for native notification settings.
func (d *DataBucket) Cfn() awss3.CfnBucket {
	return d.bucket.Node().DefaultChild().(awss3.CfnBucket)
}

func baseProps(noncurrentDays int) *awss3.BucketProps {
	return &awss3.BucketProps{
		Versioned:         jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-noncurrent-versions"),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(noncurrentDays)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
		}},
	}
}

// replicationRole may read this bucket's versions for replication and write
// replicas into the one destination bucket, nothing else.
func replicationRole(scope constructs.Construct, source, destination string) awsiam.Role {
	role := awsiam.NewRole(scope, jsii.String("ReplicationRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("s3.amazonaws.com"), nil),
		Description: jsii.String("Replicates " + source + " to " + destination),
	})
	sourceArn := "arn:aws:s3:::" + source
	destinationArn := "arn:aws:s3:::" + destination
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetReplicationConfiguration", "s3:ListBucket"),
		Resources: jsii.Strings(sourceArn),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"),
		Resources: jsii.Strings(sourceArn + "/*"),
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:ReplicateObject", "s3:ReplicateTags"),
		Resources: jsii.Strings(destinationArn + "/*"),
	}))
	nag.Suppress(role, "IAM5", "Replication reads every object version of the source bucket and writes every key of the one replica bucket; object ARNs are bounded to those two buckets.",
		nag.Resource(sourceArn+"/*"), nag.Resource(destinationArn+"/*"))
	return role
}

func replicationAlarms(scope constructs.Construct, source string, r *Replica) []awscloudwatch.Alarm {
	dimensions := &map[string]*string{
		"SourceBucket":      jsii.String(source),
		"DestinationBucket": jsii.String(r.BucketName),
		"RuleId":            jsii.String(r.RuleID),
	}
	metric := func(name, statistic string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String("AWS/S3"),
			MetricName:    jsii.String(name),
			DimensionsMap: dimensions,
			Statistic:     jsii.String(statistic),
			Period:        awscdk.Duration_Minutes(jsii.Number(5)),
		})
	}
	latency := awscloudwatch.NewAlarm(scope, jsii.String("ReplicationLatencyAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(fmt.Sprintf("Replication %s of %s is later than the 15-minute RTC threshold: the backup region's RPO is growing.", r.RuleID, source)),
		Metric:             metric("ReplicationLatency", "Maximum"),
		Threshold:          jsii.Number(ReplicationLatencyThreshold),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(3),
		DatapointsToAlarm:  jsii.Number(2),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	failed := awscloudwatch.NewAlarm(scope, jsii.String("ReplicationFailedAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(fmt.Sprintf("Objects failed to replicate under rule %s of %s: they are not in the backup region.", r.RuleID, source)),
		Metric:             metric("OperationsFailedReplication", "Sum"),
		Threshold:          jsii.Number(0),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	return []awscloudwatch.Alarm{latency, failed}
}

// loadBalancerLogDelivery is who writes ALB access logs in a region: the
// regional ELB account in regions older than August 2022, the log delivery
// service principal in newer ones.
func loadBalancerLogDelivery(region string) awsiam.IPrincipal {
	if account := regioninfo.RegionInfo_Get(jsii.String(region)).Elbv2Account(); account != nil {
		return awsiam.NewAccountPrincipal(account)
	}
	return awsiam.NewServicePrincipal(jsii.String("logdelivery.elasticloadbalancing.amazonaws.com"), nil)
}
