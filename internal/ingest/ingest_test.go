package ingest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kinesistypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/kinesisfake"
)

const (
	stream         = "dr-analytics-events"
	deliveryStream = "dr-analytics-events-to-s3"
)

var receivedAt = time.Date(2026, 11, 25, 10, 0, 0, 123_000_000, time.UTC)

// fakeClock advances only when the handler sleeps, so retry timing is exact.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type harness struct {
	fake     *kinesisfake.Server
	firehose *awsfake.Firehose
	handler  *Handler
	clock    *fakeClock
	logs     *bytes.Buffer
}

func newKinesisClient(endpoint string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(endpoint),
	}, KinesisClientOptions)
}

// newHarness runs the handler against kinesisfake and an ACTIVE delivery
// stream in awsfake.Firehose over loopback. env overrides STREAM_NAME,
// DELIVERY_STREAM_NAME and MAX_EVENT_BYTES.
func newHarness(t testing.TB, env map[string]string, opts Options) *harness {
	t.Helper()
	fake := kinesisfake.Start(stream)
	t.Cleanup(fake.Close)
	fh := awsfake.NewFirehose(t, "us-east-1", "123456789012")
	fh.SetStatus(deliveryStream, awsfake.DeliveryStreamActive)
	clock := &fakeClock{now: receivedAt}
	logs := &bytes.Buffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	opts.Now, opts.Sleep = clock.Now, clock.Sleep
	opts.Firehose = fh.Client()
	vars := map[string]string{"STREAM_NAME": stream, "DELIVERY_STREAM_NAME": deliveryStream}
	for k, v := range env {
		vars[k] = v
	}
	h := NewFromEnv(func(k string) string { return vars[k] }, newKinesisClient(fake.URL()), opts)
	return &harness{fake: fake, firehose: fh, handler: h, clock: clock, logs: logs}
}

func (hs *harness) request(t testing.TB, method, path, body string) events.ALBTargetGroupResponse {
	t.Helper()
	resp, err := hs.handler.Handle(context.Background(), events.ALBTargetGroupRequest{HTTPMethod: method, Path: path, Body: body})
	if err != nil {
		t.Fatalf("Handle returned error %v; it must always answer", err)
	}
	return resp
}

func (hs *harness) post(t testing.TB, body string) (int, Response, events.ALBTargetGroupResponse) {
	t.Helper()
	resp := hs.request(t, http.MethodPost, EventsPath, body)
	var r Response
	if err := json.Unmarshal([]byte(resp.Body), &r); err != nil {
		t.Fatalf("body %q is not a Response: %v", resp.Body, err)
	}
	return resp.StatusCode, r, resp
}

func (hs *harness) stored() []string {
	var out []string
	for _, r := range hs.fake.Records(stream) {
		out = append(out, string(r.Data))
	}
	return out
}

func event(i int) string {
	return fmt.Sprintf(`{"id":"%08d-0000-4000-8000-000000000000","type":"click","source":"sensor-7","value":3.5,"event_time":"2026-11-25T10:00:00Z"}`, i)
}

func batch(n int) string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = event(i + 1)
	}
	return strings.Join(lines, "\n")
}

const stamp = `,"ingested_at":"2026-11-25T10:00:00.123Z"}` + "\n"

func stamped(e string) string { return e[:len(e)-1] + stamp }

func TestPostEvents(t *testing.T) {
	t.Run("a single event is stored with ingested_at and the producer's bytes untouched", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		// Odd spacing, a number beyond float64 precision and escapes must survive as sent.
		e := `{"id":"a", "value": 3.141592653589793238462643383279, "big":123456789012345678901234567890,"s":"caf\u00e9 \"q\"","nested":{"ingested_at":"mine"} }`
		status, r, _ := hs.post(t, e)
		if status != 200 || r.Accepted != 1 || len(r.Rejected) != 0 || len(r.Failed) != 0 {
			t.Fatalf("status %d response %+v", status, r)
		}
		want := e[:len(e)-1] + stamp
		if got := hs.stored(); len(got) != 1 || got[0] != want {
			t.Fatalf("stored %q\nwant    %q", got, want)
		}
	})

	t.Run("an empty object gets only ingested_at", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		if status, _, _ := hs.post(t, "{ }"); status != 200 {
			t.Fatalf("status %d", status)
		}
		if got := hs.stored(); len(got) != 1 || got[0] != `{ "ingested_at":"2026-11-25T10:00:00.123Z"}`+"\n" {
			t.Fatalf("stored %q", got)
		}
	})

	t.Run("a pretty-printed single event is stored as one line", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		status, r, _ := hs.post(t, "\n{\n  \"id\": \"a\",\n  \"value\": 1.50\n}\n")
		if status != 200 || r.Accepted != 1 {
			t.Fatalf("status %d response %+v", status, r)
		}
		if got := hs.stored(); len(got) != 1 || got[0] != `{"id":"a","value":1.50`+stamp {
			t.Fatalf("stored %q", got)
		}
	})

	t.Run("a batch is stored in order, blank lines ignored, CRLF accepted", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		body := event(1) + "\r\n\r\n" + event(2) + "\n   \n" + event(3) + "\r\n"
		status, r, _ := hs.post(t, body)
		if status != 200 || r.Accepted != 3 {
			t.Fatalf("status %d response %+v", status, r)
		}
		got := hs.stored()
		want := []string{stamped(event(1)), stamped(event(2)), stamped(event(3))}
		if strings.Join(got, "") != strings.Join(want, "") {
			t.Fatalf("stored %q\nwant %q", got, want)
		}
	})

	rejections := []struct {
		name, event, reason string
	}{
		{"malformed JSON", `{"id":"a",`, "invalid JSON"},
		{"trailing garbage", `{"id":"a"} x`, "invalid JSON"},
		{"an array", `[{"id":"a"}]`, "not a JSON object"},
		{"a string", `"click"`, "not a JSON object"},
		{"a number", `3.5`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"an event over MAX_EVENT_BYTES", `{"pad":"` + strings.Repeat("x", 200) + `"}`, "event is 210 bytes; the limit is 200 bytes (MAX_EVENT_BYTES)"},
		{"a reserved field", `{"id":"a","ingested_at":"2020-01-01T00:00:00Z"}`, "field ingested_at is reserved"},
		{"a reserved field spelled with escapes", `{"id":"a","ingested\u005fat":1}`, "field ingested_at is reserved"},
		{"invalid UTF-8", "{\"id\":\"\xff\"}", "event is not valid UTF-8"},
	}
	for _, tc := range rejections {
		t.Run("rejects "+tc.name+" in a batch and accepts the rest", func(t *testing.T) {
			hs := newHarness(t, map[string]string{"MAX_EVENT_BYTES": "200"}, Options{})
			status, r, _ := hs.post(t, event(1)+"\n"+tc.event+"\n"+event(3))
			if status != 200 || r.Accepted != 2 || len(r.Failed) != 0 || len(r.Rejected) != 1 {
				t.Fatalf("status %d response %+v", status, r)
			}
			if r.Rejected[0].Line != 2 || !strings.Contains(r.Rejected[0].Reason, tc.reason) {
				t.Fatalf("rejected %+v, want line 2 with reason containing %q", r.Rejected, tc.reason)
			}
			if got := hs.stored(); len(got) != 2 || got[1] != stamped(event(3)) {
				t.Fatalf("stored %q", got)
			}
		})
		t.Run("answers 400 for "+tc.name+" alone", func(t *testing.T) {
			hs := newHarness(t, map[string]string{"MAX_EVENT_BYTES": "200"}, Options{})
			status, r, _ := hs.post(t, tc.event)
			if status != 400 || r.Accepted != 0 || len(r.Rejected) != 1 || !strings.Contains(r.Rejected[0].Reason, tc.reason) {
				t.Fatalf("status %d response %+v", status, r)
			}
			if hs.fake.Calls("PutRecords") != 0 {
				t.Fatal("PutRecords called with nothing valid")
			}
		})
	}

	t.Run("the syntax error reason gives the byte offset", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		_, r, _ := hs.post(t, event(1)+"\n"+`{"id": x}`)
		if len(r.Rejected) != 1 || r.Rejected[0].Reason != "invalid JSON at byte 8: invalid character 'x' looking for beginning of value" {
			t.Fatalf("rejected %+v", r.Rejected)
		}
	})

	for _, body := range []string{"", "   ", "\n\r\n\n"} {
		t.Run(fmt.Sprintf("answers 400 for empty body %q", body), func(t *testing.T) {
			hs := newHarness(t, nil, Options{})
			status, r, _ := hs.post(t, body)
			if status != 400 || !strings.Contains(r.Error, "empty body") || r.Rejected == nil || r.Failed == nil {
				t.Fatalf("status %d response %+v", status, r)
			}
		})
	}

	t.Run("answers 413 and stores nothing above the request limits", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		tooMany := batch(MaxBatchEvents + 1)
		tooBig := `{"pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
		for _, body := range []string{tooMany, tooBig} {
			status, r, _ := hs.post(t, body)
			if status != http.StatusRequestEntityTooLarge || r.Error == "" || r.Accepted != 0 {
				t.Fatalf("status %d response %+v", status, r)
			}
		}
		if hs.fake.Calls("PutRecords") != 0 {
			t.Fatal("PutRecords called for an oversize request")
		}
	})

	t.Run("takes 1 MB as 1,000,000 bytes, the ALB's limit under either reading", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		// 1,000 lines of 999 bytes plus newlines: 999,999 bytes.
		line := `{"pad":"` + strings.Repeat("x", 999-len(`{"pad":""}`)) + `"}`
		fits := strings.TrimSuffix(strings.Repeat(line+"\n", MaxBatchEvents), "\n") + " "
		if len(fits) != 1_000_000 {
			t.Fatalf("test body is %d bytes", len(fits))
		}
		if status, r, _ := hs.post(t, fits); status != 200 || r.Accepted != MaxBatchEvents {
			t.Fatalf("1,000,000 bytes: status %d accepted %d", status, r.Accepted)
		}
		status, r, _ := hs.post(t, fits+" ")
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(r.Error, "at most 1,000,000 bytes") {
			t.Fatalf("1,000,001 bytes: status %d error %q, want 413 naming the limit", status, r.Error)
		}
	})

	t.Run("accepts exactly the request limits", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		if status, r, _ := hs.post(t, batch(MaxBatchEvents)); status != 200 || r.Accepted != MaxBatchEvents {
			t.Fatalf("status %d accepted %d", status, r.Accepted)
		}
	})

	t.Run("decodes a base64 body", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		body := base64.StdEncoding.EncodeToString([]byte(event(1) + "\n" + event(2)))
		resp, err := hs.handler.Handle(context.Background(), events.ALBTargetGroupRequest{HTTPMethod: "POST", Path: EventsPath, Body: body, IsBase64Encoded: true})
		if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"accepted":2`) {
			t.Fatalf("response %+v, error %v", resp, err)
		}
		if got := hs.stored(); len(got) != 2 || got[0] != stamped(event(1)) {
			t.Fatalf("stored %q", got)
		}
	})

	t.Run("answers 400 for a body marked base64 that is not", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		resp, _ := hs.handler.Handle(context.Background(), events.ALBTargetGroupRequest{HTTPMethod: "POST", Path: EventsPath, Body: "{not base64}", IsBase64Encoded: true})
		if resp.StatusCode != 400 || !strings.Contains(resp.Body, "base64") {
			t.Fatalf("response %+v", resp)
		}
	})
}

func TestRouting(t *testing.T) {
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", EventsPath, 405, "POST"},
		{"PUT", EventsPath, 405, "POST"},
		{"POST", HealthPath, 405, "GET"},
		{"POST", "/", 404, ""},
		{"POST", "/events/extra", 404, ""},
		{"GET", "/metrics", 404, ""},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %s answers %d", tc.method, tc.path, tc.status), func(t *testing.T) {
			hs := newHarness(t, nil, Options{})
			resp := hs.request(t, tc.method, tc.path, event(1))
			if resp.StatusCode != tc.status || resp.Headers["Allow"] != tc.allow || resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("response %+v", resp)
			}
			if resp.StatusDescription != fmt.Sprintf("%d %s", tc.status, http.StatusText(tc.status)) {
				t.Fatalf("status description %q", resp.StatusDescription)
			}
			if len(hs.stored()) != 0 {
				t.Fatal("stored an event from a refused request")
			}
		})
	}
}

func TestKinesisFailures(t *testing.T) {
	matchID := func(ids ...int) func([]byte) bool {
		return func(data []byte) bool {
			for _, id := range ids {
				if bytes.Contains(data, []byte(fmt.Sprintf(`"id":"%08d-`, id))) {
					return true
				}
			}
			return false
		}
	}

	t.Run("a partial failure retries only the refused entries until they succeed", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		hs.fake.FailEntries(2, "ProvisionedThroughputExceededException", matchID(2, 4))
		status, r, _ := hs.post(t, batch(5))
		if status != 200 || r.Accepted != 5 || len(r.Failed) != 0 {
			t.Fatalf("status %d response %+v", status, r)
		}
		if calls := hs.fake.Calls("PutRecords"); calls != 3 {
			t.Fatalf("PutRecords calls %d, want 3", calls)
		}
		got := hs.stored()
		if len(got) != 5 || got[3] != stamped(event(2)) || got[4] != stamped(event(4)) {
			t.Fatalf("stored %q; want each event once, retried ones last", got)
		}
		// Exponential backoff with equal jitter: round n waits in [50ms·2ⁿ⁻¹/2, 50ms·2ⁿ⁻¹].
		if len(hs.clock.sleeps) != 2 {
			t.Fatalf("slept %v, want 2 waits", hs.clock.sleeps)
		}
		for i, d := range hs.clock.sleeps {
			ceiling := baseDelay << i
			if d < ceiling/2 || d > ceiling {
				t.Fatalf("wait %d was %v, want within [%v, %v]", i+1, d, ceiling/2, ceiling)
			}
		}
	})

	t.Run("a persistent partial failure answers 503 with only those lines failed", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		hs.fake.FailEntries(100, "ProvisionedThroughputExceededException", matchID(2, 5))
		status, r, resp := hs.post(t, batch(3)+"\n\n"+event(5)+"\n[]")
		if status != 503 || resp.Headers["Retry-After"] != "1" {
			t.Fatalf("status %d headers %v", status, resp.Headers)
		}
		wantFailed := []LineError{{2, "ProvisionedThroughputExceededException"}, {5, "ProvisionedThroughputExceededException"}}
		if r.Accepted != 2 || fmt.Sprint(r.Failed) != fmt.Sprint(wantFailed) || len(r.Rejected) != 1 || r.Rejected[0].Line != 6 {
			t.Fatalf("response %+v, want failed %v", r, wantFailed)
		}
		if calls := hs.fake.Calls("PutRecords"); calls != DefaultMaxAttempts {
			t.Fatalf("PutRecords calls %d, want %d", calls, DefaultMaxAttempts)
		}
		if got := hs.stored(); len(got) != 2 || got[0] != stamped(event(1)) || got[1] != stamped(event(3)) {
			t.Fatalf("stored %q: accepted lines must be exactly the ones not failed", got)
		}
	})

	wholeCall := []struct {
		name       string
		status     int
		code       string
		calls      int // PutRecords calls made
		retryAfter string
	}{
		{"server errors are retried, then 503", 500, "InternalFailure", DefaultMaxAttempts, "5"},
		{"throttling is retried, then 503", 400, "ThrottlingException", DefaultMaxAttempts, "1"},
		{"denied access is not retried", 400, "AccessDeniedException", 1, "5"},
	}
	for _, tc := range wholeCall {
		t.Run("whole-call failure: "+tc.name, func(t *testing.T) {
			hs := newHarness(t, nil, Options{})
			hs.fake.FailCalls(100, tc.status, tc.code)
			status, r, resp := hs.post(t, batch(3))
			if status != 503 || resp.Headers["Retry-After"] != tc.retryAfter || r.Accepted != 0 || len(r.Failed) != 3 {
				t.Fatalf("status %d headers %v response %+v", status, resp.Headers, r)
			}
			for i, f := range r.Failed {
				if f.Line != i+1 || f.Reason != tc.code {
					t.Fatalf("failed %+v, want lines 1-3 with reason %s", r.Failed, tc.code)
				}
			}
			if calls := hs.fake.Calls("PutRecords"); calls != tc.calls {
				t.Fatalf("PutRecords calls %d, want %d", calls, tc.calls)
			}
		})
	}

	t.Run("a missing stream answers 503 at once for every line", func(t *testing.T) {
		hs := newHarness(t, map[string]string{"STREAM_NAME": "not-created-yet"}, Options{})
		status, r, resp := hs.post(t, batch(MaxBatchEvents))
		if status != 503 || resp.Headers["Retry-After"] != "5" || len(r.Failed) != MaxBatchEvents || r.Failed[0].Reason != "ResourceNotFoundException" || r.Failed[MaxBatchEvents-1].Reason != "ResourceNotFoundException" {
			t.Fatalf("status %d, %d failed, first %+v", status, len(r.Failed), r.Failed[:1])
		}
		if calls := hs.fake.Calls("PutRecords"); calls != 1 {
			t.Fatalf("PutRecords calls %d, want 1: the second chunk cannot do better", calls)
		}
	})

	t.Run("a throttled call that then succeeds answers 200", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		hs.fake.FailCalls(2, 400, "ProvisionedThroughputExceededException")
		if status, r, _ := hs.post(t, batch(4)); status != 200 || r.Accepted != 4 {
			t.Fatalf("status %d response %+v", status, r)
		}
		if len(hs.stored()) != 4 {
			t.Fatalf("stored %d records", len(hs.stored()))
		}
	})

	t.Run("retries stop within the retry budget however many attempts are allowed", func(t *testing.T) {
		hs := newHarness(t, nil, Options{MaxAttempts: 1000})
		hs.fake.FailCalls(1000, 500, "InternalFailure")
		if status, _, _ := hs.post(t, batch(1)); status != 503 {
			t.Fatalf("status %d", status)
		}
		var waited time.Duration
		for _, d := range hs.clock.sleeps {
			waited += d
			if d > maxDelay {
				t.Fatalf("wait %v above the cap %v", d, maxDelay)
			}
		}
		if waited > RetryBudget || waited < RetryBudget-2*maxDelay {
			t.Fatalf("waited %v in total, want just under %v", waited, RetryBudget)
		}
	})

	t.Run("a retry round resends entries from both chunks", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		hs.fake.FailEntries(1, "InternalFailure", matchID(10, 510, 1000))
		status, r, _ := hs.post(t, batch(MaxBatchEvents))
		if status != 200 || r.Accepted != MaxBatchEvents {
			t.Fatalf("status %d response accepted %d failed %v", status, r.Accepted, r.Failed)
		}
		// Round 1: two chunks of 500; round 2: the three refused entries in one call.
		if calls := hs.fake.Calls("PutRecords"); calls != 3 {
			t.Fatalf("PutRecords calls %d, want 3", calls)
		}
		if n := len(hs.stored()); n != MaxBatchEvents {
			t.Fatalf("stored %d, want %d", n, MaxBatchEvents)
		}
	})
}

func TestRecords(t *testing.T) {
	t.Run("batches above 500 records are split into PutRecords calls of at most 500", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		if status, r, _ := hs.post(t, batch(MaxBatchEvents)); status != 200 || r.Accepted != MaxBatchEvents {
			t.Fatalf("status %d accepted %d", status, r.Accepted)
		}
		if calls := hs.fake.Calls("PutRecords"); calls != 2 {
			t.Fatalf("PutRecords calls %d, want 2", calls)
		}
		got := hs.stored()
		for i, data := range got {
			if data != stamped(event(i+1)) {
				t.Fatalf("record %d is %q", i, data)
			}
		}
	})

	t.Run("partition keys are distinct random 128-bit hex and spread over shards", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		hs.post(t, batch(500))
		hex128 := regexp.MustCompile(`^[0-9a-f]{32}$`)
		keys := map[string]bool{}
		shards := map[string]int{}
		for _, r := range hs.fake.Records(stream) {
			if !hex128.MatchString(r.PartitionKey) || keys[r.PartitionKey] {
				t.Fatalf("partition key %q is not fresh 128-bit hex", r.PartitionKey)
			}
			keys[r.PartitionKey] = true
			shards[r.ShardID]++
		}
		if len(keys) != 500 || len(shards) != 4 {
			t.Fatalf("%d keys over shards %v, want 500 over all 4", len(keys), shards)
		}
		for shard, n := range shards {
			if n < 60 { // expected 125 each; 60 is far outside chance
				t.Fatalf("shard %s got %d of 500 records: keys are not spread", shard, n)
			}
		}
	})

	t.Run("calls stay within 5 MiB", func(t *testing.T) {
		rec := func(size int) record { return record{data: make([]byte, size), partitionKey: strings.Repeat("k", 32)} }
		cases := []struct {
			name   string
			sizes  []int
			chunks []int
		}{
			{"small records: 500 per call", repeatInt(1200, 10), []int{500, 500, 200}},
			{"large records: under 5 MiB per call", repeatInt(12, 999_000), []int{5, 5, 2}},
			{"one record always fits", []int{1}, []int{1}},
		}
		for _, tc := range cases {
			records := make([]record, len(tc.sizes))
			for i, n := range tc.sizes {
				records[i] = rec(n)
			}
			var got []int
			for start := 0; start < len(records); {
				end := chunkEnd(records, start)
				got = append(got, end-start)
				start = end
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.chunks) {
				t.Errorf("%s: chunks %v, want %v", tc.name, got, tc.chunks)
			}
		}
	})
}

func repeatInt(n, v int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestHealth(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		status   string // stream status in the fake; "" means the stream does not exist
		delivery string // delivery stream status in the fake; "" means it does not exist
		want     int
		reasons  []string
	}{
		{"ACTIVE stream and delivery stream are healthy", nil, kinesisfake.StatusActive, awsfake.DeliveryStreamActive, 200, nil},
		{"UPDATING stream is healthy", nil, kinesisfake.StatusUpdating, awsfake.DeliveryStreamActive, 200, nil},
		{"CREATING stream is unhealthy", nil, kinesisfake.StatusCreating, awsfake.DeliveryStreamActive, 503, []string{"stream dr-analytics-events is CREATING"}},
		{"DELETING stream is unhealthy", nil, kinesisfake.StatusDeleting, awsfake.DeliveryStreamActive, 503, []string{"is DELETING"}},
		{"missing stream is unhealthy", nil, "", awsfake.DeliveryStreamActive, 503, []string{"ResourceNotFoundException"}},
		{"CREATING delivery stream is unhealthy", nil, kinesisfake.StatusActive, awsfake.DeliveryStreamCreating, 503,
			[]string{"delivery stream dr-analytics-events-to-s3 is CREATING, not ACTIVE"}},
		{"CREATING_FAILED delivery stream is unhealthy", nil, kinesisfake.StatusActive, awsfake.DeliveryStreamCreatingFailed, 503, []string{"is CREATING_FAILED"}},
		{"DELETING delivery stream is unhealthy", nil, kinesisfake.StatusActive, awsfake.DeliveryStreamDeleting, 503, []string{"is DELETING, not ACTIVE"}},
		{"missing delivery stream is unhealthy", nil, kinesisfake.StatusActive, "", 503,
			[]string{"describe delivery stream dr-analytics-events-to-s3: ResourceNotFoundException"}},
		{"both not ready names both", nil, kinesisfake.StatusCreating, awsfake.DeliveryStreamCreating, 503,
			[]string{"stream dr-analytics-events is CREATING", "; delivery stream dr-analytics-events-to-s3 is CREATING"}},
		{"unset STREAM_NAME is unhealthy", map[string]string{"STREAM_NAME": ""}, kinesisfake.StatusActive, awsfake.DeliveryStreamActive, 503, []string{"STREAM_NAME is not set"}},
		{"unset DELIVERY_STREAM_NAME is unhealthy", map[string]string{"DELIVERY_STREAM_NAME": " "}, kinesisfake.StatusActive, awsfake.DeliveryStreamActive, 503,
			[]string{"DELIVERY_STREAM_NAME is not set"}},
		{"bad MAX_EVENT_BYTES is unhealthy", map[string]string{"MAX_EVENT_BYTES": "64k"}, kinesisfake.StatusActive, awsfake.DeliveryStreamActive, 503, []string{`MAX_EVENT_BYTES is "64k"`}},
		{"MAX_EVENT_BYTES above the ceiling is unhealthy", map[string]string{"MAX_EVENT_BYTES": "2000000"}, kinesisfake.StatusActive, awsfake.DeliveryStreamActive, 503, []string{"MAX_EVENT_BYTES is 2000000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, tc.env, Options{})
			hs.fake.SetStreamStatus(stream, tc.status)
			hs.firehose.SetStatus(deliveryStream, tc.delivery)
			resp := hs.request(t, http.MethodGet, HealthPath, "")
			var body map[string]string
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d body %v, want %d", resp.StatusCode, body, tc.want)
			}
			for _, reason := range tc.reasons {
				if !strings.Contains(body["reason"], reason) {
					t.Errorf("reason %q does not contain %q", body["reason"], reason)
				}
			}
			if tc.want == 200 && (body["reason"] != "" || body["deliveryStreamStatus"] != "ACTIVE" || body["streamStatus"] != tc.status) {
				t.Errorf("healthy body %v", body)
			}
		})
	}

	t.Run("events are still accepted while only DELIVERY_STREAM_NAME is unset", func(t *testing.T) {
		hs := newHarness(t, map[string]string{"DELIVERY_STREAM_NAME": ""}, Options{})
		if status, r, _ := hs.post(t, event(1)); status != 200 || r.Accepted != 1 {
			t.Fatalf("status %d response %+v", status, r)
		}
	})

	t.Run("a delivery stream check that hangs answers 503 within the call timeout", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		hs.firehose.Hang()
		resp := hs.request(t, http.MethodGet, HealthPath, "")
		if resp.StatusCode != 503 || !strings.Contains(resp.Body, "FirehoseTimeout") {
			t.Fatalf("response %+v", resp)
		}
	})

	t.Run("a nil Firehose client makes /health unhealthy, not a panic", func(t *testing.T) {
		h := New(Config{StreamName: stream, DeliveryStreamName: deliveryStream, MaxEventBytes: DefaultMaxEventBytes}, memoryKinesis{},
			Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		resp, err := h.Handle(context.Background(), events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: HealthPath})
		if err != nil || resp.StatusCode != 503 || !strings.Contains(resp.Body, "no Firehose client") {
			t.Fatalf("response %+v error %v", resp, err)
		}
	})

	t.Run("the stream check is cached for 30 seconds", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		get := func() int { return hs.request(t, http.MethodGet, HealthPath, "").StatusCode }
		if get() != 200 {
			t.Fatal("healthy stream reported unhealthy")
		}
		hs.fake.SetStreamStatus(stream, "")
		hs.clock.Advance(29 * time.Second)
		if get() != 200 || hs.fake.Calls("DescribeStreamSummary") != 1 || len(hs.firehose.CallsTo("DescribeDeliveryStream")) != 1 {
			t.Fatalf("within 30 s: %d DescribeStreamSummary and %d DescribeDeliveryStream calls, want 1 each (cached)",
				hs.fake.Calls("DescribeStreamSummary"), len(hs.firehose.CallsTo("DescribeDeliveryStream")))
		}
		hs.clock.Advance(time.Second)
		if get() != 503 || hs.fake.Calls("DescribeStreamSummary") != 2 {
			t.Fatal("after 30 s the stream was not checked again")
		}
		hs.fake.SetStreamStatus(stream, kinesisfake.StatusActive)
		if get() != 503 {
			t.Fatal("an unhealthy answer is cached too")
		}
		hs.clock.Advance(30 * time.Second)
		if get() != 200 {
			t.Fatal("the stream appearing did not make the function healthy")
		}
	})
}

func TestMisconfigured(t *testing.T) {
	t.Run("events are reported failed, never dropped, when STREAM_NAME is unset", func(t *testing.T) {
		hs := newHarness(t, map[string]string{"STREAM_NAME": ""}, Options{})
		status, r, resp := hs.post(t, batch(2)+"\n7")
		if status != 503 || resp.Headers["Retry-After"] == "" || r.Accepted != 0 || len(r.Failed) != 2 || len(r.Rejected) != 1 {
			t.Fatalf("status %d response %+v", status, r)
		}
		if !strings.Contains(r.Failed[0].Reason, "STREAM_NAME is not set") {
			t.Fatalf("reason %q", r.Failed[0].Reason)
		}
	})

	t.Run("a nil client makes the handler unhealthy, not a panic", func(t *testing.T) {
		h := New(Config{StreamName: stream, MaxEventBytes: DefaultMaxEventBytes}, nil, Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		resp, err := h.Handle(context.Background(), events.ALBTargetGroupRequest{HTTPMethod: "GET", Path: HealthPath})
		if err != nil || resp.StatusCode != 503 || !strings.Contains(resp.Body, "no Kinesis client") {
			t.Fatalf("response %+v error %v", resp, err)
		}
	})
}

func TestRequestLog(t *testing.T) {
	t.Run("one JSON line per request with counts and duration, without event bodies", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		hs.fake.FailEntries(100, "ProvisionedThroughputExceededException", func(d []byte) bool { return bytes.Contains(d, []byte("secret-2")) })
		hs.post(t, `{"s":"secret-1"}`+"\n"+`{"s":"secret-2"}`+"\n"+`{"s":"secret-3"`)
		hs.request(t, http.MethodGet, "/nowhere", "")
		lines := strings.Split(strings.TrimSpace(hs.logs.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("log lines %q, want 2", lines)
		}
		if strings.Contains(hs.logs.String(), "secret") {
			t.Fatalf("log contains event data: %s", hs.logs.String())
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"msg": "request", "failed_reason": "ProvisionedThroughputExceededException", "status": 503.0, "events": 3.0, "accepted": 1.0, "rejected": 1.0, "failed": 1.0, "attempts": float64(DefaultMaxAttempts)}
		for k, v := range want {
			if entry[k] != v {
				t.Errorf("log %s = %v, want %v", k, entry[k], v)
			}
		}
		if _, ok := entry["duration_ms"].(float64); !ok {
			t.Errorf("log has no duration_ms: %v", entry)
		}
	})
}

func TestServeHTTP(t *testing.T) {
	t.Run("serves the same API over net/http", func(t *testing.T) {
		hs := newHarness(t, nil, Options{})
		srv := httptest.NewServer(hs.handler)
		defer srv.Close()
		resp, err := http.Post(srv.URL+EventsPath, "application/x-ndjson", strings.NewReader(batch(2)+"\n[]"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r Response
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || r.Accepted != 2 || len(r.Rejected) != 1 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("status %d response %+v", resp.StatusCode, r)
		}
		if got := hs.stored(); len(got) != 2 || got[0] != stamped(event(1)) {
			t.Fatalf("stored %q", got)
		}
	})
}

// memoryKinesis accepts every record without leaving the process, so the
// benchmark can separate ingest's own cost from the loopback round trip.
type memoryKinesis struct{}

func (memoryKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0), Records: make([]kinesistypes.PutRecordsResultEntry, len(in.Records))}
	for i := range out.Records {
		out.Records[i] = kinesistypes.PutRecordsResultEntry{SequenceNumber: aws.String("1"), ShardId: aws.String("shardId-000000000000")}
	}
	return out, nil
}

func (memoryKinesis) DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &kinesistypes.StreamDescriptionSummary{StreamStatus: kinesistypes.StreamStatusActive}}, nil
}

// BenchmarkHandleBatch500 measures one invocation carrying a 500-event batch
// (the ALB's base64 body included), reported as events per second.
func BenchmarkHandleBatch500(b *testing.B) {
	body := base64.StdEncoding.EncodeToString([]byte(batch(500)))
	req := events.ALBTargetGroupRequest{HTTPMethod: http.MethodPost, Path: EventsPath, Body: body, IsBase64Encoded: true}
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg := Config{StreamName: stream, MaxEventBytes: DefaultMaxEventBytes}

	run := func(b *testing.B, h *Handler) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			resp, _ := h.Handle(context.Background(), req)
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
		}
		b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("kinesisfake-loopback", func(b *testing.B) {
		fake := kinesisfake.Start(stream)
		defer fake.Close()
		run(b, New(cfg, newKinesisClient(fake.URL()), Options{Logger: quiet}))
	})
	b.Run("in-memory", func(b *testing.B) {
		run(b, New(cfg, memoryKinesis{}, Options{Logger: quiet}))
	})
}
