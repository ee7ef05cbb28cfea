// Package failback brings a deployment back to its primary region after a
// disaster, in the order that loses nothing: traffic back to the primary,
// drain the backup pipeline (judged on the metrics the services publish,
// or on the operator's -drained-at, said to be theirs; and find the
// windows its aggregator gave up on), copy the replica buckets' new
// objects back (in this process, or with S3 Batch Operations for large
// sets), merge the backup region's aggregate items into the primary table,
// repair the primary's Glue partitions, recompact every whole day since
// the failover from the now complete primary raw data, forget the recorded
// failover start, and report what moved on both sides.
//
// Guarantees: every step is idempotent and resumable (a second run finds
// the work done and changes nothing, and follows a batch job an earlier run
// started instead of starting another); its reads grow with what DR wrote,
// not with the buckets or the table (partition prefixes since the failover,
// the table's index by writing region and hour); a dry run reads and
// reports but changes nothing; nothing is deleted (no table, no object) but
// the failover-start parameter, and that only after a run in which
// everything matched; a run refuses to start without working credentials,
// an answering primary region or a known failover time, saying why; the
// failover time reaches back to the first failover attempt; every step's
// counts come from reading both sides.
package failback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/awserr"
	"github.com/dr-analytics/drplan/internal/backoff"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Small interfaces over the SDK clients the steps call.
type (
	CloudWatchAPI interface {
		GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
	}
	SSMAPI interface {
		GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
		PutParameter(context.Context, *ssm.PutParameterInput, ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
		DeleteParameter(context.Context, *ssm.DeleteParameterInput, ...func(*ssm.Options)) (*ssm.DeleteParameterOutput, error)
	}
	LambdaAPI interface {
		ListEventSourceMappings(context.Context, *lambda.ListEventSourceMappingsInput, ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error)
	}
	SQSAPI interface {
		GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
		GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	}
	StepFunctionsAPI interface {
		StartExecution(context.Context, *sfn.StartExecutionInput, ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
		DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	}
	CloudFormationAPI interface {
		DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	}
	GlobalAcceleratorAPI interface {
		ListEndpointGroups(context.Context, *globalaccelerator.ListEndpointGroupsInput, ...func(*globalaccelerator.Options)) (*globalaccelerator.ListEndpointGroupsOutput, error)
		UpdateEndpointGroup(context.Context, *globalaccelerator.UpdateEndpointGroupInput, ...func(*globalaccelerator.Options)) (*globalaccelerator.UpdateEndpointGroupOutput, error)
	}
	STSAPI interface {
		GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
	}
)

// Region holds one region's clients. Lambda and SQS are read in the
// backup region (the aggregator's failures), StepFunctions in the primary
// (recompaction).
type Region struct {
	Name           string
	S3             S3API
	DynamoDB       DynamoDBAPI
	CloudWatch     CloudWatchAPI
	SSM            SSMAPI
	CloudFormation CloudFormationAPI
	Glue           GlueAPI
	Lambda         LambdaAPI
	SQS            SQSAPI
	StepFunctions  StepFunctionsAPI
	// S3Control runs batch copy jobs (the primary region's).
	S3Control S3ControlAPI
}

// Progress shows a long step's progress; drctl draws a bar on a terminal.
type Progress interface {
	// Start begins a step of total items and bytes (0 when unknown).
	Start(step string, total, bytes int64)
	// Add counts items and bytes done.
	Add(items, bytes int64)
	// Done ends the step.
	Done()
}

type noProgress struct{}

func (noProgress) Start(string, int64, int64) {}
func (noProgress) Add(int64, int64)           {}
func (noProgress) Done()                      {}

// Input is one failback run.
type Input struct {
	Config  config.Config
	Primary Region
	Backup  Region
	// GlobalAccelerator is a client for the control plane
	// (config.GlobalAcceleratorControlRegion).
	GlobalAccelerator GlobalAcceleratorAPI
	STS               STSAPI
	// Since overrides the failover time (the earlier of the recorded
	// failover start and the failover stack's creation).
	Since  time.Time
	DryRun bool
	// Workers copy objects in parallel; Segments scan the table in parallel.
	Workers, Segments int
	// DrainTimeout bounds the wait for the backup pipeline, e.g. 30m
	// (above an ALB's default client keep-alive of an hour); DrainPoll is
	// the interval between looks, e.g. 30s.
	DrainTimeout, DrainPoll time.Duration
	// QuietPeriod is how long the backup load balancer and stream must see
	// nothing, e.g. 5m; MetricLag how late CloudWatch may publish, e.g. 5m.
	QuietPeriod, MetricLag time.Duration
	// DrainedAt, when set, replaces the drain's measurement with the
	// operator's word (CloudWatch down, a stream that never empties); the
	// report says so.
	DrainedAt time.Time
	// CompactionTimeout bounds the wait for the recompaction executions,
	// e.g. 1h; CompactionPoll is the interval between looks, e.g. 30s.
	CompactionTimeout, CompactionPoll time.Duration
	// PreflightTimeout bounds the pre-flight calls, e.g. 10s.
	PreflightTimeout time.Duration
	// MultipartThreshold and PartSize tune big-object copies (tests).
	MultipartThreshold, PartSize int64
	// Engine copies objects: EngineAuto (default), EngineLocal or
	// EngineBatch; BatchThreshold is EngineAuto's object count for S3 Batch
	// Operations (DefaultBatchThreshold); BatchPoll the interval between
	// looks at a job, e.g. 30s.
	Engine         string
	BatchThreshold int
	BatchPoll      time.Duration
	// Retry is the policy of every retried call; its Sleep also waits
	// between drain and compaction polls.
	Retry    backoff.Policy
	Progress Progress
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (in *Input) defaults() {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.PreflightTimeout <= 0 {
		in.PreflightTimeout = 10 * time.Second
	}
	if in.DrainTimeout <= 0 {
		in.DrainTimeout = DefaultDrainTimeout
	}
	if in.QuietPeriod <= 0 {
		in.QuietPeriod = DefaultQuietPeriod
	}
	if in.MetricLag <= 0 {
		in.MetricLag = DefaultMetricLag
	}
	if in.DrainPoll <= 0 {
		in.DrainPoll = 30 * time.Second
	}
	if in.CompactionTimeout <= 0 {
		in.CompactionTimeout = time.Hour
	}
	if in.CompactionPoll <= 0 {
		in.CompactionPoll = 30 * time.Second
	}
	if in.BatchPoll <= 0 {
		in.BatchPoll = 30 * time.Second
	}
	if in.Progress == nil {
		in.Progress = noProgress{}
	}
	in.Retry = retryPolicy(in.Retry)
}

// Refusal is a reason not to start; drctl prints it and exits non-zero.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "failback refused: " + r.Reason }

func refuse(format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// Preflight is what was established before any step ran.
type Preflight struct {
	Account  string
	Caller   string
	Failover time.Time
	// FailoverSource says where Failover came from.
	FailoverSource string
	// RecordedStart is the first failover attempt's start from SSM, and
	// StackCreated the failover stack's creation; zero when missing or
	// not read (with -since).
	RecordedStart, StackCreated time.Time
}

// Check verifies credentials and that the primary region answers, and
// finds the failover time. It changes nothing.
func Check(ctx context.Context, in Input) (Preflight, error) {
	in.defaults()
	var pf Preflight
	cctx, cancel := context.WithTimeout(ctx, in.PreflightTimeout)
	id, err := in.STS.GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{})
	cancel()
	if err != nil {
		return pf, refuse("cannot verify credentials (STS GetCallerIdentity in %s): %v: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for the DR account", in.Backup.Name, err)
	}
	pf.Account, pf.Caller = aws.ToString(id.Account), aws.ToString(id.Arn)
	if in.Config.Account != "" && pf.Account != in.Config.Account {
		return pf, refuse("credentials are for account %s but the config names account %s: use credentials for %s", pf.Account, in.Config.Account, in.Config.Account)
	}
	names := in.Config.Names(pf.Account)
	cctx, cancel = context.WithTimeout(ctx, in.PreflightTimeout)
	_, err = in.Primary.DynamoDB.DescribeTable(cctx, &dynamodb.DescribeTableInput{TableName: aws.String(names.Table())})
	cancel()
	if err != nil {
		if errorCode(err) == "ResourceNotFoundException" {
			return pf, refuse("table %s does not exist in the primary region %s: is primaryRegion right, and is PrimaryStack deployed? (failback needs the primary's table; it never creates or deletes one)", names.Table(), in.Primary.Name)
		}
		return pf, refuse("the primary region %s does not answer (DynamoDB DescribeTable %s within %s): %v: fail back only once the primary region is healthy", in.Primary.Name, names.Table(), in.PreflightTimeout, err)
	}
	if err := mergeIndexReady(ctx, in, names); err != nil {
		return pf, err
	}
	if !in.Since.IsZero() {
		pf.Failover, pf.FailoverSource = in.Since.UTC(), "--since"
		return pf, nil
	}
	return failoverTime(ctx, in, names, pf)
}

// mergeIndexReady refuses, before anything moves, a restored table without
// an ACTIVE by-writer-hour index, which the merge queries. A point-in-time
// restore takes the source's current indexes, but a restore from a backup
// takes the table as it was backed up ("RestoreTableFromBackup", DynamoDB
// API Reference), so a vault copy older than the index lacks it. A missing
// table is left to the merge step.
func mergeIndexReady(ctx context.Context, in Input, names naming.Names) error {
	cctx, cancel := context.WithTimeout(ctx, in.PreflightTimeout)
	out, err := in.Backup.DynamoDB.DescribeTable(cctx, &dynamodb.DescribeTableInput{TableName: aws.String(names.Table())})
	cancel()
	if err != nil || out.Table == nil {
		return nil
	}
	for _, gsi := range out.Table.GlobalSecondaryIndexes {
		if aws.ToString(gsi.IndexName) == writerhour.Index {
			if gsi.IndexStatus == ddbtypes.IndexStatusActive {
				return nil
			}
			return refuse("index %s of table %s in %s is %s: wait until it is ACTIVE and run failback again", writerhour.Index, names.Table(), in.Backup.Name, gsi.IndexStatus)
		}
	}
	return refuse("table %s in %s has no index %s (it was restored from a backup taken before the index existed), and the merge reads what %s wrote through it: add it with `aws dynamodb update-table --region %s --table-name %s --attribute-definitions AttributeName=%s,AttributeType=S AttributeName=%s,AttributeType=S --global-secondary-index-updates '[{\"Create\":{\"IndexName\":\"%s\",\"KeySchema\":[{\"AttributeName\":\"%s\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"%s\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":\"ALL\"}}}]'`, wait until it is ACTIVE, and run failback again",
		names.Table(), in.Backup.Name, writerhour.Index, in.Backup.Name, in.Backup.Name, names.Table(), writerhour.Attribute, writerhour.SortKey,
		writerhour.Index, writerhour.Attribute, writerhour.SortKey)
}

// failoverTime takes the earlier of the first attempt's recorded start and
// the failover stack's creation: a failover stack rolled back, or
// destroyed and deployed again, is younger than the data written since the
// first attempt.
func failoverTime(ctx context.Context, in Input, names naming.Names, pf Preflight) (Preflight, error) {
	param := names.FailoverStartedParameter()
	cctx, cancel := context.WithTimeout(ctx, in.PreflightTimeout)
	recorded, err := in.Backup.SSM.GetParameter(cctx, &ssm.GetParameterInput{Name: aws.String(param)})
	cancel()
	switch {
	case errors.As(err, new(*ssmtypes.ParameterNotFound)):
	case err != nil:
		return pf, refuse("read the failover start from SSM parameter %s in %s: %v: allow ssm:GetParameter on it, or give the failover time with -since", param, in.Backup.Name, err)
	default:
		value := aws.ToString(recorded.Parameter.Value)
		t, perr := time.Parse(time.RFC3339, value)
		if perr != nil {
			return pf, refuse("SSM parameter %s in %s holds %q, not an RFC 3339 time: set it to when the first failover attempt began, or give the failover time with -since", param, in.Backup.Name, value)
		}
		pf.RecordedStart = t.UTC()
	}
	cctx, cancel = context.WithTimeout(ctx, in.PreflightTimeout)
	out, err := in.Backup.CloudFormation.DescribeStacks(cctx, &cloudformation.DescribeStacksInput{StackName: aws.String(names.StackName(naming.BackupFailoverStack))})
	cancel()
	switch {
	case awserr.StackNotFound(err):
	case err != nil:
		return pf, refuse("describe stack %s in %s: %v", names.StackName(naming.BackupFailoverStack), in.Backup.Name, err)
	case len(out.Stacks) > 0 && out.Stacks[0].CreationTime != nil:
		pf.StackCreated = out.Stacks[0].CreationTime.UTC()
	}
	switch {
	case pf.RecordedStart.IsZero() && pf.StackCreated.IsZero():
		return pf, refuse("neither SSM parameter %s nor stack %s (with a creation time) exists in %s, so the failover time is unknown: give it with -since (RFC 3339, e.g. -since 2026-11-25T08:00:00Z), or check backupRegion", param, names.StackName(naming.BackupFailoverStack), in.Backup.Name)
	case pf.StackCreated.IsZero() || !pf.RecordedStart.IsZero() && pf.RecordedStart.Before(pf.StackCreated):
		pf.Failover, pf.FailoverSource = pf.RecordedStart, "the first failover attempt, SSM parameter "+param
	default:
		pf.Failover, pf.FailoverSource = pf.StackCreated, naming.BackupFailoverStack+" creation time"
	}
	return pf, nil
}

// Run checks, then runs the steps in order. It stops at the first step
// that fails outright (later steps depend on earlier ones); mismatches are
// reported and make Report.OK false without stopping the run.
func Run(ctx context.Context, in Input) (Report, error) {
	in.defaults()
	report := Report{DryRun: in.DryRun, Primary: in.Primary.Name, Backup: in.Backup.Name}
	pf, err := Check(ctx, in)
	if err != nil {
		return report, err
	}
	report.Preflight = pf
	names := in.Config.Names(pf.Account)
	report.Started = in.Now().UTC()

	var moved dials
	steps := []struct {
		name string
		run  func(ctx context.Context, s *Step) error
	}{
		{"traffic dials", func(ctx context.Context, s *Step) (err error) {
			moved, err = setDials(ctx, in, names, s)
			return err
		}},
		{"drain backup pipeline", func(ctx context.Context, s *Step) error { return drain(ctx, in, names, pf.Failover, moved, s) }},
		{"copy objects", func(ctx context.Context, s *Step) error {
			res, err := copyStep(ctx, in, names, pf.Failover, s)
			report.copied = res.InWindow
			return err
		}},
		{"merge table items", func(ctx context.Context, s *Step) error { return mergeStep(ctx, in, names, pf.Failover, s) }},
		{"repair partitions", func(ctx context.Context, s *Step) error {
			return partitionStep(ctx, in, names, report.copied, s)
		}},
		{"recompact days", func(ctx context.Context, s *Step) error { return recompactStep(ctx, in, names, pf.Failover, s) }},
		{"clear failover record", func(ctx context.Context, s *Step) error { return clearStep(ctx, in, names, report, s) }},
	}
	for _, step := range steps {
		s := &Step{Name: step.name}
		start := in.Now()
		err := step.run(ctx, s)
		s.Finished = in.Now().UTC()
		s.Duration = s.Finished.Sub(start)
		if err != nil {
			s.Error = err.Error()
		}
		report.Steps = append(report.Steps, s)
		if err != nil {
			report.Finished = in.Now().UTC()
			recordTimes(ctx, in, names, &report, true)
			return report, fmt.Errorf("step %q: %w", step.name, err)
		}
		recordTimes(ctx, in, names, &report, false)
	}
	report.Finished = in.Now().UTC()
	recordTimes(ctx, in, names, &report, true)
	return report, nil
}

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	return ""
}
