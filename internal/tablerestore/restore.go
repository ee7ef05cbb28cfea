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
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dr-analytics/drplan/config"
)

// backupResourceType is AWS Backup's name for DynamoDB tables.
const backupResourceType = "DynamoDB"

// DynamoDB restore metadata keys of StartRestoreJob ("Restore testing
// inferred metadata", AWS Backup Developer Guide: targetTableName,
// encryptionType and kmsMasterKeyArn for DynamoDB). encryptionType KMS
// without kmsMasterKeyArn encrypts the restored table with the AWS managed
// key (alias/aws/dynamodb), like the point-in-time path's SSE override;
// left out, the table gets a DynamoDB-owned key ("(Default) DynamoDB-owned
// KMS key", "Restore a DynamoDB table", AWS Backup Developer Guide).
const (
	metadataTargetTableName = "targetTableName"
	metadataEncryptionType  = "encryptionType"
	encryptionTypeKMS       = "KMS"
)

// maxPages stops a listing whose service keeps handing out tokens.
const maxPages = 1000

// startOnEvent serves the start resource: Create starts (or adopts) the
// restore, Update reports the table, Delete keeps it.
func (h *Handler) startOnEvent(ctx context.Context, e cfn.Event) (Response, error) {
	switch e.RequestType {
	case cfn.RequestCreate:
		return h.create(ctx, e)
	case cfn.RequestUpdate:
		return h.update(ctx, e)
	}
	h.log().Info("delete leaves the table in place", "table", e.PhysicalResourceID, "request_id", e.RequestID)
	return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
}

// create records the failover start, then adopts the table or restores
// it. The start is recorded first because it names this failover's restore
// jobs (their idempotency tokens, the window they are looked for in), so a
// deploy run again while the first job is PENDING follows that job instead
// of starting a second; an attempt that then starts no restore leaves the
// time behind, which only makes failback reach back further.
func (h *Handler) create(ctx context.Context, e cfn.Event) (Response, error) {
	p, err := parseProperties(e.ResourceProperties)
	if err != nil {
		return Response{}, fmt.Errorf("table restore %s: %w", e.LogicalResourceID, err)
	}
	table, err := h.describeTable(ctx, p.TableName)
	if err != nil {
		return Response{}, fmt.Errorf("restore table %s: check whether it already exists in %s: %w; allow dynamodb:DescribeTable and deploy again", p.TableName, h.Region, err)
	}
	startedAt, err := h.recordFailoverStart(ctx, p.FailoverStartedParameter)
	if err != nil {
		return Response{}, fmt.Errorf("restore table %s: %w and deploy again; no restore was started", p.TableName, err)
	}
	var data restoreData
	if table != nil {
		data, err = h.adopt(ctx, table, p)
	} else {
		data, err = h.restore(ctx, p, startedAt)
	}
	if err != nil {
		return Response{}, err
	}
	data.FailoverStartedAt = startedAt
	h.recordFailover(ctx, data, nil)
	return Response{PhysicalResourceID: p.TableName, Data: data.toMap()}, nil
}

// restore follows a restore job already running for the table in this
// failover (whatever p.Source says: a second restore into the same name
// would fail, or race the first), or starts a restore as p.Source says.
// Never over a table: the callers restore only when there is none.
func (h *Handler) restore(ctx context.Context, p properties, failoverStartedAt string) (restoreData, error) {
	since, err := time.Parse(time.RFC3339, failoverStartedAt)
	if err != nil {
		return restoreData{}, fmt.Errorf("restore table %s: failover start %q is not an RFC 3339 time", p.TableName, failoverStartedAt)
	}
	jobs, err := h.tableJobs(ctx, p.TableName, p.tableArn(h.Region), p.SourceTableArn, since)
	if err != nil {
		return restoreData{}, fmt.Errorf("restore table %s: %w and deploy again", p.TableName, err)
	}
	if running := lastRunning(jobs); running != nil {
		h.log().Info("a restore job of this failover is already running; following it instead of starting another",
			"table", p.TableName, "restore_job_id", running.ID, "status", running.Status)
		return running.data(p.TableName, p.tableArn(h.Region), p.SourceTableArn), nil
	}
	var data restoreData
	switch p.Source {
	case config.RestorePITR:
		data, err = h.restoreFromPITR(ctx, p)
		if err != nil {
			err = fmt.Errorf("restore table %s with restoreSource=pitr: %w; deploy with -c restoreSource=backup or auto", p.TableName, err)
		}
	case config.RestoreBackup:
		data, err = h.restoreFromBackup(ctx, p, failoverStartedAt, len(jobs))
		if err != nil {
			err = fmt.Errorf("restore table %s with restoreSource=backup: %w", p.TableName, err)
		}
	default: // auto
		var pitrErr error
		data, pitrErr = h.restoreFromPITR(ctx, p)
		if pitrErr != nil {
			h.log().Warn("point-in-time restore unavailable; restoring from the backup vault", "table", p.TableName, "reason", pitrErr.Error())
			data, err = h.restoreFromBackup(ctx, p, failoverStartedAt, len(jobs))
			if err != nil {
				err = fmt.Errorf("restore table %s: point-in-time restore unavailable (%v), and from the backup vault: %w", p.TableName, pitrErr, err)
			}
		}
	}
	if err != nil {
		return restoreData{}, err
	}
	h.log().Info("restore started", "table", p.TableName, "source", data.Source, "point_in_time", data.PointInTime,
		"recovery_point_arn", data.RecoveryPointArn, "restore_job_id", data.RestoreJobID)
	return data, nil
}

// adopt takes over a table that already exists (an earlier attempt or a
// drill) without restoring. It reports Source existing, so a stale table
// from an earlier disaster never looks like a fresh restore; where the data
// came from (its tags, or DynamoDB's restore summary) is OriginalSource.
func (h *Handler) adopt(ctx context.Context, table *types.TableDescription, p properties) (restoreData, error) {
	arn := aws.ToString(table.TableArn)
	tags, err := h.listTags(ctx, arn)
	if err != nil {
		return restoreData{}, fmt.Errorf("adopt existing table %s: read its tags: %w; allow dynamodb:ListTagsOfResource and deploy again", p.TableName, err)
	}
	d := dataFromTags(p.TableName, arn, tags, p.SourceTableArn)
	if s := table.RestoreSummary; d.OriginalSource == "" && s != nil && s.SourceTableArn != nil {
		// Restored from PITR by an earlier attempt that ended before the
		// ready resource tagged it: the restore summary still says so.
		d.OriginalSource, d.SourceTableArn = SourcePITR, aws.ToString(s.SourceTableArn)
		if d.PointInTime == "" && s.RestoreDateTime != nil {
			d.PointInTime = formatTime(*s.RestoreDateTime)
		}
	}
	d.Source = SourceExisting
	h.log().Info("table already exists; adopting it without restoring", "table", p.TableName, "status", string(table.TableStatus),
		"original_source", or(d.OriginalSource, unknownPoint))
	return d, nil
}

// restoreFromPITR probes the primary region and, if its table has PITR,
// starts a cross-region point-in-time restore into this region. The error
// is the reason alone; callers add what to do.
func (h *Handler) restoreFromPITR(ctx context.Context, p properties) (restoreData, error) {
	latest, err := h.probe(ctx, p)
	if err != nil {
		return restoreData{}, err
	}
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	out, err := h.DynamoDB.RestoreTableToPointInTime(callCtx, &dynamodb.RestoreTableToPointInTimeInput{
		SourceTableArn:          aws.String(p.SourceTableArn),
		TargetTableName:         aws.String(p.TableName),
		UseLatestRestorableTime: aws.Bool(true),
		BillingModeOverride:     types.BillingModePayPerRequest,
		// Cross-region restores must say how to encrypt; no key id means
		// the AWS managed key (alias/aws/dynamodb) of this region.
		SSESpecificationOverride: &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms},
	})
	if err != nil {
		return restoreData{}, fmt.Errorf("RestoreTableToPointInTime from %s failed: %w", p.SourceTableArn, err)
	}
	d := restoreData{TableName: p.TableName, TableArn: p.tableArn(h.Region), Source: SourcePITR,
		PointInTime: formatTime(latest), SourceTableArn: p.SourceTableArn}
	if desc := out.TableDescription; desc != nil {
		if desc.TableArn != nil {
			d.TableArn = *desc.TableArn
		}
		// The restore summary holds the time DynamoDB actually restored to,
		// at or just after what the probe saw.
		if s := desc.RestoreSummary; s != nil && s.RestoreDateTime != nil {
			d.PointInTime = formatTime(*s.RestoreDateTime)
		}
	}
	return d, nil
}

// probe asks the primary region, within the probe timeout, for the source
// table's latest restorable time.
func (h *Handler) probe(ctx context.Context, p properties) (latest time.Time, err error) {
	probeCtx, cancel := context.WithTimeout(ctx, p.ProbeTimeout)
	defer cancel()
	client := h.PrimaryDynamoDB(p.SourceRegion)
	out, err := client.DescribeContinuousBackups(probeCtx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(p.SourceTableArn)})
	switch {
	case probeCtx.Err() != nil:
		return latest, fmt.Errorf("primary region %s did not answer within %s", p.SourceRegion, p.ProbeTimeout)
	case err != nil && answered(err):
		return latest, fmt.Errorf("primary region %s answered DescribeContinuousBackups for %s with an error: %w", p.SourceRegion, p.SourceTableArn, err)
	case err != nil:
		return latest, fmt.Errorf("primary region %s is unreachable: %w", p.SourceRegion, err)
	}
	var status types.PointInTimeRecoveryStatus = "not reported"
	var desc *types.PointInTimeRecoveryDescription
	if out.ContinuousBackupsDescription != nil {
		desc = out.ContinuousBackupsDescription.PointInTimeRecoveryDescription
	}
	if desc != nil && desc.PointInTimeRecoveryStatus != "" {
		status = desc.PointInTimeRecoveryStatus
	}
	if status != types.PointInTimeRecoveryStatusEnabled {
		return latest, fmt.Errorf("point-in-time recovery is %s on %s", status, p.SourceTableArn)
	}
	if desc.LatestRestorableDateTime == nil {
		return latest, fmt.Errorf("primary region %s reported no latest restorable time for %s", p.SourceRegion, p.SourceTableArn)
	}
	return *desc.LatestRestorableDateTime, nil
}

// answered tells a service's error answer from a failure to reach it (the
// SDK reports both as response errors; an unreachable host has no status).
func answered(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() > 0
}

// restoreFromBackup starts an AWS Backup restore of the newest completed
// recovery point of the source table in the vault: the table's attempt-th
// restore job of the failover that began at failoverStartedAt.
func (h *Handler) restoreFromBackup(ctx context.Context, p properties, failoverStartedAt string, attempt int) (restoreData, error) {
	rp, err := h.newestRecoveryPoint(ctx, p)
	if err != nil {
		return restoreData{}, err
	}
	in := &backup.StartRestoreJobInput{
		RecoveryPointArn: rp.RecoveryPointArn,
		IamRoleArn:       aws.String(p.RestoreRoleArn),
		ResourceType:     aws.String(backupResourceType),
		Metadata:         map[string]string{metadataTargetTableName: p.TableName, metadataEncryptionType: encryptionTypeKMS},
		IdempotencyToken: aws.String(restoreToken(p.TableName, failoverStartedAt, attempt)),
	}
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	out, err := h.Backup.StartRestoreJob(callCtx, in)
	if err != nil {
		return restoreData{}, fmt.Errorf("start AWS Backup restore job of %s: %w; allow backup:StartRestoreJob, and iam:PassRole on %s", aws.ToString(rp.RecoveryPointArn), err, p.RestoreRoleArn)
	}
	return restoreData{
		TableName: p.TableName, TableArn: p.tableArn(h.Region), Source: SourceBackup,
		// A DynamoDB backup holds the table as of the moment it was
		// requested, so the recovery point's CreationDate is the data's time.
		// A cross-region copy keeps its source's: "Copies retain their source
		// configuration, including creation dates"
		// (https://docs.aws.amazon.com/aws-backup/latest/devguide/recov-point-create-a-copy.html).
		PointInTime:      formatTime(*rp.CreationDate),
		RecoveryPointArn: aws.ToString(rp.RecoveryPointArn),
		SourceTableArn:   p.SourceTableArn,
		RestoreJobID:     aws.ToString(out.RestoreJobId),
	}, nil
}

// newestRecoveryPoint lists the vault's recovery points of the source table
// and picks the newest COMPLETED one by CreationDate.
func (h *Handler) newestRecoveryPoint(ctx context.Context, p properties) (*backuptypes.RecoveryPointByBackupVault, error) {
	pager := backup.NewListRecoveryPointsByBackupVaultPaginator(h.Backup, &backup.ListRecoveryPointsByBackupVaultInput{
		BackupVaultName: aws.String(p.VaultName),
		ByResourceArn:   aws.String(p.SourceTableArn),
		ByResourceType:  aws.String(backupResourceType),
	}, func(o *backup.ListRecoveryPointsByBackupVaultPaginatorOptions) { o.StopOnDuplicateToken = true })
	var newest *backuptypes.RecoveryPointByBackupVault
	for pages := 0; pager.HasMorePages() && pages < maxPages; pages++ {
		callCtx, cancel := h.deadline(ctx)
		page, err := pager.NextPage(callCtx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list recovery points of %s in vault %s (%s): %w; check VaultName and allow backup:ListRecoveryPointsByBackupVault", p.SourceTableArn, p.VaultName, h.Region, err)
		}
		for i := range page.RecoveryPoints {
			rp := &page.RecoveryPoints[i]
			if rp.Status != backuptypes.RecoveryPointStatusCompleted || rp.CreationDate == nil ||
				rp.RecoveryPointArn == nil || aws.ToString(rp.ResourceArn) != p.SourceTableArn {
				continue
			}
			if newest == nil || rp.CreationDate.After(*newest.CreationDate) {
				newest = rp
			}
		}
	}
	if newest == nil {
		return nil, fmt.Errorf("no completed recovery point for %s in vault %s; check the backup plan copy job in the primary region, or restore from PITR with -c restoreSource=pitr once the primary answers", p.SourceTableArn, p.VaultName)
	}
	return newest, nil
}

// update reports the existing table, rebuilt from its tags, and never
// restores over it. A table that is gone is restored in place (a running
// restore job of this failover is followed instead), so a deploy run again
// after a failed restore brings the table back without touching the
// ingest path.
func (h *Handler) update(ctx context.Context, e cfn.Event) (Response, error) {
	name := e.PhysicalResourceID
	if !tableNamePattern.MatchString(name) {
		name, _ = e.ResourceProperties[PropTableName].(string)
	}
	if changed := changedProperties(e.OldResourceProperties, e.ResourceProperties); len(changed) > 0 {
		h.log().Info("property changes ignored: an existing table is never restored again", "table", name, "changed", changed)
	}
	table, err := h.describeTable(ctx, name)
	if err != nil {
		return Response{}, fmt.Errorf("update table restore %s: describe the table in %s: %w; allow dynamodb:DescribeTable and deploy again", name, h.Region, err)
	}
	if table == nil {
		return h.restoreInPlace(ctx, e, name)
	}
	arn := aws.ToString(table.TableArn)
	tags, err := h.listTags(ctx, arn)
	if err != nil {
		return Response{}, fmt.Errorf("update table restore %s: read its tags: %w; allow dynamodb:ListTagsOfResource and deploy again", name, err)
	}
	source, _ := e.ResourceProperties[PropSourceTableArn].(string)
	d := dataFromTags(name, arn, tags, source)
	parameter, _ := e.ResourceProperties[PropFailoverStartedParameter].(string)
	if d.FailoverStartedAt, err = h.readFailoverStart(ctx, parameter); err != nil {
		return Response{}, fmt.Errorf("update table restore %s: %w and deploy again", name, err)
	}
	return Response{PhysicalResourceID: e.PhysicalResourceID, Data: d.toMap()}, nil
}

// restoreInPlace is an Update that found no table: it restores as Create
// would, under the failover start already recorded (or recorded now).
func (h *Handler) restoreInPlace(ctx context.Context, e cfn.Event, name string) (Response, error) {
	p, err := parseProperties(e.ResourceProperties)
	if err != nil {
		return Response{}, fmt.Errorf("update table restore %s: the table is gone from %s and cannot be restored in place: %w", name, h.Region, err)
	}
	if p.TableName != name {
		return Response{}, fmt.Errorf("update table restore %s: the table is gone from %s, and TableName is now %q: a restore keeps its table's name; set TableName back to %s and %s", name, h.Region, p.TableName, name, runAgain)
	}
	startedAt, err := h.recordFailoverStart(ctx, p.FailoverStartedParameter)
	if err != nil {
		return Response{}, fmt.Errorf("update table restore %s: %w and deploy again; no restore was started", name, err)
	}
	h.log().Warn("the table is gone; restoring it in place", "table", name, "failover_started_at", startedAt)
	d, err := h.restore(ctx, p, startedAt)
	if err != nil {
		return Response{}, fmt.Errorf("update table restore %s: the table is gone from %s and restoring it in place failed: %w; %s", name, h.Region, err, runAgain)
	}
	d.FailoverStartedAt = startedAt
	return Response{PhysicalResourceID: e.PhysicalResourceID, Data: d.toMap()}, nil
}

// changedProperties lists the property names whose values differ.
func changedProperties(before, after map[string]any) []string {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var changed []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if k != "ServiceToken" && fmt.Sprint(before[k]) != fmt.Sprint(after[k]) {
			changed = append(changed, k)
		}
	}
	return changed
}

// describeTable returns nil, nil when the table does not exist.
func (h *Handler) describeTable(ctx context.Context, name string) (*types.TableDescription, error) {
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	out, err := h.DynamoDB.DescribeTable(callCtx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return out.Table, nil
}

// listTags reads every tag of a table.
func (h *Handler) listTags(ctx context.Context, arn string) (map[string]string, error) {
	tags := map[string]string{}
	var token *string
	for range maxPages {
		callCtx, cancel := h.deadline(ctx)
		out, err := h.DynamoDB.ListTagsOfResource(callCtx, &dynamodb.ListTagsOfResourceInput{ResourceArn: aws.String(arn), NextToken: token})
		cancel()
		if err != nil {
			return nil, err
		}
		for _, t := range out.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if out.NextToken == nil || aws.ToString(out.NextToken) == aws.ToString(token) {
			break
		}
		token = out.NextToken
	}
	return tags, nil
}
