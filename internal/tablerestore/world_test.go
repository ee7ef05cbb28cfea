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
	sourceArn    = "arn:aws:dynamodb:us-east-1:123456789012:table/dr-analytics-aggregates"
	targetArn    = "arn:aws:dynamodb:us-west-2:123456789012:table/dr-analytics-aggregates"
)

// world is both regions as the failover sees them: the primary region's
// DynamoDB (alive, hanging or dead), and this region's DynamoDB and Backup.
type world struct {
	primary *awsfake.DynamoDB
	dynamo  *awsfake.DynamoDB
	backup  *awsfake.Backup
	h       *tablerestore.Handler
	logs    *syncBuffer
}

// newWorld starts the fakes; primaryEndpoint overrides where the probe goes
// ("" means the live primary fake).
func newWorld(t *testing.T, primaryEndpoint string) *world {
	t.Helper()
	w := &world{
		primary: awsfake.NewDynamoDB(t, primary, account),
		dynamo:  awsfake.NewDynamoDB(t, backupRegion, account),
		backup:  awsfake.NewBackup(t, backupRegion, account),
		logs:    &syncBuffer{},
	}
	if primaryEndpoint == "" {
		primaryEndpoint = w.primary.URL()
	}
	w.backup.CreateVault(vaultName)
	w.h = &tablerestore.Handler{
		DynamoDB: w.dynamo.Client(),
		PrimaryDynamoDB: func(region string) *dynamodb.Client {
			if region != primary {
				t.Errorf("probe went to region %q, want %q", region, primary)
			}
			return awsfake.DynamoDBClient(primaryEndpoint, region)
		},
		Backup:      w.backup.Client(),
		Region:      backupRegion,
		CallTimeout: 5 * time.Second,
		Log:         slog.New(slog.NewJSONHandler(w.logs, nil)),
	}
	return w
}

// primaryHasPITR gives the primary table PITR with a latest restorable time.
func (w *world) primaryHasPITR(latest time.Time) {
	w.primary.PutTable(awsfake.Table{Name: tableName, PITR: true, LatestRestorable: latest})
}

// properties are valid ResourceProperties with overrides; a nil override
// value removes the key.
func properties(overrides map[string]any) map[string]any {
	p := map[string]any{
		"ServiceToken":        "arn:aws:lambda:us-west-2:123456789012:function:provider",
		"TableName":           tableName,
		"SourceTableArn":      sourceArn,
		"SourceRegion":        primary,
		"VaultName":           vaultName,
		"RestoreRoleArn":      roleArn,
		"Source":              "auto",
		"ProbeTimeoutSeconds": "0.2",
		"Tags":                map[string]any{"team": "analytics", "env": "dr"},
	}
	for k, v := range overrides {
		if v == nil {
			delete(p, k)
			continue
		}
		p[k] = v
	}
	return p
}

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

// completion is the isComplete event the framework builds from a Create
// and its onEvent response.
func completion(e cfn.Event, resp tablerestore.Response) tablerestore.CompletionEvent {
	e.PhysicalResourceID = resp.PhysicalResourceID
	data := map[string]any{}
	for k, v := range resp.Data {
		data[k] = v
	}
	return tablerestore.CompletionEvent{Event: e, Data: data}
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

func assertData(t *testing.T, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("Data:\n got %v\nwant %v", got, want)
	}
}

// assertNoWrites fails if any fake saw a call that creates, changes or
// deletes anything.
func assertNoWrites(t *testing.T, w *world) {
	t.Helper()
	for _, s := range []interface{ Ops() []string }{w.primary, w.dynamo, w.backup} {
		for _, op := range s.Ops() {
			if !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "List") {
				t.Errorf("unexpected write call %s", op)
			}
		}
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
