package tablerestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
)

// runAgain ends every message of a restore that cannot go on by itself.
// With --no-rollback CloudFormation keeps what was created (the stream,
// Firehose, the ALB producers already use) and the next identical deploy
// retries the failed resource from where it stopped ("Choose how to handle
// failures when provisioning resources", CloudFormation User Guide:
// "preserves the state of resources that were successfully created and
// leaves the failed ones in a failed state until the next update operation
// is performed"); a rollback would delete the live ingest path instead.
const runAgain = "fix the cause and run the same deploy again: cdk deploy BackupFailoverStack --exclusively --no-rollback --require-approval never"

// jobLookBack widens the ListRestoreJobs window before the recorded
// failover start, which is truncated to the second and taken on another
// clock than AWS Backup's.
const jobLookBack = time.Minute

// restoreJob is an AWS Backup restore job into the table, as
// ListRestoreJobs reports it.
type restoreJob struct {
	ID, Status, StatusMessage, RecoveryPointArn string
	Created                                     time.Time
	// PointInTime is the recovery point's creation time, RFC 3339 UTC, or "".
	PointInTime string
}

func (j restoreJob) running() bool {
	return j.Status == string(backuptypes.RestoreJobStatusPending) || j.Status == string(backuptypes.RestoreJobStatusRunning)
}

func (j restoreJob) succeeded() bool {
	return j.Status == string(backuptypes.RestoreJobStatusCompleted)
}

// data is what a restore by this job is.
func (j restoreJob) data(name, arn, sourceTableArn string) restoreData {
	return restoreData{TableName: name, TableArn: arn, Source: SourceBackup, PointInTime: j.PointInTime,
		RecoveryPointArn: j.RecoveryPointArn, SourceTableArn: sourceTableArn, RestoreJobID: j.ID}
}

// tableJobs lists the AWS Backup restore jobs into the table since the
// failover began, oldest first. A job counts when it restores a DynamoDB
// recovery point of the source table into this table name; restore testing
// jobs (CreatedBy.RestoreTestingPlanArn) restore into names of their own
// and never count. The target is the job's CreatedResourceArn once AWS
// Backup reports it, else the targetTableName of its metadata
// (GetRestoreJobMetadata "returns the set of metadata" of the job, "Restore
// testing inferred metadata", AWS Backup Developer Guide).
func (h *Handler) tableJobs(ctx context.Context, name, arn, sourceTableArn string, failoverStartedAt time.Time) ([]restoreJob, error) {
	pager := backup.NewListRestoreJobsPaginator(h.Backup, &backup.ListRestoreJobsInput{
		ByCreatedAfter: aws.Time(failoverStartedAt.Add(-jobLookBack)),
		ByResourceType: aws.String(backupResourceType),
	}, func(o *backup.ListRestoreJobsPaginatorOptions) { o.StopOnDuplicateToken = true })
	var jobs []restoreJob
	for pages := 0; pager.HasMorePages() && pages < maxPages; pages++ {
		callCtx, cancel := h.deadline(ctx)
		page, err := pager.NextPage(callCtx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list AWS Backup restore jobs since %s in %s: %w; allow backup:ListRestoreJobs", formatTime(failoverStartedAt), h.Region, err)
		}
		for _, m := range page.RestoreJobs {
			if m.CreatedBy != nil && aws.ToString(m.CreatedBy.RestoreTestingPlanArn) != "" {
				continue
			}
			if source := aws.ToString(m.SourceResourceArn); source != "" && source != sourceTableArn {
				continue
			}
			ours, err := h.restoresInto(ctx, m, name, arn)
			if err != nil {
				return nil, err
			}
			if !ours {
				continue
			}
			j := restoreJob{ID: aws.ToString(m.RestoreJobId), Status: string(m.Status), StatusMessage: aws.ToString(m.StatusMessage),
				RecoveryPointArn: aws.ToString(m.RecoveryPointArn), Created: aws.ToTime(m.CreationDate)}
			if m.RecoveryPointCreationDate != nil {
				j.PointInTime = formatTime(*m.RecoveryPointCreationDate)
			}
			jobs = append(jobs, j)
		}
	}
	slices.SortStableFunc(jobs, func(a, b restoreJob) int { return a.Created.Compare(b.Created) })
	return jobs, nil
}

// restoresInto tells whether a listed job restores into the table.
func (h *Handler) restoresInto(ctx context.Context, m backuptypes.RestoreJobsListMember, name, arn string) (bool, error) {
	if created := aws.ToString(m.CreatedResourceArn); created != "" {
		return created == arn, nil
	}
	id := aws.ToString(m.RestoreJobId)
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	out, err := h.Backup.GetRestoreJobMetadata(callCtx, &backup.GetRestoreJobMetadataInput{RestoreJobId: aws.String(id)})
	if err != nil {
		return false, fmt.Errorf("read the metadata of AWS Backup restore job %s: %w; allow backup:GetRestoreJobMetadata", id, err)
	}
	for k, v := range out.Metadata {
		// Restore metadata keys are not case sensitive.
		if strings.EqualFold(k, metadataTargetTableName) {
			return v == name, nil
		}
	}
	return false, nil
}

// restoreToken is the StartRestoreJob IdempotencyToken of the table's
// attempt-th restore job (0-based) in the failover that began at
// failoverStartedAt. The same job asked for again (a retried call, a
// deploy run again while it is PENDING) has the same token, so AWS Backup
// starts nothing ("Retrying a successful request with the same idempotency
// token results in a success message with no action taken", StartRestoreJob,
// AWS Backup API Reference); a replacement for a failed job has the next
// attempt number, so it is a new job.
func restoreToken(table, failoverStartedAt string, attempt int) string {
	sum := sha256.Sum256([]byte(table + "\n" + failoverStartedAt + "\n" + strconv.Itoa(attempt)))
	return "dr-restore-" + hex.EncodeToString(sum[:16])
}

// lastRunning is the newest PENDING or RUNNING job, or nil.
func lastRunning(jobs []restoreJob) *restoreJob {
	for i := len(jobs) - 1; i >= 0; i-- {
		if jobs[i].running() {
			return &jobs[i]
		}
	}
	return nil
}

// lastSucceeded is the newest COMPLETED job, or nil.
func lastSucceeded(jobs []restoreJob) *restoreJob {
	for i := len(jobs) - 1; i >= 0; i-- {
		if jobs[i].succeeded() {
			return &jobs[i]
		}
	}
	return nil
}
