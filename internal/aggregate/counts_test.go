package aggregate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/backoff"
)

var (
	windowStart = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	windowEnd   = windowStart.Add(time.Minute)
)

// event builds a tumbling-window event whose records carry the given data.
func event(shard string, state map[string]string, final bool, data ...string) events.KinesisTimeWindowEvent {
	e := events.KinesisTimeWindowEvent{}
	e.Window = events.Window{Start: events.RFC3339EpochTime{Time: windowStart}, End: events.RFC3339EpochTime{Time: windowEnd}}
	e.State = state
	e.ShardID = shard
	e.IsFinalInvokeForWindow = final
	for i, d := range data {
		e.Records = append(e.Records, events.KinesisEventRecord{
			EventID: fmt.Sprintf("%s:%d", shard, i),
			Kinesis: events.KinesisRecord{Data: []byte(d), SequenceNumber: fmt.Sprint(i)},
		})
	}
	return e
}

func typed(kind string) string {
	return fmt.Sprintf(`{"id":"e1","type":%q,"source":"sensor-7","value":3.5,"event_time":"2026-11-25T10:00:00Z","ingested_at":"2026-11-25T10:00:00.123Z"}`+"\n", kind)
}

// refusingDB fails the test when a non-final invocation tries to write.
type refusingDB struct{ t testing.TB }

func (d refusingDB) BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	d.t.Helper()
	d.t.Error("non-final invocation wrote to DynamoDB")
	return &dynamodb.BatchWriteItemOutput{}, nil
}

func newTestAggregator(t testing.TB, db BatchWriter) *Aggregator {
	t.Helper()
	a, err := New(Config{
		TableName: "aggregates", Field: "type", Region: "us-east-1", DB: db,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestKeyValue(t *testing.T) {
	long := strings.Repeat("a", 200)
	// 127 ASCII bytes then a 3-byte rune: the cut must not split the rune.
	straddling := strings.Repeat("b", 127) + "€" + "tail"
	cases := []struct {
		name, line, want string
	}{
		{"string value is the key", `{"type":"click"}`, "click"},
		{"integer keeps its spelling", `{"type":12345678901234567890}`, "12345678901234567890"},
		{"negative integer", `{"type":-7}`, "-7"},
		{"float takes its canonical form", `{"type":7.0}`, "7"},
		{"exponent takes its canonical form", `{"type":1e3}`, "1000"},
		{"fraction", `{"type":3.50}`, "3.5"},
		{"true", `{"type":true}`, "true"},
		{"false", `{"type":false}`, "false"},
		{"null counts as missing", `{"type":null}`, MissingKey},
		{"absent counts as missing", `{"kind":"click"}`, MissingKey},
		{"empty string counts as missing", `{"type":""}`, MissingKey},
		{"object counts as missing", `{"type":{"a":1}}`, MissingKey},
		{"array counts as missing", `{"type":["a"]}`, MissingKey},
		{"field match is case-sensitive", `{"Type":"click"}`, MissingKey},
		{"array document is invalid", `["click"]`, InvalidJSONKey},
		{"string document is invalid", `"click"`, InvalidJSONKey},
		{"null document is invalid", `null`, InvalidJSONKey},
		{"broken JSON is invalid", `{"type":"click"`, InvalidJSONKey},
		{"trailing garbage is invalid", `{"type":"click"} x`, InvalidJSONKey},
		{"long value is truncated to 128 bytes", `{"type":"` + long + `"}`, long[:MaxKeyBytes]},
		{"truncation keeps UTF-8 whole", `{"type":"` + straddling + `"}`, strings.Repeat("b", 127)},
		{"escaped characters are decoded", `{"type":"a\"b"}`, `a"b`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := keyValue([]byte(c.line), "type"); got != c.want {
				t.Errorf("keyValue(%s) = %q, want %q", c.line, got, c.want)
			}
		})
	}
}

func TestHandleCountsBadRecordsInTheirBuckets(t *testing.T) {
	a := newTestAggregator(t, refusingDB{t})
	resp, err := a.Handle(context.Background(), event("shardId-000000000000", nil, false,
		typed("click"),
		"not json\n",
		"",                           // empty record: nothing to count but still one record
		"\n\n",                       // blank lines only
		`{"type":null}`+"\n",         // null key
		`{"value":1}`+"\n",           // missing key
		`[1,2,3]`+"\n",               // not an object
		typed("view")+typed("click"), // two events in one record
	))
	if err != nil {
		t.Fatalf("bad records must not fail the invocation: %v", err)
	}
	want := map[string]string{"click": "2", "view": "1", InvalidJSONKey: "4", MissingKey: "2"}
	assertState(t, resp.State, want)
	if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("BatchItemFailures = %#v, want an empty list", resp.BatchItemFailures)
	}
}

func TestStateAccumulatesAcrossInvocations(t *testing.T) {
	a := newTestAggregator(t, refusingDB{t})
	ctx := context.Background()
	first, err := a.Handle(ctx, event("shardId-1", nil, false, typed("click"), typed("view")))
	if err != nil {
		t.Fatal(err)
	}
	assertState(t, first.State, map[string]string{"click": "1", "view": "1"})
	second, err := a.Handle(ctx, event("shardId-1", first.State, false, typed("click"), typed("click"), "oops\n"))
	if err != nil {
		t.Fatal(err)
	}
	assertState(t, second.State, map[string]string{"click": "3", "view": "1", InvalidJSONKey: "1"})
	// A non-final invocation with no records returns the state unchanged.
	third, err := a.Handle(ctx, event("shardId-1", second.State, false))
	if err != nil {
		t.Fatal(err)
	}
	assertState(t, third.State, second.State)
}

func TestUnreadableStateEntryIsDroppedNotFatal(t *testing.T) {
	a := newTestAggregator(t, refusingDB{t})
	resp, err := a.Handle(context.Background(), event("shardId-1", map[string]string{"click": "2", "view": "two", "neg": "-1"}, false, typed("click")))
	if err != nil {
		t.Fatal(err)
	}
	assertState(t, resp.State, map[string]string{"click": "3"})
}

func TestDistinctKeysBeyondLimitCountAsOverflow(t *testing.T) {
	a := newTestAggregator(t, refusingDB{t})
	ctx := context.Background()
	var batch []string
	for i := range MaxKeys - 1 {
		batch = append(batch, typed(fmt.Sprintf("k%d", i)))
	}
	batch = append(batch, "bad\n", `{}`+"\n") // reserved buckets do not use up the limit
	resp, err := a.Handle(ctx, event("shardId-1", nil, false, batch...))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.State) != MaxKeys+1 {
		t.Fatalf("state has %d keys, want %d", len(resp.State), MaxKeys+1)
	}
	// The limit holds across invocations: the restored state is full after one more key.
	resp, err = a.Handle(ctx, event("shardId-1", resp.State, false,
		typed("last-fits"), typed("late-1"), typed("late-2"), typed("k1"), "bad\n"))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{"last-fits": "1", OverflowKey: "2", "k1": "2", InvalidJSONKey: "2", MissingKey: "1"}
	for key, want := range checks {
		if got := resp.State[key]; got != want {
			t.Errorf("state[%q] = %q, want %q", key, got, want)
		}
	}
	if _, ok := resp.State["late-1"]; ok {
		t.Error("a key past the limit got its own entry")
	}
	if len(resp.State) != MaxKeys+3 {
		t.Errorf("state has %d keys, want %d (limit plus three reserved buckets)", len(resp.State), MaxKeys+3)
	}
}

// encodeResponse encodes a response as the Lambda runtime does:
// aws-lambda-go's handler uses a json.Encoder with SetEscapeHTML(false)
// by default (lambda/handler.go).
func encodeResponse(t *testing.T, state map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(events.KinesisTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: state}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestStateBudgetCountsTheBytesReallySent(t *testing.T) {
	cases := []struct {
		name         string
		filler       string // repeated to fill each key
		wantOverflow bool
	}{
		// < > & travel unescaped: 5,000 such keys fit, like plain ones.
		{"html characters are sent as they are", "<>&", false},
		// A control character escapes to six bytes: 5,000 keys would
		// need about 3.9 MB, so the byte budget cuts in.
		{"control characters escape to six bytes", "\x01", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAggregator(t, refusingDB{t})
			var batch []string
			for i := range MaxKeys {
				key := fmt.Sprintf("%04d", i) + strings.Repeat(tc.filler, MaxKeyBytes)[:MaxKeyBytes-4]
				line, _ := json.Marshal(map[string]string{"type": key})
				batch = append(batch, string(line)+"\n")
			}
			resp, err := a.Handle(context.Background(), event("shardId-1", nil, false, batch...))
			if err != nil {
				t.Fatal(err)
			}
			if encoded := encodeResponse(t, resp.State); len(encoded) >= 1<<20 {
				t.Errorf("state encodes to %d bytes, want under 1 MiB", len(encoded))
			}
			overflow := resp.State[OverflowKey] != ""
			if overflow != tc.wantOverflow {
				t.Errorf("overflow %v (%d keys kept), want %v", overflow, len(resp.State), tc.wantOverflow)
			}
			if !tc.wantOverflow && len(resp.State) != MaxKeys {
				t.Errorf("state has %d keys, want all %d", len(resp.State), MaxKeys)
			}
		})
	}
}

func TestEventWithoutTumblingWindowFails(t *testing.T) {
	a := newTestAggregator(t, refusingDB{t})
	e := event("shardId-1", nil, false, typed("click"))
	e.Window = events.Window{}
	if _, err := a.Handle(context.Background(), e); err == nil || !strings.Contains(err.Error(), "TumblingWindowInSeconds") {
		t.Errorf("err = %v, want one naming TumblingWindowInSeconds", err)
	}
}

func TestShardComesFromEventIDWhenShardIDIsAbsent(t *testing.T) {
	e := event("shardId-000000000004", nil, false, typed("click"))
	e.ShardID = ""
	if got := shardID(e); got != "shardId-000000000004" {
		t.Errorf("shardID = %q", got)
	}
	e.Records = nil
	a := newTestAggregator(t, refusingDB{t})
	if _, err := a.Handle(context.Background(), e); err == nil {
		t.Error("an event with no shard was accepted")
	}
}

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "dr-analytics-aggregates", "AWS_REGION": "us-east-1"}
	cases := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{"defaults the key to type", base, Config{TableName: "dr-analytics-aggregates", Field: "type", Region: "us-east-1"}, ""},
		{"reads the key and budget", merge(base, map[string]string{"AGGREGATE_KEY": "source", "WRITE_RETRY_BUDGET": "5s"}),
			Config{TableName: "dr-analytics-aggregates", Field: "source", Region: "us-east-1", Retry: backoff.Policy{Budget: 5 * time.Second}}, ""},
		{"requires the table", merge(base, map[string]string{"TABLE_NAME": ""}), Config{}, "TABLE_NAME"},
		{"requires the region", merge(base, map[string]string{"AWS_REGION": ""}), Config{}, "AWS_REGION"},
		{"rejects a nested path", merge(base, map[string]string{"AGGREGATE_KEY": "a b"}), Config{}, "AGGREGATE_KEY"},
		{"rejects a bad budget", merge(base, map[string]string{"WRITE_RETRY_BUDGET": "20"}), Config{}, "WRITE_RETRY_BUDGET"},
		{"rejects a budget over five minutes", merge(base, map[string]string{"WRITE_RETRY_BUDGET": "10m"}), Config{}, "WRITE_RETRY_BUDGET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return c.env[k] })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.TableName != c.want.TableName || got.Field != c.want.Field || got.Region != c.want.Region || got.Retry.Budget != c.want.Retry.Budget {
				t.Errorf("config = %+v, want %+v", got, c.want)
			}
		})
	}
}

// The aggregator accepts exactly the aggregateKey values synth accepts, so
// a deployment that synthesizes never has an aggregator that cannot start.
func TestAggregateKeyRuleIsConfigs(t *testing.T) {
	for _, key := range []string{"type", "source", "event.type", "_x", "a-b", "T9", strings.Repeat("k", 64),
		"", "9type", "a b", "a/b", "a$", "é", strings.Repeat("k", 65)} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			context := map[string]any{"producerCidrs": "203.0.113.0/24", config.KeyAggregateKey: key}
			_, _, synthErr := config.Load(func(k string) any { return context[k] }, nil)
			env := map[string]string{"TABLE_NAME": "t", "AWS_REGION": "us-east-1", "AGGREGATE_KEY": key}
			_, envErr := ConfigFromEnv(func(k string) string { return env[k] })
			if key == "" {
				// An empty AGGREGATE_KEY means the default; synth refuses "".
				if envErr != nil {
					t.Errorf("empty AGGREGATE_KEY: %v, want the default", envErr)
				}
				return
			}
			if (synthErr == nil) != (envErr == nil) {
				t.Errorf("config.Load: %v; aggregator: %v; want both to accept or both to refuse", synthErr, envErr)
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func assertState(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("state = %v, want %v", got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("state = %v, want %v", got, want)
			return
		}
	}
}

// BenchmarkHandle1000Records measures one non-final invocation of 1,000
// typical events spread over 20 key values.
func BenchmarkHandle1000Records(b *testing.B) {
	a := newTestAggregator(b, refusingDB{b})
	data := make([]string, 1000)
	for i := range data {
		data[i] = typed(fmt.Sprintf("kind-%d", i%20))
	}
	e := event("shardId-000000000000", map[string]string{"kind-0": "100"}, false, data...)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Handle(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// decodedKeyValue is the straightforward reference for keyValue: decode the
// whole event with encoding/json.
func decodedKeyValue(line []byte, field string) string {
	var event map[string]json.RawMessage
	if err := json.Unmarshal(line, &event); err != nil || event == nil {
		return InvalidJSONKey
	}
	raw, ok := event[field]
	if !ok {
		return MissingKey
	}
	var value any
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber()
	if err := decoder.Decode(&value); err != nil {
		return InvalidJSONKey
	}
	switch v := value.(type) {
	case string:
		if v == "" {
			return MissingKey
		}
		return truncate(v)
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return truncate(numberKey([]byte(v)))
	default:
		return MissingKey
	}
}

// FuzzKeyValueMatchesFullDecode checks the top-level scan against a full
// decode for any input, including escaped and duplicated keys.
func FuzzKeyValueMatchesFullDecode(f *testing.F) {
	for _, seed := range []string{
		`{"type":"click"}`, `{"a":{"type":"x"},"type":"y"}`, `{"type":"a","type":"b"}`,
		`{"t\u0079pe":"escaped key"}`, `{"type":"caf\u00e9 \"q\""}`, `{ "type" : 12 , "b" : [1,{"c":"]"}] }`,
		`{"type":-1.5e3}`, `{"type":1e999}`, `{"type":true}`, `{"type":null}`, `{"x":"\\","type":"after backslash"}`,
		"{\"type\":\"bad \xff utf8\"}", `[{"type":"a"}]`, `"type"`, `{}`, `{"type":""}`, `nul`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			return
		}
		if got, want := keyValue(line, "type"), decodedKeyValue(line, "type"); got != want {
			t.Errorf("keyValue(%q) = %q, full decode gives %q", line, got, want)
		}
	})
}
