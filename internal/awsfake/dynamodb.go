package awsfake

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Table is a DynamoDB table as the fake keeps it; only control-plane state,
// no items.
type Table struct {
	Name string
	// Status is the TableStatus; "ACTIVE" when empty.
	Status string
	// PITR is point-in-time recovery; LatestRestorable is what
	// DescribeContinuousBackups reports as LatestRestorableDateTime.
	PITR             bool
	LatestRestorable time.Time
	// DeletionProtection is DeletionProtectionEnabled.
	DeletionProtection bool
	Tags               map[string]string
	// BillingMode and SSEType are what a restore asked for.
	BillingMode string
	SSEType     string
	// RestoredFrom and RestoredTo are set on tables made by
	// RestoreTableToPointInTime (its RestoreSummary).
	RestoredFrom string
	RestoredTo   time.Time
	// Indexes are the table's global secondary indexes by name, each
	// with its IndexStatus (CREATING, UPDATING, DELETING or ACTIVE).
	Indexes map[string]string
}

// DynamoDB fakes one region's DynamoDB control plane (awsJson1_0,
// X-Amz-Target DynamoDB_20120810.*): DescribeTable, UpdateTable (deletion
// protection), DescribeContinuousBackups, UpdateContinuousBackups,
// RestoreTableToPointInTime, TagResource and ListTagsOfResource. Any other
// operation is answered with UnknownOperationException, so an unexpected
// call fails loudly.
type DynamoDB struct {
	server
	region, account string

	mu     sync.Mutex
	tables map[string]*Table
	// now is the fake's clock; a restore with UseLatestRestorableTime
	// restores to it.
	now time.Time
	// tagPage is the page size of ListTagsOfResource.
	tagPage int
}

// NewDynamoDB starts a fake for region and account; it stops when the test ends.
func NewDynamoDB(tb testing.TB, region, account string) *DynamoDB {
	d := &DynamoDB{region: region, account: account, tables: map[string]*Table{},
		now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), tagPage: 10}
	d.url = Serve(tb, &JSONRPC{
		Service:         "awsfake.DynamoDB",
		TargetPrefix:    "DynamoDB_20120810.",
		ContentType:     "application/x-amz-json-1.0",
		ErrorTypePrefix: "com.amazonaws.dynamodb.v20120810#",
		Recorder:        &d.Recorder,
		Lock:            &d.mu,
		Operations: map[string]Operation{
			"DescribeTable":             Decoding(d.describeTable),
			"UpdateTable":               Decoding(d.updateTable),
			"DescribeContinuousBackups": Decoding(d.describeContinuousBackups),
			"UpdateContinuousBackups":   Decoding(d.updateContinuousBackups),
			"RestoreTableToPointInTime": Decoding(d.restoreTableToPointInTime),
			"TagResource":               Decoding(d.tagResource),
			"ListTagsOfResource":        Decoding(d.listTagsOfResource),
		},
	}).URL
	return d
}

// SetClock sets the time a latest-restorable-time restore restores to.
func (d *DynamoDB) SetClock(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = t
}

// SetTagPageSize sets how many tags one ListTagsOfResource page holds.
func (d *DynamoDB) SetTagPageSize(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tagPage = n
}

// TableArn is the ARN the fake gives a table of that name.
func (d *DynamoDB) TableArn(name string) string {
	return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", d.region, d.account, name)
}

// PutTable creates or replaces a table.
func (d *DynamoDB) PutTable(t Table) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t.Status == "" {
		t.Status = "ACTIVE"
	}
	t.Tags = maps.Clone(t.Tags)
	if t.Tags == nil {
		t.Tags = map[string]string{}
	}
	d.tables[t.Name] = &t
}

// RemoveTable forgets a table, as if it had never been created. (The fake
// serves no DeleteTable: nothing in the product deletes a table.)
func (d *DynamoDB) RemoveTable(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.tables, name)
}

// Table returns a copy of the named table.
func (d *DynamoDB) Table(name string) (Table, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.tables[name]
	if !ok {
		return Table{}, false
	}
	copied := *t
	copied.Tags = maps.Clone(t.Tags)
	return copied, true
}

// SetTableStatus moves a table to status, e.g. from CREATING to ACTIVE
// when a restore finishes.
func (d *DynamoDB) SetTableStatus(name, status string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t, ok := d.tables[name]; ok {
		t.Status = status
	}
}

// lookup finds a table by name or by ARN in this region and account.
func (d *DynamoDB) lookup(nameOrArn string) (*Table, bool) {
	name := nameOrArn
	if strings.HasPrefix(nameOrArn, "arn:") {
		var ok bool
		name, ok = strings.CutPrefix(nameOrArn, d.TableArn(""))
		if !ok {
			return nil, false
		}
	}
	t, ok := d.tables[name]
	return t, ok
}

func (d *DynamoDB) describe(t *Table) map[string]any {
	desc := map[string]any{
		"TableName":                 t.Name,
		"TableArn":                  d.TableArn(t.Name),
		"TableStatus":               t.Status,
		"CreationDateTime":          EpochSeconds(d.now),
		"DeletionProtectionEnabled": t.DeletionProtection,
	}
	if t.BillingMode != "" {
		desc["BillingModeSummary"] = map[string]any{"BillingMode": t.BillingMode}
	}
	if t.SSEType != "" {
		desc["SSEDescription"] = map[string]any{"Status": "ENABLED", "SSEType": t.SSEType}
	}
	if len(t.Indexes) > 0 {
		var gsis []map[string]any
		for _, name := range slices.Sorted(maps.Keys(t.Indexes)) {
			gsis = append(gsis, map[string]any{"IndexName": name, "IndexStatus": t.Indexes[name]})
		}
		desc["GlobalSecondaryIndexes"] = gsis
	}
	if t.RestoredFrom != "" {
		desc["RestoreSummary"] = map[string]any{
			"SourceTableArn":    t.RestoredFrom,
			"RestoreDateTime":   EpochSeconds(t.RestoredTo),
			"RestoreInProgress": t.Status == "CREATING",
		}
	}
	return desc
}

func (d *DynamoDB) describeTable(in map[string]any) (any, *APIError) {
	name := str(in, "TableName")
	t, ok := d.lookup(name)
	if !ok {
		return nil, Errorf("ResourceNotFoundException", "Requested resource not found: Table: %s not found", name)
	}
	return map[string]any{"Table": d.describe(t)}, nil
}

func (d *DynamoDB) updateTable(in map[string]any) (any, *APIError) {
	name := str(in, "TableName")
	t, ok := d.lookup(name)
	if !ok {
		return nil, Errorf("ResourceNotFoundException", "Requested resource not found: Table: %s not found", name)
	}
	if t.Status != "ACTIVE" {
		return nil, Errorf("ResourceInUseException", "Attempt to change a resource which is still in use: Table is being %s: %s", strings.ToLower(t.Status), name)
	}
	if v, ok := in["DeletionProtectionEnabled"].(bool); ok {
		t.DeletionProtection = v
	}
	return map[string]any{"TableDescription": d.describe(t)}, nil
}

func (d *DynamoDB) continuousBackups(t *Table) map[string]any {
	pitr := map[string]any{"PointInTimeRecoveryStatus": "DISABLED"}
	if t.PITR {
		pitr = map[string]any{
			"PointInTimeRecoveryStatus":  "ENABLED",
			"EarliestRestorableDateTime": EpochSeconds(t.LatestRestorable.Add(-35 * 24 * time.Hour)),
			"LatestRestorableDateTime":   EpochSeconds(t.LatestRestorable),
			"RecoveryPeriodInDays":       35,
		}
	}
	return map[string]any{"ContinuousBackupsDescription": map[string]any{
		"ContinuousBackupsStatus":        "ENABLED",
		"PointInTimeRecoveryDescription": pitr,
	}}
}

func (d *DynamoDB) describeContinuousBackups(in map[string]any) (any, *APIError) {
	name := str(in, "TableName")
	t, ok := d.lookup(name)
	if !ok {
		return nil, Errorf("TableNotFoundException", "Table not found: %s", name)
	}
	return d.continuousBackups(t), nil
}

func (d *DynamoDB) updateContinuousBackups(in map[string]any) (any, *APIError) {
	name := str(in, "TableName")
	t, ok := d.lookup(name)
	if !ok {
		return nil, Errorf("TableNotFoundException", "Table not found: %s", name)
	}
	if t.Status != "ACTIVE" {
		// DynamoDB refuses while a new table's backups are still being set up.
		return nil, Errorf("ContinuousBackupsUnavailableException", "Backups are being enabled for the table: %s. Please retry later", name)
	}
	spec, _ := in["PointInTimeRecoverySpecification"].(map[string]any)
	enabled, ok := spec["PointInTimeRecoveryEnabled"].(bool)
	if !ok {
		return nil, Errorf("ValidationException", "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled is required")
	}
	t.PITR = enabled
	if enabled {
		t.LatestRestorable = d.now
	}
	return d.continuousBackups(t), nil
}

func (d *DynamoDB) restoreTableToPointInTime(in map[string]any) (any, *APIError) {
	source := str(in, "SourceTableArn")
	if source == "" {
		source = str(in, "SourceTableName")
	}
	target := str(in, "TargetTableName")
	if source == "" || target == "" {
		return nil, Errorf("ValidationException", "SourceTableArn or SourceTableName, and TargetTableName, are required")
	}
	if _, exists := d.tables[target]; exists {
		return nil, Errorf("TableAlreadyExistsException", "Table already exists: %s", target)
	}
	// A source in this fake's own region must have PITR; a source in another
	// region is taken on trust (the caller probed it).
	if src, ok := d.lookup(source); ok && !src.PITR {
		return nil, Errorf("PointInTimeRecoveryUnavailableException", "Point in time recovery is not enabled for table '%s'", source)
	}
	restoreTo := d.now
	if v, ok := in["RestoreDateTime"].(float64); ok {
		restoreTo = time.Unix(0, int64(v*1e9)).UTC()
	}
	t := &Table{Name: target, Status: "CREATING", Tags: map[string]string{},
		BillingMode: str(in, "BillingModeOverride"), RestoredFrom: source, RestoredTo: restoreTo}
	if sse, ok := in["SSESpecificationOverride"].(map[string]any); ok {
		t.SSEType, _ = sse["SSEType"].(string)
	}
	d.tables[target] = t
	return map[string]any{"TableDescription": d.describe(t)}, nil
}

func (d *DynamoDB) tagResource(in map[string]any) (any, *APIError) {
	arn := str(in, "ResourceArn")
	t, ok := d.lookup(arn)
	if !ok || !strings.HasPrefix(arn, "arn:") {
		return nil, Errorf("ResourceNotFoundException", "Requested resource not found: ResourceArn: %s not found", arn)
	}
	tags, _ := in["Tags"].([]any)
	for _, raw := range tags {
		tag, _ := raw.(map[string]any)
		t.Tags[str(tag, "Key")] = str(tag, "Value")
	}
	return map[string]any{}, nil
}

func (d *DynamoDB) listTagsOfResource(in map[string]any) (any, *APIError) {
	arn := str(in, "ResourceArn")
	t, ok := d.lookup(arn)
	if !ok || !strings.HasPrefix(arn, "arn:") {
		return nil, Errorf("ResourceNotFoundException", "Requested resource not found: ResourceArn: %s not found", arn)
	}
	keys := slices.Sorted(maps.Keys(t.Tags))
	start := 0
	if token := str(in, "NextToken"); token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(keys) {
			return nil, Errorf("ValidationException", "invalid NextToken %q", token)
		}
		start = n
	}
	end := min(start+d.tagPage, len(keys))
	page := []map[string]string{}
	for _, k := range keys[start:end] {
		page = append(page, map[string]string{"Key": k, "Value": t.Tags[k]})
	}
	out := map[string]any{"Tags": page}
	if end < len(keys) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

// str reads a string member of a decoded JSON object.
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}
