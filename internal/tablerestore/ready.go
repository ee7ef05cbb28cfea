package tablerestore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// readyOnEvent serves the ready resource's onEvent. Create only starts the
// wait (isComplete does the work); Update reports the table as it is,
// changing nothing; Delete does nothing.
func (h *Handler) readyOnEvent(ctx context.Context, e cfn.Event) (Response, error) {
	if e.RequestType == cfn.RequestDelete {
		h.log().Info("delete of the ready resource: nothing to do", "physical_id", e.PhysicalResourceID, "request_id", e.RequestID)
		return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
	}
	p, err := parseReadyProperties(e.ResourceProperties)
	if err != nil {
		return Response{}, fmt.Errorf("table restore %s: %w", e.LogicalResourceID, err)
	}
	data := map[string]string{
		DataTableName: p.TableName, DataTableArn: none, DataStatus: StatusRestoring,
		DataWaitStartedAt: formatTime(h.now()),
	}
	resp := Response{PhysicalResourceID: "ready-" + p.TableName, Data: data}
	if e.RequestType == cfn.RequestCreate {
		h.log().Info("waiting for the restored table", "table", p.TableName, "source", p.restore.Source,
			"restore_job_id", p.restore.RestoreJobID, "wait_minutes", p.Wait.Minutes())
		return resp, nil
	}
	table, err := h.describeTable(ctx, p.TableName)
	if err != nil {
		return Response{}, fmt.Errorf("update table restore %s: describe the table in %s: %w; allow dynamodb:DescribeTable and deploy again", p.TableName, h.Region, err)
	}
	if table == nil {
		return Response{}, fmt.Errorf("update table restore %s: the table no longer exists in %s and Update never restores; destroy BackupFailoverStack (Delete keeps tables) and deploy it again to restore", p.TableName, h.Region)
	}
	data[DataTableArn] = aws.ToString(table.TableArn)
	protected, err := h.protected(ctx, table)
	if err != nil {
		return Response{}, fmt.Errorf("update table restore %s: %w and deploy again", p.TableName, err)
	}
	if protected {
		data[DataStatus] = StatusActive
	} else {
		h.log().Warn("the restored table is not ACTIVE with point-in-time recovery and deletion protection yet; Update changes nothing: turn them on once it is ACTIVE (drctl status says so)",
			"table", p.TableName, "status", string(table.TableStatus))
	}
	return resp, nil
}

// protected tells whether the table is ACTIVE with PITR and deletion protection.
func (h *Handler) protected(ctx context.Context, table *types.TableDescription) (bool, error) {
	if table.TableStatus != types.TableStatusActive || !aws.ToBool(table.DeletionProtectionEnabled) {
		return false, nil
	}
	name := aws.ToString(table.TableName)
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	backups, err := h.DynamoDB.DescribeContinuousBackups(callCtx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(name)})
	if err != nil {
		return false, fmt.Errorf("read the point-in-time recovery status of %s: %w; allow dynamodb:DescribeContinuousBackups", name, err)
	}
	return pitrEnabled(backups.ContinuousBackupsDescription), nil
}

// readyComplete polls a ready Create: fails when the restore failed (its
// backup job failed, or the table of a point-in-time restore or adopted
// table is gone), waits while the restore runs, and once the table is
// ACTIVE turns on PITR and deletion protection and tags it, each step only
// if not done yet. Still waiting after WaitMinutes, it completes with
// Status RESTORING: a slow restore must not roll back a working failover.
func (h *Handler) readyComplete(ctx context.Context, e CompletionEvent) (CompletionResponse, error) {
	p, err := parseReadyProperties(e.ResourceProperties)
	if err != nil {
		return CompletionResponse{}, fmt.Errorf("table restore %s: %w", e.LogicalResourceID, err)
	}
	d := p.restore
	name := p.TableName
	table, err := h.describeTable(ctx, name)
	if err != nil {
		return CompletionResponse{}, fmt.Errorf("restore table %s: describe it in %s: %w; allow dynamodb:DescribeTable", name, h.Region, err)
	}
	status := types.TableStatus("")
	if table != nil {
		status = table.TableStatus
		d.TableArn = aws.ToString(table.TableArn)
	}
	if status != types.TableStatusActive {
		if err := h.checkRestore(ctx, table, d); err != nil {
			return CompletionResponse{}, err
		}
	}
	switch status {
	case "":
		return h.keepWaiting(e, p, d, "not created yet")
	case types.TableStatusCreating, types.TableStatusUpdating:
		return h.keepWaiting(e, p, d, string(status))
	case types.TableStatusActive:
	case types.TableStatusDeleting:
		return CompletionResponse{}, fmt.Errorf("restore table %s: the table is DELETING in %s: the restore failed or the table was deleted; destroy BackupFailoverStack and deploy it again to restore", name, h.Region)
	default:
		return CompletionResponse{}, fmt.Errorf("restore table %s: the table is %s in %s, not ACTIVE; fix or delete it by hand and deploy again", name, status, h.Region)
	}

	done, err := h.finish(ctx, table, d, p.Tags)
	if err != nil {
		return CompletionResponse{}, err
	}
	if !done {
		return h.keepWaiting(e, p, d, "ACTIVE, protection pending")
	}
	h.log().Info("restored table ready", "table", name, "source", d.Source, "point_in_time", d.PointInTime)
	return CompletionResponse{IsComplete: true, Data: readyData(e, d, StatusActive)}, nil
}

// readyData is the ready resource's Data for a finished wait.
func readyData(e CompletionEvent, d restoreData, status string) map[string]string {
	return map[string]string{
		DataTableName: d.TableName, DataTableArn: or(d.TableArn, none), DataStatus: status,
		DataWaitStartedAt: or(e.DataString(DataWaitStartedAt), none),
	}
}

// keepWaiting answers a poll of a restore still under way: not complete,
// or, past the wait, complete with Status RESTORING.
func (h *Handler) keepWaiting(e CompletionEvent, p readyProperties, d restoreData, status string) (CompletionResponse, error) {
	started, err := time.Parse(time.RFC3339, e.DataString(DataWaitStartedAt))
	if err != nil {
		// Only a caller other than the Provider framework leaves it out;
		// stop waiting rather than risk rolling back the failover.
		h.log().Warn("isComplete event has no valid Data.WaitStartedAt; not waiting", "table", d.TableName,
			"wait_started_at", e.DataString(DataWaitStartedAt))
	}
	waited := h.now().Sub(started)
	if err == nil && waited <= p.Wait {
		h.log().Info("waiting for the restored table", "table", d.TableName, "status", status,
			"restore_job_id", d.RestoreJobID, "waited_minutes", int(waited.Minutes()))
		return CompletionResponse{IsComplete: false}, nil
	}
	h.log().Warn("the restore continues past the wait; the failover stack completes without it: once the table is ACTIVE, turn on point-in-time recovery and deletion protection (drctl status says so)",
		"table", d.TableName, "status", status, "source", d.Source, "restore_job_id", d.RestoreJobID,
		"wait_minutes", p.Wait.Minutes())
	return CompletionResponse{IsComplete: true, Data: readyData(e, d, StatusRestoring)}, nil
}

// checkRestore fails when the restore behind a missing or not yet ACTIVE
// table has failed: its AWS Backup job FAILED or ABORTED, or, without a
// job to wait for, the table is gone (DynamoDB drops the table of a failed
// point-in-time restore).
func (h *Handler) checkRestore(ctx context.Context, table *types.TableDescription, d restoreData) error {
	name := d.TableName
	if d.RestoreJobID != "" {
		job, err := h.restoreJob(ctx, name, d.RestoreJobID)
		if err != nil {
			return err
		}
		switch job.Status {
		case backuptypes.RestoreJobStatusFailed, backuptypes.RestoreJobStatusAborted:
			return fmt.Errorf("restore table %s: AWS Backup restore job %s %s: %s; see the job in the AWS Backup console, fix the cause and deploy again", name, d.RestoreJobID, job.Status, aws.ToString(job.StatusMessage))
		case backuptypes.RestoreJobStatusCompleted:
			if table == nil {
				return fmt.Errorf("restore table %s: AWS Backup restore job %s COMPLETED but there is no table %s in %s; destroy BackupFailoverStack and deploy it again to restore", name, d.RestoreJobID, name, h.Region)
			}
		}
		return nil
	}
	if table == nil {
		what := "the point-in-time restore failed: DynamoDB removed the table it was creating"
		if d.Source != SourcePITR {
			what = fmt.Sprintf("the table (source %s) is gone and no restore job is running", d.Source)
		}
		return fmt.Errorf("restore table %s: no table %s in %s; %s; destroy BackupFailoverStack and deploy it again to restore (with -c restoreSource=backup if the primary region is down)", name, name, h.Region, what)
	}
	if s := table.RestoreSummary; s != nil && s.RestoreInProgress != nil && !*s.RestoreInProgress && table.TableStatus == types.TableStatusCreating {
		// The restore is over and the table is finishing its creation;
		// DynamoDB makes it ACTIVE shortly, so the wait goes on.
		h.log().Info("restore finished; the table is still CREATING", "table", name)
	}
	return nil
}

// restoreJob describes an AWS Backup restore job.
func (h *Handler) restoreJob(ctx context.Context, table, jobID string) (*backup.DescribeRestoreJobOutput, error) {
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	job, err := h.Backup.DescribeRestoreJob(callCtx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String(jobID)})
	if err != nil {
		return nil, fmt.Errorf("restore table %s: check AWS Backup restore job %s: %w; allow backup:DescribeRestoreJob", table, jobID, err)
	}
	return job, nil
}

// finish applies PITR, deletion protection and tags; it reports false when
// DynamoDB asks to retry later (a fresh table's backups are still starting).
func (h *Handler) finish(ctx context.Context, table *types.TableDescription, d restoreData, userTags map[string]string) (bool, error) {
	name, arn := d.TableName, d.TableArn

	callCtx, cancel := h.deadline(ctx)
	backups, err := h.DynamoDB.DescribeContinuousBackups(callCtx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(name)})
	cancel()
	if err != nil {
		return false, fmt.Errorf("restore table %s: read its point-in-time recovery status: %w; allow dynamodb:DescribeContinuousBackups", name, err)
	}
	if !pitrEnabled(backups.ContinuousBackupsDescription) {
		callCtx, cancel := h.deadline(ctx)
		_, err := h.DynamoDB.UpdateContinuousBackups(callCtx, &dynamodb.UpdateContinuousBackupsInput{
			TableName:                        aws.String(name),
			PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: aws.Bool(true)},
		})
		cancel()
		var unavailable *types.ContinuousBackupsUnavailableException
		if errors.As(err, &unavailable) {
			h.log().Info("point-in-time recovery not available yet; retrying on the next poll", "table", name)
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("restore table %s: turn on point-in-time recovery: %w; allow dynamodb:UpdateContinuousBackups", name, err)
		}
		h.log().Info("point-in-time recovery turned on", "table", name)
	}

	if !aws.ToBool(table.DeletionProtectionEnabled) {
		callCtx, cancel := h.deadline(ctx)
		_, err := h.DynamoDB.UpdateTable(callCtx, &dynamodb.UpdateTableInput{TableName: aws.String(name), DeletionProtectionEnabled: aws.Bool(true)})
		cancel()
		var inUse *types.ResourceInUseException
		if errors.As(err, &inUse) {
			h.log().Info("table busy; deletion protection on the next poll", "table", name)
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("restore table %s: turn on deletion protection: %w; allow dynamodb:UpdateTable", name, err)
		}
		h.log().Info("deletion protection turned on", "table", name)
	}

	current, err := h.listTags(ctx, arn)
	if err != nil {
		return false, fmt.Errorf("restore table %s: read its tags: %w; allow dynamodb:ListTagsOfResource", name, err)
	}
	var missing []types.Tag
	want := wantedTags(d, userTags)
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if v, ok := current[k]; !ok || v != want[k] {
			missing = append(missing, types.Tag{Key: aws.String(k), Value: aws.String(want[k])})
		}
	}
	if len(missing) > 0 {
		callCtx, cancel := h.deadline(ctx)
		_, err := h.DynamoDB.TagResource(callCtx, &dynamodb.TagResourceInput{ResourceArn: aws.String(arn), Tags: missing})
		cancel()
		if err != nil {
			return false, fmt.Errorf("restore table %s: tag it: %w; allow dynamodb:TagResource", name, err)
		}
		h.log().Info("table tagged", "table", name, "tags", len(missing))
	}
	return true, nil
}

func pitrEnabled(d *types.ContinuousBackupsDescription) bool {
	return d != nil && d.PointInTimeRecoveryDescription != nil &&
		d.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus == types.PointInTimeRecoveryStatusEnabled
}

// wantedTags are the template's tags plus the restore's own, which win.
func wantedTags(d restoreData, user map[string]string) map[string]string {
	want := maps.Clone(user)
	if want == nil {
		want = map[string]string{}
	}
	want[TagRestoredBy] = restoredBy
	want[TagRestoreSource] = d.Source
	if want[TagRestoreSource] == "" {
		want[TagRestoreSource] = SourceExisting
	}
	for key, value := range map[string]string{
		TagRestorePoint:     d.PointInTime,
		TagRecoveryPointArn: d.RecoveryPointArn,
		TagRestoreJobID:     d.RestoreJobID,
		TagSourceTableArn:   d.SourceTableArn,
	} {
		if value != "" && value != unknownPoint {
			want[key] = value
		}
	}
	return want
}
