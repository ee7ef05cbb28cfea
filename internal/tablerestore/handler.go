// Package tablerestore is the failover table restore: two CloudFormation
// custom resources behind the CDK Provider framework, served by one Lambda
// binary, that bring the aggregates table up in the backup region.
//
//   - Custom::TableRestore (the start, onEvent only) records when the
//     failover began in an SSM parameter (the first attempt's time is
//     kept), then adopts an existing table or starts a restore: it follows
//     a restore job of this failover that is still running, else a
//     cross-region point-in-time restore when the primary region answers
//     within the probe timeout, else the newest completed AWS Backup
//     recovery point in the backup vault. It fails within seconds when no
//     restore can start, so the traffic resources that depend on it never
//     move.
//   - Custom::TableRestoreReady (onEvent + isComplete) waits for the restored
//     table and turns on point-in-time recovery, deletion protection and the
//     tags saying where it came from. A restore that fails is repaired in
//     place, never by touching the ingest path: a failed point-in-time
//     restore (DynamoDB removed the table) falls back to the newest vault
//     recovery point, and a FAILED or ABORTED backup job is replaced once
//     with a fresh job. When nothing more can be done it fails with one line
//     ending in "fix the cause and run the same deploy again: cdk deploy
//     BackupFailoverStack --exclusively --no-rollback --require-approval
//     never". A restore that outlasts WaitMinutes is not a failure: the
//     resource completes with Status RESTORING and the failover stands.
//
// Both add what they observe to the failover's measured times
// (internal/recoverytime, when FailoverRecordParameter is set): the start
// its time, source and point in time, the ready resource when the table was
// ACTIVE and protected. Recording never fails the failover.
//
// Guarantees: one restore per failover (an existing table of that name is
// adopted and reported as Source existing, never restored over; a running
// restore job is followed, never doubled: AWS Backup jobs carry an
// idempotency token derived from the failover start and the table); Update
// restores only a table that is gone; Delete never deletes. Every AWS call
// has a deadline, no request panics out, and every failure is a one-line
// error that says what happened and what to do, and never to destroy the
// stack, so CloudFormation always gets an answer (see
// internal/customresource) and the live ingest path stays up.
package tablerestore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dr-analytics/drplan/internal/customresource"
)

// The resource types this handler serves (the ResourceType of
// awscdk.CustomResource); onEvent dispatches on them.
const (
	// ResourceTypeStart starts (or adopts) the restore; onEvent only.
	ResourceTypeStart = "Custom::TableRestore"
	// ResourceTypeReady waits for the restored table and protects it.
	ResourceTypeReady = "Custom::TableRestoreReady"
)

// Tags the restore puts on the table. Update reads them back, so the stack's
// outputs survive any number of deploys.
const (
	TagRestoreSource    = "dr:restore-source"     // pitr, backup or existing
	TagRestorePoint     = "dr:restore-point"      // RFC 3339 UTC
	TagRestoredBy       = "dr:restored-by"        // BackupFailoverStack
	TagRecoveryPointArn = "dr:recovery-point-arn" // backup restores
	TagRestoreJobID     = "dr:restore-job-id"     // backup restores
	TagSourceTableArn   = "dr:source-table-arn"
	// TagOriginalSource says where the table's data came from, pitr or
	// backup, also after a later failover adopted it (restore-source
	// existing); unknown for a table made otherwise.
	TagOriginalSource = "dr:original-source"
)

// Data keys of the start resource (Fn::GetAtt names). Every key is always
// present; a value that does not apply is "none".
const (
	DataTableName = "TableName"
	DataTableArn  = "TableArn"
	DataSource    = "Source" // pitr, backup or existing (an adopted table)
	// DataOriginalSource is where the data came from: pitr, backup or
	// unknown; for a table restored now it equals Source.
	DataOriginalSource   = "OriginalSource"
	DataPointInTime      = "PointInTime" // RFC 3339 UTC, or "unknown" for an adopted untagged table
	DataRecoveryPointArn = "RecoveryPointArn"
	DataSourceTableArn   = "SourceTableArn"
	DataRestoreJobID     = "RestoreJobId"
	// DataFailoverStartedAt is the failover start time kept in the SSM
	// parameter: the first attempt's, RFC 3339 UTC.
	DataFailoverStartedAt = "FailoverStartedAt"
)

// Data keys of the ready resource besides TableName and TableArn (which
// is "none" until the table exists). Every key is always present.
const (
	// DataStatus is StatusActive or StatusRestoring.
	DataStatus = "Status"
	// DataWaitStartedAt is when the ready resource began waiting, RFC 3339 UTC.
	DataWaitStartedAt = "WaitStartedAt"
)

// Values of Data["Status"] of the ready resource.
const (
	// StatusActive: the table is ACTIVE with point-in-time recovery,
	// deletion protection and tags.
	StatusActive = "ACTIVE"
	// StatusRestoring: the restore (or its protection) was still under way
	// when the resource stopped waiting; an operator finishes it once the
	// table is ACTIVE (drctl status says so).
	StatusRestoring = "RESTORING"
)

// Values of Data["Source"].
const (
	SourcePITR     = "pitr"
	SourceBackup   = "backup"
	SourceExisting = "existing"
)

// Handler modes, the values of the Lambda's HANDLER variable.
const (
	ModeOnEvent    = customresource.ModeOnEvent
	ModeIsComplete = customresource.ModeIsComplete
)

const (
	none         = "none"
	unknownPoint = "unknown"
	restoredBy   = "BackupFailoverStack"
	resourceName = "table restore"
)

// Response is the onEvent answer to the Provider framework.
type Response = customresource.Response

// CompletionEvent is what isComplete receives: the CloudFormation event with
// the onEvent response's PhysicalResourceId and Data merged in.
type CompletionEvent = customresource.CompletionEvent

// CompletionResponse is the isComplete answer; the framework polls until
// IsComplete is true and merges Data over the onEvent Data.
type CompletionResponse = customresource.CompletionResponse

// Handler serves both Provider framework calls for both resource types.
type Handler struct {
	// DynamoDB is this (the backup) region's client: restores, the restored table.
	DynamoDB *dynamodb.Client
	// PrimaryDynamoDB returns a client for the primary region; only the
	// probe uses it, under the probe timeout.
	PrimaryDynamoDB func(region string) *dynamodb.Client
	// Backup is this region's AWS Backup client.
	Backup *backup.Client
	// SSM is this region's client; it records the failover start time
	// and the failover's measured times.
	SSM *ssm.Client
	// FailoverRecordParameter is the SSM parameter of the failover's
	// measured times (naming.Names.FailoverRecordParameter), e.g.
	// "/dr-analytics/failover/last"; nothing is recorded when empty.
	FailoverRecordParameter string
	// Region is this region, for ARNs and messages.
	Region string
	// CallTimeout bounds each call in this region;
	// customresource.DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// Now is the clock (the failover start time, the ready wait); time.Now when nil.
	Now func() time.Time
	// Log receives one JSON line per notable event; stdout when nil.
	Log *slog.Logger
}

// New builds a Handler from the Lambda's AWS config.
func New(cfg aws.Config) *Handler {
	return &Handler{
		DynamoDB: dynamodb.NewFromConfig(cfg),
		PrimaryDynamoDB: func(region string) *dynamodb.Client {
			return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.Region = region })
		},
		Backup: backup.NewFromConfig(cfg),
		SSM:    ssm.NewFromConfig(cfg),
		Region: cfg.Region,
	}
}

// Dispatch returns the Lambda handler for a mode (the HANDLER variable);
// see customresource.Dispatch.
func (h *Handler) Dispatch(mode string) func(context.Context, CompletionEvent) (any, error) {
	return customresource.Dispatch(resourceName, mode, h.OnEvent, h.IsComplete)
}

// OnEvent handles Create, Update and Delete of either resource type.
func (h *Handler) OnEvent(ctx context.Context, e cfn.Event) (Response, error) {
	return customresource.Guard(h.Log, resourceName, e, func() (Response, error) {
		switch e.RequestType {
		case cfn.RequestCreate, cfn.RequestUpdate, cfn.RequestDelete:
		default:
			return Response{}, customresource.UnknownRequestType(resourceName, e.RequestType)
		}
		switch e.ResourceType {
		case ResourceTypeStart:
			return h.startOnEvent(ctx, e)
		case ResourceTypeReady:
			return h.readyOnEvent(ctx, e)
		}
		if e.RequestType == cfn.RequestDelete {
			// Neither resource deletes anything, so neither would this one;
			// failing would leave the stack stuck in DELETE_FAILED.
			h.log().Warn("delete of an unknown resource type: nothing to delete", "resource_type", e.ResourceType,
				"physical_id", e.PhysicalResourceID, "request_id", e.RequestID)
			return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
		}
		return Response{}, unknownResourceType(e)
	})
}

// IsComplete reports whether a Create has finished. Only the ready
// resource waits, on Create and on an Update whose onEvent found the table
// not ready (Status RESTORING); the start resource and every other Update
// and Delete finish in onEvent.
func (h *Handler) IsComplete(ctx context.Context, e CompletionEvent) (CompletionResponse, error) {
	return customresource.Guard(h.Log, resourceName, e.Event, func() (CompletionResponse, error) {
		switch {
		case e.RequestType == cfn.RequestUpdate && e.ResourceType == ResourceTypeReady && e.DataString(DataStatus) == StatusRestoring:
			return h.readyComplete(ctx, e)
		case e.RequestType != cfn.RequestCreate:
			return CompletionResponse{IsComplete: true}, nil
		}
		switch e.ResourceType {
		case ResourceTypeStart:
			return CompletionResponse{IsComplete: true}, nil
		case ResourceTypeReady:
			return h.readyComplete(ctx, e)
		}
		return CompletionResponse{}, unknownResourceType(e.Event)
	})
}

func unknownResourceType(e cfn.Event) error {
	return fmt.Errorf("table restore %s: ResourceType %q is neither %s (start the restore) nor %s (wait for it): fix the resource's type in the template",
		e.LogicalResourceID, e.ResourceType, ResourceTypeStart, ResourceTypeReady)
}

func (h *Handler) log() *slog.Logger { return customresource.Logger(h.Log) }

// deadline bounds one call in this region.
func (h *Handler) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return customresource.CallContext(ctx, h.CallTimeout)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// restoreData is what a restore is: the start resource's Data, and what
// the ready resource tags the table with.
type restoreData struct {
	TableName, TableArn, Source, PointInTime, RecoveryPointArn, SourceTableArn, RestoreJobID string
	FailoverStartedAt                                                                        string
	// OriginalSource is set for adopted tables; a restore's is its Source.
	OriginalSource string
}

// originalSource is where the data came from: pitr, backup or unknown.
func (d restoreData) originalSource() string {
	if d.Source == SourcePITR || d.Source == SourceBackup {
		return d.Source
	}
	return or(d.OriginalSource, unknownPoint)
}

func (d restoreData) toMap() map[string]string {
	return map[string]string{
		DataTableName:         d.TableName,
		DataTableArn:          or(d.TableArn, none),
		DataSource:            or(d.Source, SourceExisting),
		DataOriginalSource:    d.originalSource(),
		DataPointInTime:       or(d.PointInTime, unknownPoint),
		DataRecoveryPointArn:  or(d.RecoveryPointArn, none),
		DataSourceTableArn:    or(d.SourceTableArn, none),
		DataRestoreJobID:      or(d.RestoreJobID, none),
		DataFailoverStartedAt: or(d.FailoverStartedAt, none),
	}
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// dataFromTags rebuilds Data from a table's tags; sourceTableArn fills in
// when the table carries no such tag.
func dataFromTags(name, arn string, tags map[string]string, sourceTableArn string) restoreData {
	d := restoreData{
		TableName: name, TableArn: arn,
		Source: tags[TagRestoreSource], PointInTime: tags[TagRestorePoint],
		RecoveryPointArn: tags[TagRecoveryPointArn], RestoreJobID: tags[TagRestoreJobID],
		SourceTableArn: tags[TagSourceTableArn], OriginalSource: tags[TagOriginalSource],
	}
	if d.OriginalSource == "" && (d.Source == SourcePITR || d.Source == SourceBackup) {
		d.OriginalSource = d.Source // tagged before dr:original-source existed
	}
	if d.SourceTableArn == "" {
		d.SourceTableArn = sourceTableArn
	}
	return d
}

// formatTime is the Data, tag and parameter form of a point in time.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
