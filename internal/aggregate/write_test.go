package aggregate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/backoff"
	"github.com/dr-analytics/drplan/internal/dynalite"
)

var writtenAt = time.Date(2026, 11, 25, 10, 1, 2, 345_000_000, time.UTC)

func dynamoClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// createTable creates a table with the aggregates schema and waits until it
// is ACTIVE (dynalite takes a moment, like DynamoDB).
func createTable(t testing.TB, db *dynamodb.Client, name string) {
	t.Helper()
	ctx := context.Background()
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	})
	if err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("table %s never became active: %v", name, err)
	}
}

// sleepRecorder replaces the backoff's sleep: it records delays and returns
// at once, so tests check the wait budget without waiting.
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleepRecorder) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays = append(s.delays, d)
	return nil
}

func (s *sleepRecorder) total() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum time.Duration
	for _, d := range s.delays {
		sum += d
	}
	return sum
}

type writeFixture struct {
	agg    *Aggregator
	db     *dynamodb.Client
	sleeps *sleepRecorder
	logs   *bytes.Buffer
}

func newWriteFixture(t testing.TB, endpoint, table, region string, budget time.Duration) writeFixture {
	t.Helper()
	f := writeFixture{db: dynamoClient(endpoint), sleeps: &sleepRecorder{}, logs: &bytes.Buffer{}}
	agg, err := New(Config{
		TableName: table, Field: "type", Region: region, DB: f.db,
		Retry:  backoff.Policy{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Budget: budget, Sleep: f.sleeps.sleep, Jitter: func(d time.Duration) time.Duration { return d }},
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
		Now:    func() time.Time { return writtenAt },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.agg = agg
	return f
}

// runWindow plays one window on a shard as Lambda does: each batch is an
// invocation carrying the previous state, the last one is final.
func runWindow(t testing.TB, a *Aggregator, shard string, batches ...[]string) error {
	t.Helper()
	var state map[string]string
	for i, batch := range batches {
		resp, err := a.Handle(context.Background(), event(shard, state, i == len(batches)-1, batch...))
		if err != nil {
			return err
		}
		state = resp.State
	}
	if len(state) != 0 {
		t.Errorf("final invocation returned state %v, want empty", state)
	}
	return nil
}

func scanTable(t testing.TB, db *dynamodb.Client, table string) map[string]map[string]string {
	t.Helper()
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("scan %s: %v", table, err)
	}
	items := map[string]map[string]string{}
	for _, item := range out.Items {
		flat := map[string]string{}
		for name, v := range item {
			switch v := v.(type) {
			case *types.AttributeValueMemberS:
				flat[name] = v.Value
			case *types.AttributeValueMemberN:
				flat[name] = "N:" + v.Value
			default:
				t.Errorf("attribute %s has unexpected type %T", name, v)
			}
		}
		items[flat["pk"]+"|"+flat["sk"]] = flat
	}
	return items
}

// endpoint is the package's one dynalite (TestMain): every test and
// benchmark writes to tables of its own name.
var endpoint string

func TestMain(m *testing.M) {
	var stop func()
	var err error
	endpoint, stop, err = dynalite.Launch()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dynalite:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func TestWindowWrites(t *testing.T) {
	db := dynamoClient(endpoint)

	t.Run("final invocation writes one exact item per key", func(t *testing.T) {
		createTable(t, db, "exact")
		f := newWriteFixture(t, endpoint, "exact", "us-east-1", time.Second)
		err := runWindow(t, f.agg, "shardId-000000000001",
			[]string{typed("click"), typed("view"), "junk\n"},
			[]string{typed("click"), `{"id":"x"}` + "\n"},
		)
		if err != nil {
			t.Fatal(err)
		}
		sk := "2026-11-25T10:00:00Z#us-east-1#shardId-000000000001"
		common := map[string]string{
			"sk": sk, "window_start": "2026-11-25T10:00:00Z", "window_end": "2026-11-25T10:01:00Z",
			"region": "us-east-1", "shard_id": "shardId-000000000001", "aggregate_key": "type",
			"written_at": "2026-11-25T10:01:02.345Z",
		}
		want := map[string]map[string]string{}
		for key, count := range map[string]string{"click": "2", "view": "1", InvalidJSONKey: "1", MissingKey: "1"} {
			item := map[string]string{"pk": key, "count": "N:" + count,
				writerhour.Attribute: writerhour.Value("us-east-1", time.Date(2026, 11, 25, 10, 1, 2, 0, time.UTC), key)}
			for k, v := range common {
				item[k] = v
			}
			want[key+"|"+sk] = item
		}
		assertItems(t, scanTable(t, db, "exact"), want)
	})

	t.Run("replayed window overwrites its items instead of doubling", func(t *testing.T) {
		createTable(t, db, "replay")
		f := newWriteFixture(t, endpoint, "replay", "us-east-1", time.Second)
		batches := [][]string{{typed("click"), typed("click")}, {typed("view")}, {}}
		if err := runWindow(t, f.agg, "shardId-1", batches...); err != nil {
			t.Fatal(err)
		}
		first := scanTable(t, db, "replay")
		// The same records again, batched differently, as after a retry or
		// a stream replay.
		if err := runWindow(t, f.agg, "shardId-1", []string{typed("click")}, []string{typed("click"), typed("view")}); err != nil {
			t.Fatal(err)
		}
		assertItems(t, scanTable(t, db, "replay"), first)
		if got := first["click|2026-11-25T10:00:00Z#us-east-1#shardId-1"]["count"]; got != "N:2" {
			t.Errorf("click count = %s, want N:2", got)
		}
	})

	t.Run("each shard and region writes its own items", func(t *testing.T) {
		createTable(t, db, "shards")
		primary := newWriteFixture(t, endpoint, "shards", "us-east-1", time.Second)
		backup := newWriteFixture(t, endpoint, "shards", "us-west-2", time.Second)
		for _, run := range []struct {
			agg    *Aggregator
			shard  string
			clicks int
		}{{primary.agg, "shardId-0", 3}, {primary.agg, "shardId-1", 4}, {backup.agg, "shardId-0", 5}} {
			batch := make([]string, run.clicks)
			for i := range batch {
				batch[i] = typed("click")
			}
			if err := runWindow(t, run.agg, run.shard, batch); err != nil {
				t.Fatal(err)
			}
		}
		items := scanTable(t, db, "shards")
		want := map[string]string{
			"click|2026-11-25T10:00:00Z#us-east-1#shardId-0": "N:3",
			"click|2026-11-25T10:00:00Z#us-east-1#shardId-1": "N:4",
			"click|2026-11-25T10:00:00Z#us-west-2#shardId-0": "N:5",
		}
		if len(items) != len(want) {
			t.Fatalf("table has %d items, want %d: %v", len(items), len(want), items)
		}
		for key, count := range want {
			if items[key]["count"] != count {
				t.Errorf("%s count = %s, want %s", key, items[key]["count"], count)
			}
		}
	})

	t.Run("more keys than one batch are all written", func(t *testing.T) {
		createTable(t, db, "many")
		f := newWriteFixture(t, endpoint, "many", "us-east-1", time.Second)
		batch := make([]string, 3*batchSize+7)
		for i := range batch {
			batch[i] = typed(fmt.Sprintf("kind-%03d", i))
		}
		if err := runWindow(t, f.agg, "shardId-1", batch); err != nil {
			t.Fatal(err)
		}
		if got := len(scanTable(t, db, "many")); got != len(batch) {
			t.Errorf("table has %d items, want %d", got, len(batch))
		}
	})

	t.Run("missing table fails the invocation after the bounded wait", func(t *testing.T) {
		f := newWriteFixture(t, endpoint, "not-restored-yet", "us-west-2", 3*time.Second)
		err := runWindow(t, f.agg, "shardId-1", []string{typed("click")})
		if err == nil || !strings.Contains(err.Error(), "table not-restored-yet not found yet") {
			t.Fatalf("err = %v, want table-not-found error", err)
		}
		if got := f.sleeps.total(); got != 3*time.Second {
			t.Errorf("waited %s in total, want exactly the 3s budget", got)
		}
		for _, d := range f.sleeps.delays {
			if d > 2*time.Second {
				t.Errorf("one delay was %s, above the 2s cap", d)
			}
		}
		if !strings.Contains(f.logs.String(), "table not-restored-yet not found yet; will retry from the stream") {
			t.Errorf("log does not say the window will be retried from the stream:\n%s", f.logs.String())
		}
	})

	t.Run("table that appears during the wait gets the window", func(t *testing.T) {
		f := newWriteFixture(t, endpoint, "late", "us-west-2", 10*time.Second)
		created := false
		f.agg.retry.Sleep = func(ctx context.Context, d time.Duration) error {
			f.sleeps.sleep(ctx, d)
			if !created {
				createTable(t, db, "late")
				created = true
			}
			return nil
		}
		if err := runWindow(t, f.agg, "shardId-1", []string{typed("click")}); err != nil {
			t.Fatalf("window not written once the table existed: %v", err)
		}
		if got := len(scanTable(t, db, "late")); got != 1 {
			t.Errorf("table has %d items, want 1", got)
		}
	})

	t.Run("rejected request fails at once without using the budget", func(t *testing.T) {
		// A table with another key schema makes DynamoDB answer ValidationException.
		_, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
			TableName:            aws.String("wrong-schema"),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		})
		if err != nil {
			t.Fatal(err)
		}
		waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
		})
		if err := waiter.Wait(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("wrong-schema")}, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		f := newWriteFixture(t, endpoint, "wrong-schema", "us-east-1", 5*time.Second)
		if err := runWindow(t, f.agg, "shardId-1", []string{typed("click")}); err == nil {
			t.Fatal("write to a table with the wrong schema succeeded")
		}
		if len(f.sleeps.delays) != 0 {
			t.Errorf("waited %v before failing a request that retrying cannot fix", f.sleeps.delays)
		}
	})

	t.Run("function deadline stops the wait early", func(t *testing.T) {
		f := newWriteFixture(t, endpoint, "never", "us-east-1", 20*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), defaultRetry.Margin/2)
		defer cancel()
		_, err := f.agg.Handle(ctx, event("shardId-1", nil, true, typed("click")))
		if err == nil {
			t.Fatal("write to a missing table succeeded")
		}
		if len(f.sleeps.delays) != 0 {
			t.Errorf("slept %v although the function deadline was too close", f.sleeps.delays)
		}
	})
}

// throttlingProxy sits in front of dynalite and answers the first n
// BatchWriteItem calls with every item unprocessed, as DynamoDB does when a
// partition is throttled.
func throttlingProxy(t testing.TB, endpoint string, n int64) (*httptest.Server, *atomic.Int64) {
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var throttled atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.BatchWriteItem" && throttled.Load() < n {
			throttled.Add(1)
			var in struct{ RequestItems json.RawMessage }
			body, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(body, &in); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			fmt.Fprintf(w, `{"UnprocessedItems":%s}`, in.RequestItems)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &throttled
}

func TestUnprocessedItemsAreRetriedWithBackoff(t *testing.T) {
	createTable(t, dynamoClient(endpoint), "throttled")

	t.Run("retried until written", func(t *testing.T) {
		proxy, throttled := throttlingProxy(t, endpoint, 3)
		f := newWriteFixture(t, proxy.URL, "throttled", "us-east-1", 10*time.Second)
		if err := runWindow(t, f.agg, "shardId-1", []string{typed("click"), typed("view")}); err != nil {
			t.Fatal(err)
		}
		if throttled.Load() != 3 {
			t.Errorf("proxy throttled %d calls, want 3", throttled.Load())
		}
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
		if fmt.Sprint(f.sleeps.delays) != fmt.Sprint(want) {
			t.Errorf("delays = %v, want doubling %v", f.sleeps.delays, want)
		}
		if got := len(scanTable(t, f.db, "throttled")); got != 2 {
			t.Errorf("table has %d items, want 2", got)
		}
	})

	t.Run("still unprocessed after the budget fails the invocation", func(t *testing.T) {
		proxy, _ := throttlingProxy(t, endpoint, 1_000_000)
		f := newWriteFixture(t, proxy.URL, "throttled", "us-east-1", time.Second)
		err := runWindow(t, f.agg, "shardId-2", []string{typed("click")})
		if err == nil || !strings.Contains(err.Error(), "still unprocessed") {
			t.Fatalf("err = %v, want an unprocessed-items error", err)
		}
		if got := f.sleeps.total(); got != time.Second {
			t.Errorf("waited %s, want the 1s budget", got)
		}
	})
}

func assertItems(t *testing.T, got, want map[string]map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("table has %d items, want %d:\ngot  %v\nwant %v", len(got), len(want), got, want)
		return
	}
	for key, wantItem := range want {
		gotItem, ok := got[key]
		if !ok {
			t.Errorf("item %s missing", key)
			continue
		}
		if fmt.Sprint(gotItem) != fmt.Sprint(wantItem) {
			t.Errorf("item %s:\ngot  %v\nwant %v", key, gotItem, wantItem)
		}
	}
}

// BenchmarkFinalInvocationWrite measures a final invocation of 1,000 events
// over 50 keys written to dynalite on loopback (two BatchWriteItem calls).
func BenchmarkFinalInvocationWrite(b *testing.B) {
	table := fmt.Sprintf("bench-%d", time.Now().UnixNano()) // -count runs it again
	createTable(b, dynamoClient(endpoint), table)
	f := newWriteFixture(b, endpoint, table, "us-east-1", time.Second)
	data := make([]string, 1000)
	for i := range data {
		data[i] = typed(fmt.Sprintf("kind-%d", i%50))
	}
	e := event("shardId-000000000000", nil, true, data...)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.agg.Handle(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}
