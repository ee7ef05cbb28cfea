// Package tablerestore is the failover table restore: a CloudFormation custom
// resource behind the CDK Provider framework (onEvent + isComplete) that
// brings the aggregates table up in the backup region.
//
// Guarantees: Create restores at most once (an existing table of that name
// is adopted, never restored over); it prefers a cross-region point-in-time
// restore when the primary region answers within the probe timeout and
// otherwise restores the newest completed AWS Backup recovery point in the
// backup vault. The restored table ends with point-in-time recovery,
// deletion protection and tags saying where it came from. Update never
// restores; Delete never deletes. Every AWS call has a deadline and every
// failure is a one-line error that says what happened and what to do, so
// CloudFormation always gets an answer.
package tablerestore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
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
)

// Data keys of both responses (Fn::GetAtt names). Every key is always
// present; a value that does not apply is "none".
const (
	DataTableName        = "TableName"
	DataTableArn         = "TableArn"
	DataSource           = "Source"      // pitr, backup or existing
	DataPointInTime      = "PointInTime" // RFC 3339 UTC, or "unknown" for an adopted untagged table
	DataRecoveryPointArn = "RecoveryPointArn"
	DataSourceTableArn   = "SourceTableArn"
	DataRestoreJobID     = "RestoreJobId"
)

// Values of Data["Source"].
const (
	SourcePITR     = "pitr"
	SourceBackup   = "backup"
	SourceExisting = "existing"
)

// Handler modes, the values of the Lambda's HANDLER variable.
const (
	ModeOnEvent    = "onEvent"
	ModeIsComplete = "isComplete"
)

const (
	none           = "none"
	unknownPoint   = "unknown"
	restoredBy     = "BackupFailoverStack"
	defaultTimeout = 20 * time.Second
)

// Response is the onEvent answer to the Provider framework.
type Response struct {
	PhysicalResourceID string            `json:"PhysicalResourceId"`
	Data               map[string]string `json:"Data,omitempty"`
}

// CompletionEvent is what isComplete receives: the CloudFormation event with
// the onEvent response's PhysicalResourceId and Data merged in.
type CompletionEvent struct {
	cfn.Event
	Data map[string]any `json:"Data,omitempty"`
}

// CompletionResponse is the isComplete answer; the framework polls until
// IsComplete is true and merges Data over the onEvent Data.
type CompletionResponse struct {
	IsComplete bool              `json:"IsComplete"`
	Data       map[string]string `json:"Data,omitempty"`
}

// Handler serves both Provider framework calls.
type Handler struct {
	// DynamoDB is this (the backup) region's client: restores, the restored table.
	DynamoDB *dynamodb.Client
	// PrimaryDynamoDB returns a client for the primary region; only the
	// probe uses it, under the probe timeout.
	PrimaryDynamoDB func(region string) *dynamodb.Client
	// Backup is this region's AWS Backup client.
	Backup *backup.Client
	// Region is this region, for ARNs and messages.
	Region string
	// CallTimeout bounds each call in this region; 20s when zero.
	CallTimeout time.Duration
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
		Region: cfg.Region,
	}
}

// Dispatch returns the Lambda handler for a mode (the HANDLER variable). An
// unknown mode still yields a handler, one that fails every event with a
// message saying how to fix the function, so it never crash-loops.
func (h *Handler) Dispatch(mode string) func(context.Context, CompletionEvent) (any, error) {
	switch mode {
	case ModeOnEvent:
		return func(ctx context.Context, e CompletionEvent) (any, error) { return h.OnEvent(ctx, e.Event) }
	case ModeIsComplete:
		return func(ctx context.Context, e CompletionEvent) (any, error) { return h.IsComplete(ctx, e) }
	}
	return func(context.Context, CompletionEvent) (any, error) {
		return nil, fmt.Errorf("table restore function: environment variable HANDLER is %q: set it to %s or %s", mode, ModeOnEvent, ModeIsComplete)
	}
}

// OnEvent handles Create, Update and Delete.
func (h *Handler) OnEvent(ctx context.Context, e cfn.Event) (Response, error) {
	return guard(h.log(), e, func() (Response, error) {
		switch e.RequestType {
		case cfn.RequestCreate:
			return h.create(ctx, e)
		case cfn.RequestUpdate:
			return h.update(ctx, e)
		case cfn.RequestDelete:
			h.log().Info("delete leaves the table in place", "table", e.PhysicalResourceID, "request_id", e.RequestID)
			return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
		}
		return Response{}, fmt.Errorf("table restore: RequestType %q is not Create, Update or Delete", e.RequestType)
	})
}

// IsComplete reports whether a Create has finished: the table is ACTIVE
// with PITR, deletion protection and tags. Update and Delete finish in onEvent.
func (h *Handler) IsComplete(ctx context.Context, e CompletionEvent) (CompletionResponse, error) {
	return guard(h.log(), e.Event, func() (CompletionResponse, error) {
		if e.RequestType != cfn.RequestCreate {
			return CompletionResponse{IsComplete: true}, nil
		}
		return h.complete(ctx, e)
	})
}

// guard turns a panic into an error and makes every error one line, because
// the framework hands the message to CloudFormation as the failure reason.
func guard[T any](log *slog.Logger, e cfn.Event, run func() (T, error)) (out T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("table restore: internal error (%v); report it with this function's log", r)
		}
		if err != nil {
			err = oneLine{err}
			log.Error("request failed", "request_type", e.RequestType, "request_id", e.RequestID, "error", err.Error())
		}
	}()
	return run()
}

// oneLine is an error whose message has no line breaks.
type oneLine struct{ err error }

func (o oneLine) Error() string { return strings.Join(strings.Fields(o.err.Error()), " ") }
func (o oneLine) Unwrap() error { return o.err }

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, nil))
}

// deadline bounds one call in this region.
func (h *Handler) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if h.CallTimeout > 0 {
		return context.WithTimeout(ctx, h.CallTimeout)
	}
	return context.WithTimeout(ctx, defaultTimeout)
}

// restoreData is the Data both responses carry.
type restoreData struct {
	TableName, TableArn, Source, PointInTime, RecoveryPointArn, SourceTableArn, RestoreJobID string
}

func (d restoreData) toMap() map[string]string {
	or := func(s, fallback string) string {
		if s == "" {
			return fallback
		}
		return s
	}
	return map[string]string{
		DataTableName:        d.TableName,
		DataTableArn:         or(d.TableArn, none),
		DataSource:           or(d.Source, SourceExisting),
		DataPointInTime:      or(d.PointInTime, unknownPoint),
		DataRecoveryPointArn: or(d.RecoveryPointArn, none),
		DataSourceTableArn:   or(d.SourceTableArn, none),
		DataRestoreJobID:     or(d.RestoreJobID, none),
	}
}

// dataFromEvent reads the Data the framework merged into an isComplete event.
func dataFromEvent(m map[string]any) restoreData {
	get := func(key string) string {
		s, _ := m[key].(string)
		if s == none {
			return ""
		}
		return s
	}
	return restoreData{
		TableName: get(DataTableName), TableArn: get(DataTableArn), Source: get(DataSource),
		PointInTime: get(DataPointInTime), RecoveryPointArn: get(DataRecoveryPointArn),
		SourceTableArn: get(DataSourceTableArn), RestoreJobID: get(DataRestoreJobID),
	}
}

// dataFromTags rebuilds Data from a table's tags; sourceTableArn fills in
// when the table carries no such tag.
func dataFromTags(name, arn string, tags map[string]string, sourceTableArn string) restoreData {
	d := restoreData{
		TableName: name, TableArn: arn,
		Source: tags[TagRestoreSource], PointInTime: tags[TagRestorePoint],
		RecoveryPointArn: tags[TagRecoveryPointArn], RestoreJobID: tags[TagRestoreJobID],
		SourceTableArn: tags[TagSourceTableArn],
	}
	if d.SourceTableArn == "" {
		d.SourceTableArn = sourceTableArn
	}
	return d
}

// formatTime is the Data and tag form of a point in time.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
