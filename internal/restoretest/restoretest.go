// Package restoretest proves, on a schedule, that the aggregates table can be
// restored in the backup region from the newest AWS Backup copy in the backup
// vault (the restore path that works when the primary region is gone), and
// measures how long that takes: the table's measured RTO.
//
// Why a state machine and not AWS Backup restore testing: a restore testing
// plan selects recovery points of *protected resources*
// (RestoreTestingSelection: ProtectedResourceType with ProtectedResourceArns
// or ProtectedResourceConditions; RestoreTestingRecoveryPointSelection:
// IncludeVaults, RecoveryPointTypes, Algorithm), and the AWS Backup Developer
// Guide ("Restore testing", restore-testing.html, and the API pages
// CreateRestoreTestingSelection and RestoreTestingRecoveryPointSelection)
// never says whether a plan in the backup region treats the primary table,
// a resource of another region, as a protected resource whose copies in the
// plan's vault it may select. It cannot be shown from the documentation, so
// the test is built from the documented primitives instead: StartRestoreJob
// from the vault copy, DescribeRestoreJob, validate, DeleteTable.
//
// Guarantees: the test restores into a throwaway table named
// "<prefix>-restore-test-<UTC time>" (never the failover table's name) and
// deletes it after validation, whatever the verdict; every run ends in a
// record (SSM parameter RecordParameter) and metrics, pass or fail, so a
// silent failure shows as a stale record; the validation never writes to the
// restored table.
package restoretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/naming"
)

// The aggregates table's key schema (constructs/datatier declares it; the
// aggregator writes pk = key value, sk = "<window_start>#<region>#<shard>").
const (
	PartitionKey = "pk"
	SortKey      = "sk"
)

const (
	// sampleItems bounds the validation's count of items: one page of reads.
	sampleItems = 1000
	// RecentWindow: the primary must have written an item no earlier than
	// this before the recovery point was taken. The workload writes a
	// window every minute while producers send; a day of silence before a
	// backup means the copy is not what failover would need.
	RecentWindow = 24 * time.Hour
)

// TablePrefix starts every throwaway table the test restores into; IAM
// lets the test delete only tables with this prefix.
func TablePrefix(prefix string) string { return prefix + "-restore-test-" }

// RecordParameter is the SSM parameter (backup region) holding the last
// test's Record as JSON; readiness and `drctl status` read it.
func RecordParameter(prefix string) string { return "/" + prefix + "/restore-test/last" }

// Restore names one test's restore: which copy, into which table, when.
type Restore struct {
	// RecoveryPointArn and RecoveryPointCreated name the copy restored.
	RecoveryPointArn     string    `json:"recovery_point_arn"`
	RecoveryPointCreated time.Time `json:"recovery_point_created"`
	// Table is the throwaway table.
	Table string `json:"table"`
	// StartedAt is when the restore job was started.
	StartedAt time.Time `json:"started_at"`
}

// Record is what one test found.
type Record struct {
	Restore
	// FinishedAt is when the validation ended.
	FinishedAt time.Time `json:"finished_at"`
	// RestoreMinutes is the restore job's duration (start to completion as
	// AWS Backup reports it), the table's measured RTO; 0 when it failed.
	RestoreMinutes float64 `json:"restore_minutes"`
	// Passed is the verdict; Detail says why.
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
	// Items is how many items the validation read (at most sampleItems).
	Items int `json:"items"`
	// Deleted reports whether the throwaway table was deleted.
	Deleted bool `json:"deleted"`
	// LastPassedAt is when the newest passed test finished: this one's
	// FinishedAt when it passed, else carried over from the record before.
	LastPassedAt *time.Time `json:"last_passed_at,omitempty"`
}

// The AWS calls the test makes, as small interfaces; SDK clients satisfy them.
type (
	BackupAPI interface {
		ListRecoveryPointsByBackupVault(context.Context, *backup.ListRecoveryPointsByBackupVaultInput, ...func(*backup.Options)) (*backup.ListRecoveryPointsByBackupVaultOutput, error)
		StartRestoreJob(context.Context, *backup.StartRestoreJobInput, ...func(*backup.Options)) (*backup.StartRestoreJobOutput, error)
		DescribeRestoreJob(context.Context, *backup.DescribeRestoreJobInput, ...func(*backup.Options)) (*backup.DescribeRestoreJobOutput, error)
	}
	DynamoDBAPI interface {
		DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
		Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
		Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
		ListTables(context.Context, *dynamodb.ListTablesInput, ...func(*dynamodb.Options)) (*dynamodb.ListTablesOutput, error)
		DeleteTable(context.Context, *dynamodb.DeleteTableInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
	}
	SSMAPI interface {
		GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
		PutParameter(context.Context, *ssm.PutParameterInput, ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
	}
)

// Tester runs the three steps of one restore test.
type Tester struct {
	Names         naming.Names
	PrimaryRegion string
	// RestoreRoleArn is the role AWS Backup assumes to restore.
	RestoreRoleArn string
	Backup         BackupAPI
	DynamoDB       DynamoDBAPI
	SSM            SSMAPI
	// Metrics receives the EMF lines (the function's stdout).
	Metrics io.Writer
	Now     func() time.Time
}

// Job is the state the state machine carries between the steps.
type Job struct {
	Restore
	RestoreJobID string `json:"restore_job_id"`
	// SourceBytes is the recovery point's size: zero means the table was
	// empty when it was backed up, so an empty restore is correct.
	SourceBytes int64 `json:"source_bytes"`
	// Status is AWS Backup's restore job status, e.g. "RUNNING", "COMPLETED".
	Status string `json:"status"`
	// Swept are throwaway tables of earlier tests that Start deleted
	// because their test ended without deleting them.
	Swept []string `json:"swept,omitempty"`
	// Ended tells the state machine to stop polling (see Done).
	Ended         bool       `json:"ended"`
	StatusMessage string     `json:"status_message,omitempty"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
}

// Done reports whether the restore job has ended (the state machine stops
// polling): COMPLETED, FAILED or ABORTED (RestoreJobStatus in the AWS
// Backup API reference: PENDING | RUNNING | COMPLETED | ABORTED | FAILED).
func (j Job) Done() bool {
	switch backuptypes.RestoreJobStatus(j.Status) {
	case backuptypes.RestoreJobStatusCompleted, backuptypes.RestoreJobStatusFailed, backuptypes.RestoreJobStatusAborted:
		return true
	}
	return false
}

func (t *Tester) now() time.Time {
	if t.Now == nil {
		return time.Now().UTC()
	}
	return t.Now().UTC()
}

// Start restores the newest completed copy of the primary table in the
// backup vault into a new throwaway table.
func (t *Tester) Start(ctx context.Context) (Job, error) {
	vault, source := t.Names.BackupVault(), t.Names.TableArn(t.PrimaryRegion)
	var newest *backuptypes.RecoveryPointByBackupVault
	var token *string
	for {
		out, err := t.Backup.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{
			BackupVaultName: aws.String(vault), ByResourceArn: aws.String(source), NextToken: token,
		})
		if err != nil {
			return Job{}, fmt.Errorf("list recovery points of %s in vault %s: %w", source, vault, err)
		}
		for i, rp := range out.RecoveryPoints {
			if rp.Status == backuptypes.RecoveryPointStatusCompleted && rp.CreationDate != nil &&
				(newest == nil || rp.CreationDate.After(*newest.CreationDate)) {
				newest = &out.RecoveryPoints[i]
			}
		}
		if token = out.NextToken; aws.ToString(token) == "" {
			break
		}
	}
	if newest == nil {
		return Job{}, fmt.Errorf("no completed copy of %s in vault %s: the backup plan's copies to the backup region are not arriving", source, vault)
	}
	started := t.now()
	swept := t.sweep(ctx, started)
	job := Job{
		Swept: swept,
		Restore: Restore{
			RecoveryPointArn: aws.ToString(newest.RecoveryPointArn), RecoveryPointCreated: newest.CreationDate.UTC(),
			Table: TablePrefix(t.Names.Prefix) + started.Format("20060102t150405z"), StartedAt: started,
		},
		SourceBytes: aws.ToInt64(newest.BackupSizeInBytes),
	}
	out, err := t.Backup.StartRestoreJob(ctx, &backup.StartRestoreJobInput{
		RecoveryPointArn: newest.RecoveryPointArn,
		IamRoleArn:       aws.String(t.RestoreRoleArn),
		ResourceType:     aws.String("DynamoDB"),
		// DynamoDB restore metadata: targetTableName names the new table
		// ("Restoring a DynamoDB table", AWS Backup Developer Guide).
		Metadata:         map[string]string{"targetTableName": job.Table},
		IdempotencyToken: aws.String(job.Table),
	})
	if err != nil {
		return Job{}, fmt.Errorf("start restore job of %s into %s: %w", job.RecoveryPointArn, job.Table, err)
	}
	job.RestoreJobID, job.Status = aws.ToString(out.RestoreJobId), string(backuptypes.RestoreJobStatusPending)
	return job, nil
}

// LeftoverAge is when a throwaway table counts as left behind: older than
// the longest a test may run (the state machine's 6-hour timeout), so a
// running test's table is never taken.
const LeftoverAge = 7 * time.Hour

// sweep deletes throwaway tables that earlier tests left behind (an
// execution that failed or timed out before its Finish, a table still
// CREATING when Finish ran). Tables are named TablePrefix + start time, and
// ListTables lists names in order from ExclusiveStartTableName on. What
// cannot be deleted now is tried again by the next test.
func (t *Tester) sweep(ctx context.Context, now time.Time) []string {
	prefix := TablePrefix(t.Names.Prefix)
	var swept []string
	start := aws.String(prefix)
	for pages := 0; pages < 100; pages++ {
		out, err := t.DynamoDB.ListTables(ctx, &dynamodb.ListTablesInput{ExclusiveStartTableName: start, Limit: aws.Int32(100)})
		if err != nil {
			return swept
		}
		for _, name := range out.TableNames {
			if !strings.HasPrefix(name, prefix) {
				return swept // past the throwaway tables
			}
			made, err := time.Parse("20060102t150405z", strings.TrimPrefix(name, prefix))
			if err != nil || now.Sub(made) < LeftoverAge {
				continue
			}
			if _, err := t.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err == nil {
				swept = append(swept, name)
			}
		}
		if start = out.LastEvaluatedTableName; start == nil {
			return swept
		}
	}
	return swept
}

// Check reads the restore job's status.
func (t *Tester) Check(ctx context.Context, job Job) (Job, error) {
	out, err := t.Backup.DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String(job.RestoreJobID)})
	if err != nil {
		return job, fmt.Errorf("describe restore job %s: %w", job.RestoreJobID, err)
	}
	job.Status, job.StatusMessage = string(out.Status), aws.ToString(out.StatusMessage)
	job.Ended = job.Done()
	if out.CompletionDate != nil {
		done := out.CompletionDate.UTC()
		job.CompletedAt = &done
	}
	return job, nil
}

// Finish validates the restored table (when the job completed), deletes it,
// records the result in SSM and publishes the metrics. It returns the record
// and, when the test failed, an error carrying the reason, so the state
// machine's execution fails too.
func (t *Tester) Finish(ctx context.Context, job Job) (Record, error) {
	rec := Record{Restore: job.Restore}
	if job.Status == string(backuptypes.RestoreJobStatusCompleted) {
		completed := t.now()
		if job.CompletedAt != nil {
			completed = *job.CompletedAt
		}
		rec.RestoreMinutes = roundMinutes(completed.Sub(job.StartedAt))
		rec.Passed, rec.Detail, rec.Items = t.validate(ctx, job)
	} else {
		rec.Detail = fmt.Sprintf("restore job %s ended %s: %s", job.RestoreJobID, job.Status, job.StatusMessage)
	}
	rec.Deleted = t.deleteTable(ctx, job.Table, &rec)
	rec.FinishedAt = t.now()

	var errs []string
	if rec.Passed {
		rec.LastPassedAt = &rec.FinishedAt
	} else if previous, err := ReadRecord(ctx, t.SSM, t.Names.Prefix); err != nil {
		errs = append(errs, err.Error())
	} else if previous != nil {
		rec.LastPassedAt = previous.LastPassedAt
	}
	if err := t.record(ctx, rec); err != nil {
		errs = append(errs, err.Error())
	}
	values := []drmetrics.Value{{Name: drmetrics.ValidationPassed, Unit: drmetrics.UnitCount, Value: boolValue(rec.Passed)},
		{Name: drmetrics.RestoredItemCount, Unit: drmetrics.UnitCount, Value: float64(rec.Items)}}
	if job.Status == string(backuptypes.RestoreJobStatusCompleted) {
		values = append(values, drmetrics.Value{Name: drmetrics.RestoreMinutes, Unit: drmetrics.UnitNone, Value: rec.RestoreMinutes})
	}
	if err := drmetrics.Write(t.Metrics, rec.FinishedAt, drmetrics.Document{
		Namespace: drmetrics.RestoreTestNamespace, Dimensions: map[string]string{drmetrics.DimPrefix: t.Names.Prefix},
		Values: values, Fields: map[string]any{"table": rec.Table, "detail": rec.Detail},
	}); err != nil {
		errs = append(errs, err.Error())
	}
	if !rec.Passed {
		errs = append([]string{"restore test failed: " + rec.Detail}, errs...)
	}
	if len(errs) > 0 {
		return rec, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return rec, nil
}

// validate checks the restored table: ACTIVE, the aggregates key schema,
// items when the source had any, and a recent window among them.
func (t *Tester) validate(ctx context.Context, job Job) (bool, string, int) {
	out, err := t.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(job.Table)})
	if err != nil {
		return false, fmt.Sprintf("describe restored table %s: %v", job.Table, err), 0
	}
	table := out.Table
	if table.TableStatus != ddbtypes.TableStatusActive {
		return false, fmt.Sprintf("restored table %s is %s, not ACTIVE", job.Table, table.TableStatus), 0
	}
	if got := keySchema(table.KeySchema); got != PartitionKey+" HASH, "+SortKey+" RANGE" {
		return false, fmt.Sprintf("restored table %s has key schema %q, want %s HASH, %s RANGE: the vault holds a copy of another table", job.Table, got, PartitionKey, SortKey), 0
	}
	counted, err := t.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(job.Table), Limit: aws.Int32(sampleItems), Select: ddbtypes.SelectCount})
	if err != nil {
		return false, fmt.Sprintf("scan restored table %s: %v", job.Table, err), 0
	}
	items := int(counted.Count)
	switch {
	case job.SourceBytes == 0 && items == 0:
		return true, fmt.Sprintf("restored %s: ACTIVE, key schema pk/sk, empty like its source (0 bytes backed up)", job.Table), 0
	case items == 0:
		return false, fmt.Sprintf("restored table %s is empty but its recovery point holds %d bytes", job.Table, job.SourceBytes), 0
	}
	newest, err := t.newestWrite(ctx, job.Table, job.RecoveryPointCreated)
	switch {
	case err != nil:
		return false, fmt.Sprintf("restored table %s: read its index %s: %v (failback's merge needs that index)", job.Table, writerhour.Index, err), items
	case newest.IsZero():
		return false, fmt.Sprintf("restored table %s: nothing written by %s in the %s before the recovery point: the copy is stale",
			job.Table, t.PrimaryRegion, RecentWindow), items
	}
	return true, fmt.Sprintf("restored %s: ACTIVE, key schema pk/sk, %d items sampled, newest write %s (%s before the recovery point)",
		job.Table, items, newest.Format(time.RFC3339), max(job.RecoveryPointCreated.Sub(newest), 0).Round(time.Minute)), items
}

// newestWrite finds the newest item the primary region wrote in the
// RecentWindow before the recovery point, through the by-writer-hour index:
// hour by hour backwards, each of the hour's Spread partitions newest first.
// A scan would not do: DynamoDB keeps a partition key's items in sort-key
// order (window start first), so a bounded scan of a table with history
// returns its oldest windows ("Core components of Amazon DynamoDB": items
// with the same partition key are stored together, in sorted order by sort
// key value). Querying also proves the restored copy kept the index.
func (t *Tester) newestWrite(ctx context.Context, table string, before time.Time) (time.Time, error) {
	for h := before.UTC().Truncate(time.Hour); !h.Before(before.Add(-RecentWindow).Truncate(time.Hour)); h = h.Add(-time.Hour) {
		var newest time.Time
		for _, value := range writerhour.Values(t.PrimaryRegion, h) {
			out, err := t.DynamoDB.Query(ctx, &dynamodb.QueryInput{
				TableName: aws.String(table), IndexName: aws.String(writerhour.Index),
				KeyConditionExpression:    aws.String("#w = :w"),
				ExpressionAttributeNames:  map[string]string{"#w": writerhour.Attribute},
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":w": &ddbtypes.AttributeValueMemberS{Value: value}},
				ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(1),
			})
			if err != nil {
				return time.Time{}, err
			}
			for _, item := range out.Items {
				if s, ok := item[writerhour.SortKey].(*ddbtypes.AttributeValueMemberS); ok {
					if ts, err := time.Parse(time.RFC3339Nano, s.Value); err == nil && ts.After(newest) && !ts.After(before) {
						newest = ts.UTC()
					}
				}
			}
		}
		if !newest.IsZero() {
			return newest, nil
		}
	}
	return time.Time{}, nil
}

// deleteTable removes the throwaway table; a table that never appeared
// (failed restore) counts as deleted.
func (t *Tester) deleteTable(ctx context.Context, table string, rec *Record) bool {
	_, err := t.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	var notFound *ddbtypes.ResourceNotFoundException
	switch {
	case err == nil:
		return true
	case errors.As(err, &notFound):
		return true
	}
	rec.Detail += fmt.Sprintf("; delete throwaway table %s: %v (delete it by hand)", table, err)
	return false
}

func (t *Tester) record(ctx context.Context, rec Record) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode restore test record: %w", err)
	}
	name := RecordParameter(t.Names.Prefix)
	if _, err := t.SSM.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(string(body)), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true),
	}); err != nil {
		return fmt.Errorf("record restore test in SSM %s: %w", name, err)
	}
	return nil
}

// ParameterGetter reads an SSM parameter.
type ParameterGetter interface {
	GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// ReadRecord returns the last test's record, or nil when no test has
// recorded one yet (ParameterNotFound).
func ReadRecord(ctx context.Context, client ParameterGetter, prefix string) (*Record, error) {
	name := RecordParameter(prefix)
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	var notFound *ssmtypes.ParameterNotFound
	switch {
	case errors.As(err, &notFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read restore test record %s: %w", name, err)
	case out.Parameter == nil:
		return nil, fmt.Errorf("read restore test record %s: no parameter in the answer", name)
	}
	var rec Record
	if err := json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &rec); err != nil {
		return nil, fmt.Errorf("restore test record %s is not a record: %w", name, err)
	}
	return &rec, nil
}

func keySchema(keys []ddbtypes.KeySchemaElement) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = aws.ToString(k.AttributeName) + " " + string(k.KeyType)
	}
	return strings.Join(parts, ", ")
}

func roundMinutes(d time.Duration) float64 {
	return float64(d.Round(time.Second)) / float64(time.Minute)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// StateMachineName is the restore test's state machine.
func StateMachineName(prefix string) string { return prefix + "-restore-test" }

// Step is the state machine's request to the function.
type Step struct {
	// Action is ActionStart, ActionCheck or ActionFinish.
	Action string `json:"action"`
	Job    Job    `json:"job"`
}

// Actions of Step.
const (
	ActionStart  = "start"
	ActionCheck  = "check"
	ActionFinish = "finish"
)

// Handle runs one step; the state machine passes the returned job (or, for
// finish, the record) on.
func (t *Tester) Handle(ctx context.Context, step Step) (any, error) {
	switch step.Action {
	case ActionStart:
		return t.Start(ctx)
	case ActionCheck:
		return t.Check(ctx, step.Job)
	case ActionFinish:
		return t.Finish(ctx, step.Job)
	}
	return nil, fmt.Errorf("restore test: unknown action %q; want %s, %s or %s", step.Action, ActionStart, ActionCheck, ActionFinish)
}
