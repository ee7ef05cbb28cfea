package awsfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RecoveryPoint is an AWS Backup recovery point in a vault.
type RecoveryPoint struct {
	Arn          string
	ResourceArn  string
	ResourceType string // e.g. "DynamoDB"
	Status       string // COMPLETED, PARTIAL, CREATING, ...
	CreationDate time.Time
	// CompletionDate is left out of responses when zero.
	CompletionDate time.Time
	// BackupSizeInBytes is the backup's size ("The size, in bytes, of a
	// backup", RecoveryPointByBackupVault in the AWS Backup API reference).
	BackupSizeInBytes int64
}

// RestoreJob is a restore job the fake started (or a test put there).
type RestoreJob struct {
	ID               string
	Status           string // PENDING until SetRestoreJobStatus
	StatusMessage    string
	RecoveryPointArn string
	IamRoleArn       string
	ResourceType     string
	Metadata         map[string]string
	IdempotencyToken string
	// CreationDate is the fake's clock when the job started.
	CreationDate time.Time
	// SourceResourceArn is the backed-up resource of the recovery point.
	SourceResourceArn string
	// RecoveryPointCreationDate is the recovery point's CreationDate.
	RecoveryPointCreationDate time.Time
	// CreatedResourceArn is set once the job is COMPLETED (for DynamoDB,
	// the ARN of the table named by targetTableName).
	CreatedResourceArn string
	// RestoreTestingPlanArn is set for jobs a restore testing plan started
	// (CreatedBy in ListRestoreJobs).
	RestoreTestingPlanArn string
	// CompletionDate is left out of DescribeRestoreJob when zero.
	CompletionDate time.Time
}

// Backup fakes one region's AWS Backup (restJson1), as the AWS Backup API
// Reference describes these operations:
// ListRecoveryPointsByBackupVault (GET /backup-vaults/{name}/recovery-points),
// StartRestoreJob (PUT /restore-jobs), DescribeRestoreJob
// (GET /restore-jobs/{id}), ListRestoreJobs (GET /restore-jobs with the
// createdAfter, createdBefore, resourceType, status and accountId filters),
// GetRestoreJobMetadata (GET /restore-jobs/{id}/metadata) and
// DescribeRegionSettings (GET /account-settings).
//
// StartRestoreJob checks DynamoDB restore metadata as "Restore testing
// inferred metadata" lists it for DynamoDB: targetTableName is required,
// encryptionType is Default or KMS (key values are not case sensitive),
// and kmsMasterKeyArn goes only with KMS. A repeated IdempotencyToken
// starts nothing and answers the job it started ("Retrying a successful
// request with the same idempotency token results in a success message
// with no action taken").
type Backup struct {
	server
	region, account string

	mu     sync.Mutex
	vaults map[string][]RecoveryPoint
	jobs   []*RestoreJob
	now    time.Time
	// management and optIn are the region settings by resource type.
	management, optIn map[string]bool
	// page is the most recovery points one list page holds.
	page int
}

// NewBackup starts a fake for region and account, with DynamoDB opted in
// and its advanced features on; it stops when the test ends.
func NewBackup(tb testing.TB, region, account string) *Backup {
	b := &Backup{region: region, account: account, vaults: map[string][]RecoveryPoint{}, page: 100,
		now:        time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		management: map[string]bool{"DynamoDB": true}, optIn: map[string]bool{"DynamoDB": true}}
	b.url = Serve(tb, WithBody(b.serve)).URL
	return b
}

// SetClock sets the time the fake stamps on jobs it starts.
func (b *Backup) SetClock(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = t
}

// PutRestoreJob adds a job as if something else had started it, e.g. a
// restore testing plan or an earlier attempt.
func (b *Backup) PutRestoreJob(j RestoreJob) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j.Metadata = maps.Clone(j.Metadata)
	b.jobs = append(b.jobs, &j)
}

// ForgetRestoreJobs removes every restore job, as if they had aged out of
// the job history; benchmarks use it to start afresh each iteration.
func (b *Backup) ForgetRestoreJobs() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.jobs = nil
}

// SetPageSize sets how many recovery points (and restore jobs) one list page holds at most.
func (b *Backup) SetPageSize(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.page = n
}

// SetDynamoDBAdvancedFeatures sets the DynamoDB management preference
// (advanced DynamoDB backup features) DescribeRegionSettings reports.
func (b *Backup) SetDynamoDBAdvancedFeatures(on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.management["DynamoDB"] = on
}

// CreateVault adds an empty vault.
func (b *Backup) CreateVault(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.vaults[name]; !ok {
		b.vaults[name] = nil
	}
}

// PutRecoveryPoint adds a recovery point to a vault, creating the vault.
func (b *Backup) PutRecoveryPoint(vault string, rp RecoveryPoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.vaults[vault] = append(b.vaults[vault], rp)
}

// RestoreJobs returns copies of the restore jobs started so far.
func (b *Backup) RestoreJobs() []RestoreJob {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []RestoreJob
	for _, j := range b.jobs {
		copied := *j
		copied.Metadata = maps.Clone(j.Metadata)
		out = append(out, copied)
	}
	return out
}

// SetRestoreJobStatus moves a job on, e.g. to FAILED with a message. A
// DynamoDB job that COMPLETES reports the table it created.
func (b *Backup) SetRestoreJobStatus(id, status, message string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, j := range b.jobs {
		if j.ID == id {
			j.Status, j.StatusMessage = status, message
			if status == "COMPLETED" && j.ResourceType == "DynamoDB" {
				j.CreatedResourceArn = fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", b.region, b.account, metadataValue(j.Metadata, "targetTableName"))
			}
		}
	}
}

// metadataValue reads a restore metadata key; keys are not case sensitive.
func metadataValue(m map[string]string, key string) string {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// CompleteRestoreJob marks a job COMPLETED at a time, as DescribeRestoreJob
// then reports it (Status COMPLETED with its CompletionDate).
func (b *Backup) CompleteRestoreJob(id string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, j := range b.jobs {
		if j.ID == id {
			j.Status, j.CompletionDate = "COMPLETED", at
		}
	}
}

func (b *Backup) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	segments := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, s := range segments {
		if u, err := url.PathUnescape(s); err == nil {
			segments[i] = u
		}
	}
	op := "Unknown"
	switch {
	case r.Method == http.MethodGet && len(segments) == 3 && segments[0] == "backup-vaults" && segments[2] == "recovery-points":
		op = "ListRecoveryPointsByBackupVault"
	case r.Method == http.MethodPut && len(segments) == 1 && segments[0] == "restore-jobs":
		op = "StartRestoreJob"
	case r.Method == http.MethodGet && len(segments) == 2 && segments[0] == "restore-jobs":
		op = "DescribeRestoreJob"
	case r.Method == http.MethodGet && len(segments) == 1 && segments[0] == "restore-jobs":
		op = "ListRestoreJobs"
	case r.Method == http.MethodGet && len(segments) == 3 && segments[0] == "restore-jobs" && segments[2] == "metadata":
		op = "GetRestoreJobMetadata"
	case r.Method == http.MethodGet && len(segments) == 1 && segments[0] == "account-settings":
		op = "DescribeRegionSettings"
	}
	if f := b.Record(r, op, body); f != nil {
		WriteRestJSONError(w, f.Status, f.Code, f.Message)
		return
	}
	b.mu.Lock()
	var out any
	var apiErr *APIError
	switch op {
	case "ListRecoveryPointsByBackupVault":
		out, apiErr = b.listRecoveryPoints(segments[1], r.URL.Query())
	case "StartRestoreJob":
		out, apiErr = b.startRestoreJob(body)
	case "DescribeRestoreJob":
		out, apiErr = b.describeRestoreJob(segments[1])
	case "ListRestoreJobs":
		out, apiErr = b.listRestoreJobs(r.URL.Query())
	case "GetRestoreJobMetadata":
		out, apiErr = b.restoreJobMetadata(segments[1])
	case "DescribeRegionSettings":
		out = map[string]any{"ResourceTypeManagementPreference": maps.Clone(b.management),
			"ResourceTypeOptInPreference": maps.Clone(b.optIn)}
	default:
		apiErr = &APIError{Status: http.StatusNotFound, Code: "UnknownOperationException",
			Message: fmt.Sprintf("%s %s is not served by awsfake.Backup", r.Method, r.URL.Path)}
	}
	b.mu.Unlock()
	if apiErr != nil {
		WriteRestJSONError(w, apiErr.Status, apiErr.Code, apiErr.Message)
		return
	}
	WriteJSON(w, http.StatusOK, "application/json", out)
}

func (b *Backup) vaultArn(name string) string {
	return fmt.Sprintf("arn:aws:backup:%s:%s:backup-vault:%s", b.region, b.account, name)
}

// pageOf is the [start, end) of n matched items that the request's
// nextToken and maxResults ask for; the answer's NextToken is end while
// end < n.
func (b *Backup) pageOf(n int, q url.Values) (start, end int, apiErr *APIError) {
	if token := q.Get("nextToken"); token != "" {
		var err error
		start, err = strconv.Atoi(token)
		if err != nil || start < 0 || start > n {
			return 0, 0, Errorf("InvalidParameterValueException", "invalid nextToken %q", token)
		}
	}
	size := b.page
	if m, err := strconv.Atoi(q.Get("maxResults")); err == nil && m > 0 && m < size {
		size = m
	}
	return start, min(start+size, n), nil
}

func (b *Backup) listRecoveryPoints(vault string, q url.Values) (any, *APIError) {
	points, ok := b.vaults[vault]
	if !ok {
		return nil, Errorf("ResourceNotFoundException", "Backup vault %s does not exist in %s", vault, b.region)
	}
	var matched []RecoveryPoint
	for _, rp := range points {
		if arn := q.Get("resourceArn"); arn != "" && rp.ResourceArn != arn {
			continue
		}
		if typ := q.Get("resourceType"); typ != "" && rp.ResourceType != typ {
			continue
		}
		matched = append(matched, rp)
	}
	start, end, apiErr := b.pageOf(len(matched), q)
	if apiErr != nil {
		return nil, apiErr
	}
	page := []map[string]any{}
	for _, rp := range matched[start:end] {
		item := map[string]any{
			"RecoveryPointArn":  rp.Arn,
			"BackupVaultName":   vault,
			"BackupVaultArn":    b.vaultArn(vault),
			"ResourceArn":       rp.ResourceArn,
			"ResourceType":      rp.ResourceType,
			"Status":            rp.Status,
			"CreationDate":      EpochSeconds(rp.CreationDate),
			"BackupSizeInBytes": rp.BackupSizeInBytes,
		}
		if !rp.CompletionDate.IsZero() {
			item["CompletionDate"] = EpochSeconds(rp.CompletionDate)
		}
		page = append(page, item)
	}
	out := map[string]any{"RecoveryPoints": page}
	if end < len(matched) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (b *Backup) startRestoreJob(body []byte) (any, *APIError) {
	var in struct {
		RecoveryPointArn string
		IamRoleArn       string
		ResourceType     string
		IdempotencyToken string
		Metadata         map[string]string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, Errorf("InvalidParameterValueException", "request body: %v", err)
	}
	if in.RecoveryPointArn == "" || in.Metadata == nil {
		return nil, Errorf("MissingParameterValueException", "RecoveryPointArn and Metadata are required")
	}
	var point *RecoveryPoint
	for _, points := range b.vaults {
		for i := range points {
			if points[i].Arn == in.RecoveryPointArn {
				point = &points[i]
			}
		}
	}
	if point == nil {
		return nil, Errorf("ResourceNotFoundException", "Recovery point %s not found", in.RecoveryPointArn)
	}
	if in.IdempotencyToken != "" {
		for _, j := range b.jobs {
			if j.IdempotencyToken == in.IdempotencyToken {
				return map[string]any{"RestoreJobId": j.ID}, nil
			}
		}
	}
	if point.ResourceType == "DynamoDB" {
		if apiErr := checkDynamoDBRestoreMetadata(in.Metadata); apiErr != nil {
			return nil, apiErr
		}
	}
	job := &RestoreJob{ID: fmt.Sprintf("restore-job-%04d", len(b.jobs)+1), Status: "PENDING",
		RecoveryPointArn: in.RecoveryPointArn, IamRoleArn: in.IamRoleArn, ResourceType: in.ResourceType,
		Metadata: in.Metadata, IdempotencyToken: in.IdempotencyToken, CreationDate: b.now,
		SourceResourceArn: point.ResourceArn, RecoveryPointCreationDate: point.CreationDate}
	b.jobs = append(b.jobs, job)
	return map[string]any{"RestoreJobId": job.ID}, nil
}

func (b *Backup) describeRestoreJob(id string) (any, *APIError) {
	for _, j := range b.jobs {
		if j.ID == id {
			out := map[string]any{
				"RestoreJobId":     j.ID,
				"Status":           j.Status,
				"StatusMessage":    j.StatusMessage,
				"RecoveryPointArn": j.RecoveryPointArn,
				"IamRoleArn":       j.IamRoleArn,
				"ResourceType":     j.ResourceType,
				"AccountId":        b.account,
				"CreationDate":     EpochSeconds(j.CreationDate),
			}
			if j.CreatedResourceArn != "" {
				out["CreatedResourceArn"] = j.CreatedResourceArn
			}
			if !j.CompletionDate.IsZero() {
				out["CompletionDate"] = EpochSeconds(j.CompletionDate)
			}
			return out, nil
		}
	}
	return nil, Errorf("ResourceNotFoundException", "Restore job %s not found", id)
}

// checkDynamoDBRestoreMetadata refuses what AWS Backup documents as invalid
// DynamoDB restore metadata.
func checkDynamoDBRestoreMetadata(m map[string]string) *APIError {
	if metadataValue(m, "targetTableName") == "" {
		return Errorf("InvalidParameterValueException", "targetTableName is required to restore a DynamoDB table")
	}
	encryption := metadataValue(m, "encryptionType")
	switch {
	case encryption != "" && !strings.EqualFold(encryption, "Default") && !strings.EqualFold(encryption, "KMS"):
		return Errorf("InvalidParameterValueException", "encryptionType %q is not Default or KMS", encryption)
	case metadataValue(m, "kmsMasterKeyArn") != "" && !strings.EqualFold(encryption, "KMS"):
		return Errorf("InvalidParameterValueException", "kmsMasterKeyArn requires encryptionType KMS")
	}
	return nil
}

// queryTime reads a timestamp query parameter as the SDK sends it (ISO
// 8601), or as epoch seconds.
func queryTime(q url.Values, key string) (time.Time, bool, *APIError) {
	v := q.Get(key)
	if v == "" {
		return time.Time{}, false, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Unix(0, int64(f*1e9)).UTC(), true, nil
	}
	return time.Time{}, false, Errorf("InvalidParameterValueException", "%s %q is not a timestamp", key, v)
}

func (b *Backup) listRestoreJobs(q url.Values) (any, *APIError) {
	after, hasAfter, apiErr := queryTime(q, "createdAfter")
	if apiErr != nil {
		return nil, apiErr
	}
	before, hasBefore, apiErr := queryTime(q, "createdBefore")
	if apiErr != nil {
		return nil, apiErr
	}
	var matched []*RestoreJob
	for _, j := range b.jobs {
		switch {
		case hasAfter && !j.CreationDate.After(after),
			hasBefore && !j.CreationDate.Before(before),
			q.Get("resourceType") != "" && j.ResourceType != q.Get("resourceType"),
			q.Get("status") != "" && j.Status != q.Get("status"),
			q.Get("accountId") != "" && q.Get("accountId") != b.account:
			continue
		}
		matched = append(matched, j)
	}
	start, end, apiErr := b.pageOf(len(matched), q)
	if apiErr != nil {
		return nil, apiErr
	}
	page := []map[string]any{}
	for _, j := range matched[start:end] {
		item := map[string]any{
			"AccountId": b.account, "RestoreJobId": j.ID, "Status": j.Status, "RecoveryPointArn": j.RecoveryPointArn,
			"IamRoleArn": j.IamRoleArn, "ResourceType": j.ResourceType, "CreationDate": EpochSeconds(j.CreationDate),
		}
		if j.StatusMessage != "" {
			item["StatusMessage"] = j.StatusMessage
		}
		if j.SourceResourceArn != "" {
			item["SourceResourceArn"] = j.SourceResourceArn
		}
		if !j.RecoveryPointCreationDate.IsZero() {
			item["RecoveryPointCreationDate"] = EpochSeconds(j.RecoveryPointCreationDate)
		}
		if j.CreatedResourceArn != "" {
			item["CreatedResourceArn"] = j.CreatedResourceArn
		}
		if j.RestoreTestingPlanArn != "" {
			item["CreatedBy"] = map[string]any{"RestoreTestingPlanArn": j.RestoreTestingPlanArn}
		}
		page = append(page, item)
	}
	out := map[string]any{"RestoreJobs": page}
	if end < len(matched) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (b *Backup) restoreJobMetadata(id string) (any, *APIError) {
	for _, j := range b.jobs {
		if j.ID == id {
			return map[string]any{"RestoreJobId": j.ID, "Metadata": maps.Clone(j.Metadata)}, nil
		}
	}
	return nil, Errorf("ResourceNotFoundException", "Restore job %s not found", id)
}
