package tablerestore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// complete polls a Create: waits for the table, fails fast when its restore
// job failed, and once the table is ACTIVE turns on PITR and deletion
// protection and tags it, each step only if not done yet.
func (h *Handler) complete(ctx context.Context, e CompletionEvent) (CompletionResponse, error) {
	p, err := parseProperties(e.ResourceProperties)
	if err != nil {
		return CompletionResponse{}, fmt.Errorf("table restore %s: %w", e.LogicalResourceID, err)
	}
	d := dataFromEvent(e.Data)
	if d.TableName == "" {
		d.TableName = p.TableName
	}
	name := d.TableName
	table, err := h.describeTable(ctx, name)
	if err != nil {
		return CompletionResponse{}, fmt.Errorf("restore table %s: describe it in %s: %w; allow dynamodb:DescribeTable", name, h.Region, err)
	}
	status := types.TableStatus("")
	if table != nil {
		status = table.TableStatus
	}
	if status != types.TableStatusActive {
		if err := h.checkRestoreJob(ctx, name, d.RestoreJobID); err != nil {
			return CompletionResponse{}, err
		}
	}
	switch status {
	case "", types.TableStatusCreating, types.TableStatusUpdating:
		h.log().Info("waiting for the restored table", "table", name, "status", string(status), "restore_job_id", d.RestoreJobID)
		return CompletionResponse{IsComplete: false}, nil
	case types.TableStatusActive:
	default:
		return CompletionResponse{}, fmt.Errorf("restore table %s: the table is %s in %s, not ACTIVE; fix or delete it by hand and deploy again", name, status, h.Region)
	}

	d.TableArn = aws.ToString(table.TableArn)
	done, err := h.finish(ctx, table, d, p)
	if err != nil || !done {
		return CompletionResponse{}, err
	}
	h.log().Info("restored table ready", "table", name, "source", d.Source, "point_in_time", d.PointInTime)
	return CompletionResponse{IsComplete: true, Data: d.toMap()}, nil
}

// checkRestoreJob fails when the backup restore job behind a missing or
// still-creating table has failed; without a job there is nothing to check.
func (h *Handler) checkRestoreJob(ctx context.Context, table, jobID string) error {
	if jobID == "" {
		return nil
	}
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	job, err := h.Backup.DescribeRestoreJob(callCtx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String(jobID)})
	if err != nil {
		return fmt.Errorf("restore table %s: check AWS Backup restore job %s: %w; allow backup:DescribeRestoreJob", table, jobID, err)
	}
	switch job.Status {
	case backuptypes.RestoreJobStatusFailed, backuptypes.RestoreJobStatusAborted:
		return fmt.Errorf("restore table %s: AWS Backup restore job %s %s: %s; see the job in the AWS Backup console, fix the cause and deploy again", table, jobID, job.Status, aws.ToString(job.StatusMessage))
	}
	return nil
}

// finish applies PITR, deletion protection and tags; it reports false when
// DynamoDB asks to retry later (a fresh table's backups are still starting).
func (h *Handler) finish(ctx context.Context, table *types.TableDescription, d restoreData, p properties) (bool, error) {
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
	want := wantedTags(d, p.Tags)
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
