// Package naming derives every physical name in the product from the deployment
// prefix, the account and a region. Each stack, each Lambda and the operator CLI
// compute the same names independently, so no stack ever needs a reference to a
// stack in another region: the backup region can be deployed while the primary
// region answers nothing.
package naming

import (
	"fmt"
	"strings"
)

// Stack ids. The operator types these (`cdk deploy PrimaryStack`); the
// CloudFormation stack names carry the prefix (Names.StackName), so two
// deployments with different prefixes can share an account.
const (
	BackupStack         = "BackupStack"
	PrimaryStack        = "PrimaryStack"
	BackupFailoverStack = "BackupFailoverStack"
)

// stackSuffixes name each stack after its role, e.g. "dr-analytics-primary".
var stackSuffixes = map[string]string{
	BackupStack:         "backup",
	PrimaryStack:        "primary",
	BackupFailoverStack: "backup-failover",
}

// Purpose says what a bucket holds; it is part of the bucket name.
type Purpose string

// Bucket purposes. Replicas carry the same purpose as their source and differ
// by region, so a replica's name is the source name with the backup region.
const (
	Streaming     Purpose = "streaming"
	Batch         Purpose = "batch"
	AccessLogs    Purpose = "access-logs"
	AthenaResults Purpose = "athena-results"
)

// Purposes lists every bucket purpose, for length checks.
var Purposes = []Purpose{Streaming, Batch, AccessLogs, AthenaResults}

// Data prefixes inside the data buckets. The Glue tables point at them and the
// partition registrar only listens to them.
const (
	RawPrefix       = "raw/"
	CompactedPrefix = "compacted/"
	ErrorsPrefix    = "errors/"
)

// Glue table names inside the product database.
const (
	RawTable       = "raw"
	CompactedTable = "compacted"
)

// DataRoute is a data prefix whose objects carry Glue partitions.
type DataRoute struct {
	Purpose Purpose
	Prefix  string
	Table   string
}

// DataRoutes are the prefixes the partition registrar (and its repairs)
// register: raw/ in the streaming bucket, compacted/ in the batch bucket.
var DataRoutes = []DataRoute{
	{Streaming, RawPrefix, RawTable},
	{Batch, CompactedPrefix, CompactedTable},
}

// Prefixes in the Athena results bucket.
const (
	// AthenaResultsPrefix holds Athena's query results.
	AthenaResultsPrefix = "athena/"
	// CompactionStagingPrefix holds each compaction run's UNLOAD output
	// until Publish copies it into the batch bucket.
	CompactionStagingPrefix = "compaction-staging/"
	// FailbackJobsPrefix holds failback's S3 Batch Operations copy jobs'
	// files (primary region): the CSV manifests drctl writes under
	// FailbackManifestsPrefix and the jobs' completion reports under
	// FailbackReportsPrefix.
	FailbackJobsPrefix      = "failback-jobs/"
	FailbackManifestsPrefix = FailbackJobsPrefix + "manifests/"
	FailbackReportsPrefix   = FailbackJobsPrefix + "reports/"
)

// MaxBucketNameLength is S3's limit on bucket names.
const MaxBucketNameLength = 63

// AccountPlaceholder stands for a 12-digit account id when the account is not
// known at synth time; it has the length of a real one.
const AccountPlaceholder = "000000000000"

// Names derives names for one deployment. Account may be a CDK token when the
// account is only known at deploy time; names then resolve in CloudFormation.
type Names struct {
	// Prefix starts every name, e.g. "dr-analytics".
	Prefix string
	// Account is the 12-digit AWS account id, or a token standing for it.
	Account string
}

// StackName is the CloudFormation name of the stack with CDK id id (one of
// BackupStack, PrimaryStack, BackupFailoverStack), e.g. "dr-analytics-primary".
func (n Names) StackName(id string) string {
	suffix, ok := stackSuffixes[id]
	if !ok {
		panic(fmt.Sprintf("naming: %q is not a stack id of this app", id))
	}
	return n.Prefix + "-" + suffix
}

// StackArn matches the stack with CDK id id in a region, whatever its stack
// id suffix, e.g. "arn:aws:cloudformation:us-west-2:123456789012:stack/dr-analytics-backup-failover/*".
func (n Names) StackArn(id, region string) string {
	return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/*", region, n.Account, n.StackName(id))
}

// Bucket is the globally unique bucket name for a purpose in a region, e.g.
// "dr-analytics-streaming-123456789012-us-east-1".
func (n Names) Bucket(p Purpose, region string) string {
	return fmt.Sprintf("%s-%s-%s-%s", n.Prefix, p, n.Account, region)
}

// BucketArn is the ARN of the bucket for a purpose in a region.
func (n Names) BucketArn(p Purpose, region string) string {
	return "arn:aws:s3:::" + n.Bucket(p, region)
}

// Table is the aggregates table; the restored table in the backup region has
// the same name, so the processing code is region-agnostic.
func (n Names) Table() string { return n.Prefix + "-aggregates" }

// TableArn is the aggregates table's ARN in a region.
func (n Names) TableArn(region string) string {
	return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, n.Account, n.Table())
}

// Database is the Glue database. Glue and Athena prefer underscores.
func (n Names) Database() string { return strings.ReplaceAll(n.Prefix, "-", "_") }

// Stream is the Kinesis data stream that ingest writes to.
func (n Names) Stream() string { return n.Prefix + "-events" }

// StreamArn is the stream's ARN in a region.
func (n Names) StreamArn(region string) string {
	return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", region, n.Account, n.Stream())
}

// DeliveryStream is the Firehose stream from Kinesis to the streaming bucket.
func (n Names) DeliveryStream() string { return n.Prefix + "-raw-delivery" }

// DeliveryStreamArn is the delivery stream's ARN in a region.
func (n Names) DeliveryStreamArn(region string) string {
	return fmt.Sprintf("arn:aws:firehose:%s:%s:deliverystream/%s", region, n.Account, n.DeliveryStream())
}

// Function is the name of one of the product's Lambda functions, e.g. "ingest".
func (n Names) Function(role string) string { return n.Prefix + "-" + role }

// StateMachine is the nightly compaction state machine.
func (n Names) StateMachine() string { return n.Prefix + "-compaction" }

// WorkGroup is the Athena workgroup the compaction job uses.
func (n Names) WorkGroup() string { return n.Prefix + "-compaction" }

// BackupVault is the AWS Backup vault in the backup region.
func (n Names) BackupVault() string { return n.Prefix + "-vault" }

// BackupVaultArn is the vault's ARN in a region.
func (n Names) BackupVaultArn(region string) string {
	return fmt.Sprintf("arn:aws:backup:%s:%s:backup-vault:%s", region, n.Account, n.BackupVault())
}

// ListenerParameter is the SSM parameter (in the backup region) holding the
// accelerator listener's ARN; the primary stack reads it at deploy time.
func (n Names) ListenerParameter() string { return "/" + n.Prefix + "/accelerator/listener-arn" }

// ListenerParameterArn is that parameter's ARN in a region.
func (n Names) ListenerParameterArn(region string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", region, n.Account, n.ListenerParameter())
}

// FailoverStartedParameter is the SSM parameter (in the backup region) that
// records when a failover began; failback copies and merges everything
// written since then. The first failover attempt writes it and later
// attempts keep it; a completed failback removes it.
func (n Names) FailoverStartedParameter() string { return "/" + n.Prefix + "/failover/started-at" }

// FailoverStartedParameterArn is that parameter's ARN in a region.
func (n Names) FailoverStartedParameterArn(region string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", region, n.Account, n.FailoverStartedParameter())
}

// FailoverRecordParameter is the SSM parameter (in the backup region)
// holding the last failover's measured times as JSON (internal/recoverytime):
// the failover's handlers write it as they observe each moment, and it
// outlives failback, so `drctl status` can show the last failover.
func (n Names) FailoverRecordParameter() string { return "/" + n.Prefix + "/failover/last" }

// FailoverRecordParameterArn is that parameter's ARN in a region.
func (n Names) FailoverRecordParameterArn(region string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", region, n.Account, n.FailoverRecordParameter())
}

// FailbackRecordParameter is the SSM parameter (in the backup region)
// holding the last failback's step times as JSON (internal/recoverytime),
// written by drctl failback.
func (n Names) FailbackRecordParameter() string { return "/" + n.Prefix + "/failback/last" }

// FailbackRecordParameterArn is that parameter's ARN in a region.
func (n Names) FailbackRecordParameterArn(region string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", region, n.Account, n.FailbackRecordParameter())
}

// FailbackCopyRole is the role failback's S3 Batch Operations copy jobs
// run as: it reads the replica buckets and writes the primary buckets.
func (n Names) FailbackCopyRole() string { return n.Prefix + "-failback-copy" }

// FailbackCopyRoleArn is its ARN.
func (n Names) FailbackCopyRoleArn() string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", n.Account, n.FailbackCopyRole())
}

// IngestLoadBalancer names the ingest ALB, its target group and its VPC in
// each region (each at most 32 characters, checked by config).
func (n Names) IngestLoadBalancer() string { return n.Prefix + "-ingest" }

// Accelerator is the Global Accelerator's name.
func (n Names) Accelerator() string { return n.Prefix + "-ingest" }

// ReplicationRuleID is the replication rule of a primary bucket of purpose
// p towards backupRegion, and so the RuleId dimension of its S3
// replication metrics, e.g. "streaming-to-us-west-2".
func (n Names) ReplicationRuleID(p Purpose, backupRegion string) string {
	return string(p) + "-to-" + backupRegion
}
