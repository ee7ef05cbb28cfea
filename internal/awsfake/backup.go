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

// RestoreJob is a restore job the fake started.
type RestoreJob struct {
	ID               string
	Status           string // PENDING until SetRestoreJobStatus
	StatusMessage    string
	RecoveryPointArn string
	IamRoleArn       string
	ResourceType     string
	Metadata         map[string]string
	IdempotencyToken string
	// CompletionDate is left out of DescribeRestoreJob when zero.
	CompletionDate time.Time
}

// Backup fakes one region's AWS Backup (restJson1):
// ListRecoveryPointsByBackupVault (GET /backup-vaults/{name}/recovery-points),
// StartRestoreJob (PUT /restore-jobs), DescribeRestoreJob
// (GET /restore-jobs/{id}) and DescribeRegionSettings (GET /account-settings).
type Backup struct {
	server
	region, account string

	mu     sync.Mutex
	vaults map[string][]RecoveryPoint
	jobs   []*RestoreJob
	// management and optIn are the region settings by resource type.
	management, optIn map[string]bool
	// page is the most recovery points one list page holds.
	page int
}

// NewBackup starts a fake for region and account, with DynamoDB opted in
// and its advanced features on; it stops when the test ends.
func NewBackup(tb testing.TB, region, account string) *Backup {
	b := &Backup{region: region, account: account, vaults: map[string][]RecoveryPoint{}, page: 100,
		management: map[string]bool{"DynamoDB": true}, optIn: map[string]bool{"DynamoDB": true}}
	b.url = Serve(tb, WithBody(b.serve)).URL
	return b
}

// SetPageSize sets how many recovery points one list page holds at most.
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

// SetRestoreJobStatus moves a job on, e.g. to FAILED with a message.
func (b *Backup) SetRestoreJobStatus(id, status, message string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, j := range b.jobs {
		if j.ID == id {
			j.Status, j.StatusMessage = status, message
		}
	}
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
	start := 0
	if token := q.Get("nextToken"); token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(matched) {
			return nil, Errorf("InvalidParameterValueException", "invalid nextToken %q", token)
		}
		start = n
	}
	size := b.page
	if m, err := strconv.Atoi(q.Get("maxResults")); err == nil && m > 0 && m < size {
		size = m
	}
	end := min(start+size, len(matched))
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
	found := false
	for _, points := range b.vaults {
		for _, rp := range points {
			found = found || rp.Arn == in.RecoveryPointArn
		}
	}
	if !found {
		return nil, Errorf("ResourceNotFoundException", "Recovery point %s not found", in.RecoveryPointArn)
	}
	if in.IdempotencyToken != "" {
		for _, j := range b.jobs {
			if j.IdempotencyToken == in.IdempotencyToken {
				return map[string]any{"RestoreJobId": j.ID}, nil
			}
		}
	}
	job := &RestoreJob{ID: fmt.Sprintf("restore-job-%04d", len(b.jobs)+1), Status: "PENDING",
		RecoveryPointArn: in.RecoveryPointArn, IamRoleArn: in.IamRoleArn, ResourceType: in.ResourceType,
		Metadata: in.Metadata, IdempotencyToken: in.IdempotencyToken}
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
			}
			if !j.CompletionDate.IsZero() {
				out["CompletionDate"] = EpochSeconds(j.CompletionDate)
			}
			return out, nil
		}
	}
	return nil, Errorf("ResourceNotFoundException", "Restore job %s not found", id)
}
