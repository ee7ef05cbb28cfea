package tablerestore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/customresource"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/tablerestore"
)

const (
	account      = "123456789012"
	primary      = "us-east-1"
	backupRegion = "us-west-2"
	tableName    = "dr-analytics-aggregates"
	vaultName    = "dr-analytics-vault"
	roleArn      = "arn:aws:iam::123456789012:role/dr-analytics-restore"
	logicalID    = "AggregatesTable"
	readyID      = "AggregatesTableReady"
	readyPhysID  = "ready-" + tableName
	sourceArn    = "arn:aws:dynamodb:us-east-1:123456789012:table/dr-analytics-aggregates"
	targetArn    = "arn:aws:dynamodb:us-west-2:123456789012:table/dr-analytics-aggregates"
)

// startedParameter is where the failover start time is recorded.
var startedParameter = naming.Names{Prefix: "dr-analytics", Account: account}.FailoverStartedParameter()

// failoverAt is the handler's clock at the start of every test.
var failoverAt = time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)

// world is both regions as the failover sees them: the primary region's
// DynamoDB (alive, hanging or dead), and this region's DynamoDB, Backup and
// SSM, with the handler's clock.
type world struct {
	primary *awsfake.DynamoDB
	dynamo  *awsfake.DynamoDB
	backup  *awsfake.Backup
	ssm     *awsfake.SSM
	h       *tablerestore.Handler
	logs    *syncBuffer
	now     time.Time
}

// newWorld starts the fakes; primaryEndpoint overrides where the probe goes
// ("" means the live primary fake).
func newWorld(t *testing.T, primaryEndpoint string) *world {
	t.Helper()
	w := &world{
		primary: awsfake.NewDynamoDB(t, primary, account),
		dynamo:  awsfake.NewDynamoDB(t, backupRegion, account),
		backup:  awsfake.NewBackup(t, backupRegion, account),
		ssm:     awsfake.NewSSM(t, backupRegion),
		logs:    &syncBuffer{},
		now:     failoverAt,
	}
	if primaryEndpoint == "" {
		primaryEndpoint = w.primary.URL()
	}
	w.backup.CreateVault(vaultName)
	w.backup.SetClock(w.now)
	w.h = &tablerestore.Handler{
		DynamoDB: w.dynamo.Client(),
		PrimaryDynamoDB: func(region string) *dynamodb.Client {
			if region != primary {
				t.Errorf("probe went to region %q, want %q", region, primary)
			}
			return awsfake.DynamoDBClient(primaryEndpoint, region)
		},
		Backup:      w.backup.Client(),
		SSM:         w.ssm.Client(),
		Region:      backupRegion,
		CallTimeout: 5 * time.Second,
		Now:         func() time.Time { return w.now },
		Log:         slog.New(slog.NewJSONHandler(w.logs, nil)),
	}
	return w
}

// advance moves the handler's clock, and AWS Backup's, on.
func (w *world) advance(d time.Duration) {
	w.now = w.now.Add(d)
	w.backup.SetClock(w.now)
}

// primaryHasPITR gives the primary table PITR with a latest restorable time.
func (w *world) primaryHasPITR(latest time.Time) {
	w.primary.PutTable(awsfake.Table{Name: tableName, PITR: true, LatestRestorable: latest})
}

// properties are valid start ResourceProperties with overrides; a nil
// override value removes the key.
func properties(overrides map[string]any) map[string]any {
	return override(map[string]any{
		"ServiceToken":             "arn:aws:lambda:us-west-2:123456789012:function:provider",
		"TableName":                tableName,
		"SourceTableArn":           sourceArn,
		"SourceRegion":             primary,
		"VaultName":                vaultName,
		"RestoreRoleArn":           roleArn,
		"Source":                   "auto",
		"ProbeTimeoutSeconds":      "0.2",
		"FailoverStartedParameter": startedParameter,
	}, overrides)
}

// readyProperties are the ready resource's properties as the template
// passes them: the start resource's attributes (FailoverStartedAt and
// SourceTableArn default to the failover's when start has none), the
// vault, the tags and the wait.
func readyProperties(start tablerestore.Response, overrides map[string]any) map[string]any {
	return override(map[string]any{
		"ServiceToken":      "arn:aws:lambda:us-west-2:123456789012:function:provider",
		"TableName":         start.Data["TableName"],
		"Source":            start.Data["Source"],
		"PointInTime":       start.Data["PointInTime"],
		"RestoreJobId":      start.Data["RestoreJobId"],
		"RecoveryPointArn":  start.Data["RecoveryPointArn"],
		"SourceTableArn":    or(start.Data["SourceTableArn"], sourceArn),
		"FailoverStartedAt": or(start.Data["FailoverStartedAt"], failoverAt.Format(time.RFC3339)),
		"VaultName":         vaultName,
		"RestoreRoleArn":    roleArn,
		"Tags":              map[string]any{"team": "analytics", "env": "dr"},
		"WaitMinutes":       "50",
	}, overrides)
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func override(p, overrides map[string]any) map[string]any {
	for k, v := range overrides {
		if v == nil {
			delete(p, k)
			continue
		}
		p[k] = v
	}
	return p
}

// readyEvent is an event of the ready resource.
func readyEvent(requestType cfn.RequestType, props map[string]any) cfn.Event {
	e := event(requestType, props)
	e.ResourceType, e.LogicalResourceID = "Custom::TableRestoreReady", readyID
	return e
}

// event is an event of the start resource.
func event(requestType cfn.RequestType, props map[string]any) cfn.Event {
	return cfn.Event{
		RequestType:        requestType,
		RequestID:          "6e2c7e0a-request",
		StackID:            "arn:aws:cloudformation:us-west-2:123456789012:stack/BackupFailoverStack/guid",
		ResourceType:       "Custom::TableRestore",
		LogicalResourceID:  logicalID,
		ResourceProperties: props,
	}
}

// mustWait creates the start resource, then the ready resource from its
// attributes (readyOverrides applied), and returns the start response
// and the ready resource's first isComplete event.
func mustWait(t *testing.T, w *world, startProps, readyOverrides map[string]any) (tablerestore.Response, tablerestore.CompletionEvent) {
	t.Helper()
	_, start := mustCreate(t, w, startProps)
	e := readyEvent(cfn.RequestCreate, readyProperties(start, readyOverrides))
	resp, err := w.h.OnEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("ready Create: %v", err)
	}
	return start, customresource.Completion(e, resp)
}

// waitOnBackupJob is a failover with the primary down: the start resource
// began a vault restore whose job is now status (with message), and the
// ready resource waits for it.
func waitOnBackupJob(t *testing.T, status, message string) (*world, tablerestore.CompletionEvent) {
	t.Helper()
	w := newWorld(t, awsfake.DeadEndpoint(t))
	vaultWithPoints(w)
	start, poll := mustWait(t, w, properties(nil), nil)
	w.backup.SetRestoreJobStatus(start.Data["RestoreJobId"], status, message)
	return w, poll
}

func mustCreate(t *testing.T, w *world, props map[string]any) (cfn.Event, tablerestore.Response) {
	t.Helper()
	e := event(cfn.RequestCreate, props)
	resp, err := w.h.OnEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return e, resp
}

// jsonEqual compares a recorded request body with the expected JSON object.
func jsonEqual(t *testing.T, what string, got []byte, want map[string]any) {
	t.Helper()
	var gotMap map[string]any
	if err := json.Unmarshal(got, &gotMap); err != nil {
		t.Fatalf("%s: body is not JSON: %v", what, err)
	}
	wantJSON, _ := json.Marshal(want)
	var wantMap map[string]any
	_ = json.Unmarshal(wantJSON, &wantMap)
	g, _ := json.Marshal(gotMap)
	x, _ := json.Marshal(wantMap)
	if !bytes.Equal(g, x) {
		t.Errorf("%s request:\n got %s\nwant %s", what, g, x)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func assertData(t *testing.T, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("Data:\n got %v\nwant %v", got, want)
	}
}

// assertNoWrites fails if any fake saw a call that creates, changes or
// deletes a table, a restore or a recovery point.
func assertNoWrites(t *testing.T, w *world) {
	t.Helper()
	for _, s := range []interface{ Ops() []string }{w.primary, w.dynamo, w.backup} {
		for _, op := range s.Ops() {
			if !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "List") && !strings.HasPrefix(op, "Get") {
				t.Errorf("unexpected write call %s", op)
			}
		}
	}
}

// assertRecorded fails unless the failover start parameter holds want,
// written once.
func assertRecorded(t *testing.T, w *world, want time.Time) {
	t.Helper()
	p, ok := w.ssm.Parameter(startedParameter)
	if !ok {
		t.Fatalf("parameter %s not recorded", startedParameter)
	}
	if p.Value != want.Format(time.RFC3339) || p.Type != "String" || p.Version != 1 {
		t.Errorf("parameter %s = %q (%s, version %d), want %q (String, version 1)", startedParameter, p.Value, p.Type, p.Version, want.Format(time.RFC3339))
	}
}

// assertNotRecorded fails if the failover start parameter exists.
func assertNotRecorded(t *testing.T, w *world) {
	t.Helper()
	if p, ok := w.ssm.Parameter(startedParameter); ok {
		t.Errorf("parameter %s recorded as %q by an attempt that started no restore", startedParameter, p.Value)
	}
}

// syncBuffer collects log lines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
