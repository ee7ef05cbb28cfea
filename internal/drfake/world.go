package drfake

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/restoretest"
)

// Service names a World resolves endpoints for; they match the suffixes of
// AWS_ENDPOINT_URL_<SERVICE>, lowercased.
const (
	ServiceS3                = "s3"
	ServiceCloudWatch        = "cloudwatch"
	ServiceDynamoDB          = "dynamodb"
	ServiceBackup            = "backup"
	ServiceSSM               = "ssm"
	ServiceCloudFormation    = "cloudformation"
	ServiceSTS               = "sts"
	ServiceGlobalAccelerator = "globalaccelerator"
	ServiceGlue              = "glue"
	ServiceLambda            = "lambda"
	ServiceSQS               = "sqs"
	ServiceStepFunctions     = "sfn"
	ServiceS3Control         = "s3control"
)

// Region is one region's fakes.
type Region struct {
	Name           string
	CloudWatch     *CloudWatch
	CloudFormation *CloudFormation
	SSM            *awsfake.SSM
	// DynamoDB is the control plane (PITR); data-plane tests point
	// ServiceDynamoDB at dynalite with SetEndpoint.
	DynamoDB      *awsfake.DynamoDB
	Backup        *awsfake.Backup
	Lambda        *Lambda
	SQS           *SQS
	StepFunctions *StepFunctions
	// S3Control runs S3 Batch Operations jobs on the world's S3 store.
	S3Control *S3Control
}

// World is both regions of one deployment, faked on loopback: every
// service drctl calls, with one S3 store holding both regions' buckets (so
// cross-region CopyObject works), and Global Accelerator's control plane.
type World struct {
	Names           naming.Names
	Primary, Backup *Region
	// Now is the wall time the world was seeded for.
	Now   time.Time
	Clock *Clock
	S3    *S3
	STS   *STS
	// GlobalAccelerator keeps the accelerator, its endpoint groups with
	// their dials, and the endpoints' health.
	GlobalAccelerator *awsfake.GlobalAccelerator
	AcceleratorArn    string
	ListenerArn       string
	PrimaryGroupArn   string
	BackupGroupArn    string
	// AggregatorFailures is the backup region's queue that takes the
	// windows the aggregator gives up on (its on-failure destination).
	AggregatorFailures string

	overrides map[string]string
}

// MetricPublicationLag is a realistic delay for CloudWatch.SetPublicationLag:
// CloudWatch publishes service metrics minutes after the fact.
const MetricPublicationLag = 3 * time.Minute

// CompactionStateMachineArn is the compaction state machine's ARN in a region.
func (w *World) CompactionStateMachineArn(region string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", region, w.Names.Account, w.Names.StateMachine())
}

// NewWorld starts every fake for a deployment named by names in the two
// regions, with clock set to now. Nothing is seeded: call Healthy.
func NewWorld(tb testing.TB, names naming.Names, primary, backup string, now time.Time) *World {
	clock := NewClock(now)
	w := &World{
		Names: names, Now: now, Clock: clock,
		S3:                NewS3(tb, clock),
		STS:               NewSTS(tb, names.Account),
		GlobalAccelerator: awsfake.NewGlobalAccelerator(tb),
		AcceleratorArn:    fmt.Sprintf("arn:aws:globalaccelerator::%s:accelerator/1234abcd-abcd-1234-abcd-1234abcdefgh", names.Account),
		overrides:         map[string]string{},
		// The name CloudFormation gives BackupStack's queue.
		AggregatorFailures: "BackupStack-FoundationProcessingAggregatorFailures5C6C2A8E-Xq3vLd0bS1Ze",
	}
	w.ListenerArn = w.AcceleratorArn + "/listener/0123vxyz"
	w.PrimaryGroupArn = w.ListenerArn + "/endpoint-group/" + primary
	w.BackupGroupArn = w.ListenerArn + "/endpoint-group/" + backup
	newRegion := func(name string) *Region {
		return &Region{
			Name:           name,
			CloudWatch:     NewCloudWatch(tb),
			CloudFormation: NewCloudFormation(tb, name),
			SSM:            awsfake.NewSSM(tb, name),
			DynamoDB:       awsfake.NewDynamoDB(tb, name, names.Account),
			Backup:         awsfake.NewBackup(tb, name, names.Account),
			Lambda:         NewLambda(tb, name, names.Account),
			SQS:            NewSQS(tb, name, names.Account),
			StepFunctions:  NewStepFunctions(tb, clock),
			S3Control:      NewS3Control(tb, w.S3, clock, names.Account, name),
		}
	}
	w.Primary, w.Backup = newRegion(primary), newRegion(backup)
	return w
}

// SetEndpoint points service in region at url instead of the world's fake
// (e.g. DynamoDB at dynalite, Glue at a Glue fake).
func (w *World) SetEndpoint(service, region, url string) { w.overrides[service+"@"+region] = url }

// Endpoint returns the endpoint for service in region, or "" when the
// world has none.
func (w *World) Endpoint(service, region string) string {
	if url, ok := w.overrides[service+"@"+region]; ok {
		return url
	}
	r := w.Primary
	if region == w.Backup.Name {
		r = w.Backup
	} else if region != w.Primary.Name && service != ServiceGlobalAccelerator && service != ServiceSTS {
		return ""
	}
	switch service {
	case ServiceS3:
		return w.S3.URL()
	case ServiceSTS:
		return w.STS.URL()
	case ServiceGlobalAccelerator:
		return w.GlobalAccelerator.URL()
	case ServiceCloudWatch:
		return r.CloudWatch.URL()
	case ServiceCloudFormation:
		return r.CloudFormation.URL()
	case ServiceSSM:
		return r.SSM.URL()
	case ServiceDynamoDB:
		return r.DynamoDB.URL()
	case ServiceBackup:
		return r.Backup.URL()
	case ServiceLambda:
		return r.Lambda.URL()
	case ServiceSQS:
		return r.SQS.URL()
	case ServiceStepFunctions:
		return r.StepFunctions.URL()
	case ServiceS3Control:
		return r.S3Control.URL()
	}
	return ""
}

// BackupLoadBalancerArn is the failover stack's ingest load balancer, the
// backup endpoint group's endpoint.
func (w *World) BackupLoadBalancerArn() string {
	return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/6d0ecf831eec9f09", w.Backup.Name, w.Names.Account, w.Names.IngestLoadBalancer())
}

// ReplicationRuleID is the rule id the product gives a purpose's rule.
func (w *World) ReplicationRuleID(p naming.Purpose) string {
	return fmt.Sprintf("%s-to-%s", p, w.Backup.Name)
}

// ReplicationDimensions are the CloudWatch dimensions of a purpose's rule.
func (w *World) ReplicationDimensions(p naming.Purpose) map[string]string {
	return map[string]string{
		"SourceBucket":      w.Names.Bucket(p, w.Primary.Name),
		"DestinationBucket": w.Names.Bucket(p, w.Backup.Name),
		"RuleId":            w.ReplicationRuleID(p),
	}
}

// Healthy seeds a deployment in normal operation: buckets replicating with
// RTC and a few seconds of latency, PITR on, an hour-old vault copy, AWS
// Backup settings on, the backup region bootstrapped, the accelerator with
// a healthy primary group at dial 100, and both product stacks deployed.
func (w *World) Healthy(tb testing.TB) {
	tb.Helper()
	n, primary, backup := w.Names, w.Primary.Name, w.Backup.Name
	deployed := w.Now.Add(-30 * 24 * time.Hour)
	for _, p := range []naming.Purpose{naming.Streaming, naming.Batch} {
		w.S3.CreateBucket(tb, n.Bucket(p, primary))
		w.S3.CreateBucket(tb, n.Bucket(p, backup))
		w.S3.SetReplication(n.Bucket(p, primary), ReplicationRule{
			ID: w.ReplicationRuleID(p), Enabled: true, DestinationBucket: n.Bucket(p, backup), RTC: true, Metrics: true,
		})
		dims := w.ReplicationDimensions(p)
		for i, latency := range []float64{4, 11, 7} {
			at := w.Now.Add(-time.Duration(10-3*i) * time.Minute)
			w.Primary.CloudWatch.Put(Metric{Namespace: "AWS/S3", Name: "ReplicationLatency", Dimensions: dims}, Point{at, latency})
			w.Primary.CloudWatch.Put(Metric{Namespace: "AWS/S3", Name: "OperationsPendingReplication", Dimensions: dims}, Point{at, float64(i)})
			w.Primary.CloudWatch.Put(Metric{Namespace: "AWS/S3", Name: "OperationsFailedReplication", Dimensions: dims}, Point{at, 0})
		}
	}
	w.Primary.DynamoDB.PutTable(awsfake.Table{Name: n.Table(), PITR: true, LatestRestorable: w.Now.Add(-4*time.Minute - 12*time.Second), DeletionProtection: true})
	w.Backup.Backup.CreateVault(n.BackupVault())
	for _, age := range []time.Duration{3 * time.Hour, 2 * time.Hour, 37 * time.Minute} {
		created := w.Now.Add(-age)
		w.Backup.Backup.PutRecoveryPoint(n.BackupVault(), awsfake.RecoveryPoint{
			Arn:         fmt.Sprintf("arn:aws:backup:%s:%s:recovery-point:%s", backup, n.Account, created.Format("20060102T150405")),
			ResourceArn: n.TableArn(primary), ResourceType: "DynamoDB", Status: "COMPLETED",
			CreationDate: created, CompletionDate: created.Add(4 * time.Minute),
		})
	}
	w.Backup.SSM.PutParameter(awsfake.Parameter{Name: "/cdk-bootstrap/hnb659fds/version", Value: "27", LastModified: deployed})
	w.Backup.SSM.PutParameter(awsfake.Parameter{Name: n.ListenerParameter(), Value: w.ListenerArn, LastModified: deployed})
	w.PutRestoreTest(tb, restoretest.Record{
		Restore: restoretest.Restore{StartedAt: w.Now.Add(-50*time.Hour - 25*time.Minute), RecoveryPointCreated: w.Now.Add(-51 * time.Hour),
			RecoveryPointArn: fmt.Sprintf("arn:aws:backup:%s:%s:recovery-point:weekly", backup, n.Account),
			Table:            restoretest.TablePrefix(n.Prefix) + "20261123t115500z"},
		FinishedAt: w.Now.Add(-50 * time.Hour), RestoreMinutes: 18.5,
		Passed: true, Detail: "restored: ACTIVE, key schema pk/sk, 1000 items sampled", Items: 1000, Deleted: true})
	// The backup region's aggregator and its on-failure queue (BackupStack), and
	// the primary's compaction state machine (PrimaryStack).
	w.Backup.Lambda.PutFunction(n.Function("aggregator"))
	w.Backup.SQS.CreateQueue(w.AggregatorFailures)
	w.Primary.StepFunctions.AddStateMachine(w.CompactionStateMachineArn(primary))
	// The results buckets (failback's batch manifests and reports).
	w.S3.CreateBucket(tb, n.Bucket(naming.AthenaResults, primary))
	w.S3.CreateBucket(tb, n.Bucket(naming.AthenaResults, backup))
	w.GlobalAccelerator.PutAccelerator(awsfake.Accelerator{Arn: w.AcceleratorArn, Name: n.Accelerator(), DNSName: "a1234567890abcdef.awsglobalaccelerator.com", Status: "DEPLOYED", Enabled: true})
	w.GlobalAccelerator.PutListener(w.ListenerArn, awsfake.EndpointGroup{Arn: w.PrimaryGroupArn, Region: primary})
	w.GlobalAccelerator.SetEndpoints(w.PrimaryGroupArn,
		awsfake.Endpoint{ID: fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/50dc6c495c0c9188", primary, n.Account, n.IngestLoadBalancer()), Health: "HEALTHY"})
	w.Backup.CloudFormation.PutStack(Stack{Name: n.StackName(naming.BackupStack), Status: "UPDATE_COMPLETE", Created: deployed})
	w.Backup.CloudFormation.PutStack(Stack{Name: "CDKToolkit", Status: "CREATE_COMPLETE", Created: deployed})
	w.Primary.CloudFormation.PutStack(Stack{Name: n.StackName(naming.PrimaryStack), Status: "UPDATE_COMPLETE", Created: deployed})
}

// Failover puts the world in DR as `cdk deploy BackupFailoverStack` at
// `at` leaves it: the failover stack exists, its restore recorded `at` as
// the failover's start, the table is restored in the backup region, the
// aggregator reads the backup stream (failures to its queue), the backup
// group takes all traffic and the primary group is dialled to 0.
func (w *World) Failover(at time.Time) {
	w.Backup.SSM.PutParameter(awsfake.Parameter{Name: w.Names.FailoverStartedParameter(), Value: at.UTC().Format(time.RFC3339), LastModified: at})
	w.Backup.Lambda.PutEventSourceMapping(EventSourceMapping{Function: w.Names.Function("aggregator"),
		EventSourceArn: w.Names.StreamArn(w.Backup.Name), OnFailure: w.Backup.SQS.QueueArn(w.AggregatorFailures)})
	w.Backup.CloudFormation.PutStack(Stack{Name: w.Names.StackName(naming.BackupFailoverStack), Status: "CREATE_COMPLETE", Created: at,
		Outputs: map[string]string{"RestoreSource": "backup", "RestorePointInTime": at.Add(-37 * time.Minute).UTC().Format(time.RFC3339)}})
	// A restore brings the table's indexes (a point-in-time restore the
	// source's current ones, a backup those it had when backed up).
	w.Backup.DynamoDB.PutTable(awsfake.Table{Name: w.Names.Table(), PITR: true, DeletionProtection: true,
		Indexes: map[string]string{writerhour.Index: "ACTIVE"}})
	zero, full := float32(0), float32(100)
	w.GlobalAccelerator.PutListener(w.ListenerArn,
		awsfake.EndpointGroup{Arn: w.PrimaryGroupArn, Region: w.Primary.Name, Dial: &zero},
		awsfake.EndpointGroup{Arn: w.BackupGroupArn, Region: w.Backup.Name, Dial: &full})
	w.GlobalAccelerator.SetEndpoints(w.BackupGroupArn, awsfake.Endpoint{ID: w.BackupLoadBalancerArn(), Health: "HEALTHY"})
}

// PutRestoreTest stores a restore test's record where the test writes it
// (SSM in the backup region); a passed record is its own last pass.
func (w *World) PutRestoreTest(tb testing.TB, rec restoretest.Record) {
	tb.Helper()
	if rec.Passed && rec.LastPassedAt == nil {
		rec.LastPassedAt = &rec.FinishedAt
	}
	body, err := json.Marshal(rec)
	if err != nil {
		tb.Fatal(err)
	}
	w.Backup.SSM.PutParameter(awsfake.Parameter{Name: restoretest.RecordParameter(w.Names.Prefix), Type: "String", Value: string(body), LastModified: rec.FinishedAt})
}
