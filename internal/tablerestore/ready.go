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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// readyOnEvent serves the ready resource's onEvent. Create only starts the
// wait (isComplete does the work); Update reports the table as it is,
// changing nothing, and when the table is not ready (or gone, being
// restored in place by the start resource's Update) it answers Status
// RESTORING, which makes isComplete wait for it as for a Create; Delete
// does nothing.
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
		h.log().Warn("the table is gone; waiting for its restore in place", "table", p.TableName, "restore_job_id", p.restore.RestoreJobID)
		return resp, nil
	}
	data[DataTableArn] = aws.ToString(table.TableArn)
	protected, err := h.protected(ctx, table)
	if err != nil {
		return Response{}, fmt.Errorf("update table restore %s: %w and deploy again", p.TableName, err)
	}
	if protected {
		data[DataStatus] = StatusActive
	} else {
		h.log().Warn("the restored table is not ACTIVE with point-in-time recovery and deletion protection yet; waiting to turn them on",
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

// readyComplete polls a ready Create (or an Update that found the table
// not ready): waits while the restore runs; repairs a failed restore in
// place (see recoverInPlace); once the table is ACTIVE turns on PITR and
// deletion protection and tags it, each step only if not done yet. Still
// waiting after WaitMinutes, it completes with Status RESTORING: a slow
// restore must not roll back a working failover.
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
	if table == nil {
		return h.recoverInPlace(ctx, e, p)
	}
	d.TableArn = aws.ToString(table.TableArn)
	switch status := table.TableStatus; status {
	case types.TableStatusActive:
	case types.TableStatusCreating, types.TableStatusUpdating:
		return h.keepWaiting(e, p, d, string(status))
	case types.TableStatusDeleting:
		// DynamoDB removes the table of a failed restore; once it is gone
		// the next poll restores in place.
		return h.keepWaiting(e, p, d, "DELETING (a failed restore being removed)")
	default:
		return CompletionResponse{}, fmt.Errorf("restore table %s: the table is %s in %s, not ACTIVE; ingest keeps running without it: %s", name, status, h.Region, runAgain)
	}

	d = h.restoredBy(ctx, d)
	done, err := h.finish(ctx, table, d, p.Tags)
	if err != nil {
		return CompletionResponse{}, err
	}
	if !done {
		return h.keepWaiting(e, p, d, "ACTIVE, protection pending")
	}
	h.log().Info("restored table ready", "table", name, "source", d.Source, "point_in_time", d.PointInTime)
	activeAt := h.now()
	h.recordFailover(ctx, d, &activeAt)
	return CompletionResponse{IsComplete: true, Data: readyData(e, d, StatusActive)}, nil
}

// restoredBy is d with the restore job of this failover that made the
// table, when it is not the one the start resource reported: a vault
// restore in place replaced a failed restore (or restored an adopted table
// that vanished). If the jobs cannot be read, d stands (the tags then name
// the first restore).
func (h *Handler) restoredBy(ctx context.Context, d restoreData) restoreData {
	since, _ := time.Parse(time.RFC3339, d.FailoverStartedAt) // validated with the properties
	jobs, err := h.tableJobs(ctx, d.TableName, d.TableArn, d.SourceTableArn, since)
	if err != nil {
		h.log().Warn("could not read the restore jobs; tagging the table with the start resource's restore", "table", d.TableName, "reason", err.Error())
		return d
	}
	if j := lastSucceeded(jobs); j != nil && j.ID != d.RestoreJobID {
		restored := j.data(d.TableName, d.TableArn, d.SourceTableArn)
		restored.FailoverStartedAt = d.FailoverStartedAt
		return restored
	}
	return d
}

// recoverInPlace is a poll that found no table. A restore job of this
// failover still running is waited for. Otherwise the restore failed (the
// start resource's point-in-time restore, whose table DynamoDB removed, or
// a backup job that FAILED or ABORTED) and a vault restore starts in place:
// the fallback for a failed point-in-time restore, or once per wait the
// replacement of a failed job. When that is not possible it fails with
// runAgain; a deploy run again retries the resource and tries once more.
func (h *Handler) recoverInPlace(ctx context.Context, e CompletionEvent, p readyProperties) (CompletionResponse, error) {
	d, name := p.restore, p.TableName
	since, _ := time.Parse(time.RFC3339, d.FailoverStartedAt) // validated with the properties
	jobs, err := h.tableJobs(ctx, name, p.vault.tableArn(h.Region), d.SourceTableArn, since)
	if err != nil {
		return CompletionResponse{}, fmt.Errorf("restore table %s: no table in %s and %w", name, h.Region, err)
	}
	if running := lastRunning(jobs); running != nil {
		job := running.data(name, "", d.SourceTableArn)
		job.FailoverStartedAt = d.FailoverStartedAt
		return h.keepWaiting(e, p, job, "not created yet; restore job "+running.Status)
	}

	var newest *restoreJob
	if len(jobs) > 0 {
		newest = &jobs[len(jobs)-1]
	}
	var what string
	switch {
	case newest == nil && d.Source == SourcePITR:
		what = "the point-in-time restore failed: DynamoDB removed the table it was creating"
	case newest == nil:
		what = fmt.Sprintf("the table (source %s) is gone and no restore job is running", d.Source)
	case newest.succeeded():
		what = fmt.Sprintf("AWS Backup restore job %s COMPLETED but there is no table %s in %s", newest.ID, name, h.Region)
	default:
		what = fmt.Sprintf("AWS Backup restore job %s %s: %s", newest.ID, newest.Status, newest.StatusMessage)
	}
	if newest != nil && replacedInThisWait(jobs, d.RestoreJobID, e.DataString(DataWaitStartedAt)) {
		return CompletionResponse{}, fmt.Errorf("restore table %s: %s, after it was already restored again in place once; ingest keeps running without the table: %s", name, what, runAgain)
	}
	if p.vault.VaultName == "" {
		return CompletionResponse{}, fmt.Errorf("restore table %s: %s, and there is no backup vault to restore from in place (VaultName is empty); ingest keeps running without the table: %s", name, what, runAgain)
	}
	started, err := h.restoreFromBackup(ctx, p.vault, d.FailoverStartedAt, len(jobs))
	if err != nil {
		return CompletionResponse{}, fmt.Errorf("restore table %s: %s, and restoring it in place from vault %s failed: %v; ingest keeps running without the table: %s", name, what, p.vault.VaultName, err, runAgain)
	}
	h.log().Warn("restore failed; restoring in place from the backup vault", "table", name, "reason", what,
		"restore_job_id", started.RestoreJobID, "recovery_point_arn", started.RecoveryPointArn, "point_in_time", started.PointInTime)
	started.FailoverStartedAt = d.FailoverStartedAt
	started.TableArn = ""
	return h.keepWaiting(e, p, started, "not created yet; restore job started in place")
}

// replacedInThisWait tells whether this wait (since waitStartedAt) already
// started a job that replaced a failed one. The jobs before the wait are
// the start resource's (startJobID) and those of earlier deploys; the
// first job of a wait that had none before it was the fallback for a
// failed point-in-time restore, not a replacement.
func replacedInThisWait(jobs []restoreJob, startJobID, waitStartedAt string) bool {
	// Unparsable only when not called by the Provider framework: the zero
	// time then counts every job as this wait's.
	waitStarted, _ := time.Parse(time.RFC3339, waitStartedAt)
	before, during := 0, 0
	for _, j := range jobs {
		if j.ID == startJobID || j.Created.Before(waitStarted) {
			before++
		} else {
			during++
		}
	}
	replacements := during
	if before == 0 && during > 0 {
		replacements--
	}
	return replacements >= 1
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
	want := wantedTags(d, userTags, originalSource(d, current, table))
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

// originalSource is where an ACTIVE table's data came from: the restore's
// Source, or for an adopted table what its tags (or DynamoDB's restore
// summary) say.
func originalSource(d restoreData, current map[string]string, table *types.TableDescription) string {
	if d.Source != SourceExisting {
		return d.originalSource()
	}
	tagged := dataFromTags(d.TableName, d.TableArn, current, "")
	if tagged.OriginalSource != "" {
		return tagged.OriginalSource
	}
	if s := table.RestoreSummary; s != nil && s.SourceTableArn != nil {
		return SourcePITR
	}
	return or(d.OriginalSource, unknownPoint)
}

// wantedTags are the template's tags plus the restore's own, which win.
func wantedTags(d restoreData, user map[string]string, origin string) map[string]string {
	want := maps.Clone(user)
	if want == nil {
		want = map[string]string{}
	}
	want[TagRestoredBy] = restoredBy
	want[TagRestoreSource] = d.Source
	if want[TagRestoreSource] == "" {
		want[TagRestoreSource] = SourceExisting
	}
	want[TagOriginalSource] = origin
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
