package producer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/dr-analytics/drplan/internal/ingest"
	"github.com/dr-analytics/drplan/internal/kinesisfake"
)

const stream = "dr-analytics-events"

var start = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// fakeClock jumps to the time the scheduler waits for.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(_ context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	return nil
}

// sleepRecorder stands in for the waits before resends.
type sleepRecorder struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (s *sleepRecorder) Sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sleeps = append(s.sleeps, d)
	return nil
}

func (s *sleepRecorder) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sleeps)
}

// ingestServer is the real ingest handler over HTTP, writing to kinesisfake,
// with one PutRecords round per request so injected faults surface as 503s.
type ingestServer struct {
	*httptest.Server
	fake *kinesisfake.Server

	mu     sync.Mutex
	bodies []string
	// before may answer a request itself (return true) instead of ingest.
	before func(w http.ResponseWriter, r *http.Request, n int) bool
}

func startIngest(t *testing.T, env map[string]string) *ingestServer {
	t.Helper()
	fake := kinesisfake.Start(stream)
	t.Cleanup(fake.Close)
	vars := map[string]string{"STREAM_NAME": stream}
	for k, v := range env {
		vars[k] = v
	}
	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(fake.URL()),
	}, ingest.KinesisClientOptions)
	handler := ingest.NewFromEnv(func(k string) string { return vars[k] }, client, ingest.Options{
		Logger:      slog.New(slog.NewJSONHandler(io.Discard, nil)),
		MaxAttempts: 1,
	})
	s := &ingestServer{fake: fake}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(body))
		n := len(s.bodies)
		before := s.before
		s.mu.Unlock()
		if before != nil && before(w, r, n) {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *ingestServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bodies)
}

func (s *ingestServer) stored() []map[string]any {
	var out []map[string]any
	for _, r := range s.fake.Records(stream) {
		var m map[string]any
		_ = json.Unmarshal(r.Data, &m)
		out = append(out, m)
	}
	return out
}

func testEnv(clock *fakeClock, sleeps *sleepRecorder) Env {
	return Env{Clock: clock, Sleep: sleeps.Sleep, Rand: rand.New(rand.NewPCG(1, 2)), Stderr: io.Discard}
}

func numbered(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"id":"e%d","type":"click","source":"sensor-1","value":%d,"event_time":"2026-11-25T10:00:00Z"}`+"\n", i, i)
	}
	return b.String()
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func config(endpoint string) Config {
	return Config{Endpoint: endpoint, Rate: 1000, Batch: 10, MaxRetries: 5, Concurrency: 2, Timeout: 10 * time.Second}
}

func TestRate(t *testing.T) {
	cases := []struct {
		name        string
		rate        float64
		batch       int
		concurrency int
		duration    time.Duration
		events      int
		requests    int
	}{
		{"50 events/s in batches of 5 for 2s, one at a time", 50, 5, 1, 2 * time.Second, 100, 20},
		{"50 events/s in batches of 5 for 2s, four in flight", 50, 5, 4, 2 * time.Second, 100, 20},
		{"2.5 events/s one per request for 2s", 2.5, 1, 2, 2 * time.Second, 5, 5},
		{"last batch cut by the duration", 100, 30, 2, time.Second, 100, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startIngest(t, nil)
			clock := &fakeClock{now: start}
			cfg := config(srv.URL)
			cfg.Rate, cfg.Batch, cfg.Concurrency, cfg.Duration = tc.rate, tc.batch, tc.concurrency, tc.duration
			summary, err := Run(context.Background(), cfg, testEnv(clock, &sleepRecorder{}))
			if err != nil {
				t.Fatal(err)
			}
			if summary.Sent != tc.events || summary.Accepted != tc.events || summary.Requests != tc.requests || len(srv.requests()) != tc.requests {
				t.Fatalf("summary %+v, server saw %d requests; want %d events in %d requests", summary, len(srv.requests()), tc.events, tc.requests)
			}
			// Synthetic events are stamped when their batch leaves, so
			// event_time shows the pacing on the fake clock: event k leaves at
			// the due time of the last event of its batch, k/rate.
			stored := srv.stored()
			times := make([]string, 0, len(stored))
			for _, e := range stored {
				times = append(times, e["event_time"].(string))
			}
			slices.Sort(times)
			for k, got := range times {
				last := min((k/tc.batch+1)*tc.batch, tc.events) - 1
				want := start.Add(time.Duration(float64(last) * float64(time.Second) / tc.rate)).Format("2006-01-02T15:04:05.000Z")
				if got != want {
					t.Fatalf("event %d left at %s, want %s", k, got, want)
				}
			}
			if summary.Elapsed != tc.duration {
				t.Fatalf("run took %v, want its %v time limit", summary.Elapsed, tc.duration)
			}
		})
	}
}

func TestSyntheticEvents(t *testing.T) {
	t.Run("follow the event schema with types from a small set", func(t *testing.T) {
		src := &syntheticSource{rand: rand.New(rand.NewPCG(3, 4)), now: func() time.Time { return start }}
		types := map[string]bool{}
		for range 200 {
			data, _, ok, err := src.next()
			if !ok || err != nil {
				t.Fatal("synthetic source ended")
			}
			var e struct {
				ID, Type, Source, EventTime string `json:"-"`
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("%s: %v", data, err)
			}
			e.ID, _ = m["id"].(string)
			e.Type, _ = m["type"].(string)
			e.Source, _ = m["source"].(string)
			e.EventTime, _ = m["event_time"].(string)
			_, isNumber := m["value"].(float64)
			if len(m) != 5 || len(e.ID) != 36 || e.ID[14] != '4' || !strings.HasPrefix(e.Source, "sensor-") || !isNumber || e.EventTime != "2026-11-25T10:00:00.000Z" {
				t.Fatalf("event %s does not follow the schema", data)
			}
			if !slices.Contains(eventTypes, e.Type) {
				t.Fatalf("type %q not in %v", e.Type, eventTypes)
			}
			types[e.Type] = true
		}
		if len(types) != len(eventTypes) {
			t.Fatalf("200 events used types %v, want all of %v", types, eventTypes)
		}
	})
}

func TestRetries(t *testing.T) {
	failIDs := func(ids ...string) func([]byte) bool {
		return func(data []byte) bool {
			for _, id := range ids {
				if bytes.Contains(data, []byte(`"id":"`+id+`"`)) {
					return true
				}
			}
			return false
		}
	}

	t.Run("a 503 resends exactly the failed lines after Retry-After", func(t *testing.T) {
		srv := startIngest(t, nil)
		srv.fake.FailEntries(1, "ProvisionedThroughputExceededException", failIDs("e2", "e5"))
		sleeps := &sleepRecorder{}
		cfg := config(srv.URL)
		cfg.File = writeFile(t, numbered(6))
		summary, err := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, sleeps))
		if err != nil {
			t.Fatal(err)
		}
		if summary.Sent != 6 || summary.Accepted != 6 || summary.Retried != 2 || summary.Failed != 0 || summary.Requests != 2 {
			t.Fatalf("summary %+v", summary)
		}
		reqs := srv.requests()
		if len(reqs) != 2 || reqs[0] != strings.TrimSuffix(numbered(6), "\n") {
			t.Fatalf("requests %q", reqs)
		}
		want := strings.Split(numbered(6), "\n")
		if reqs[1] != want[1]+"\n"+want[4] {
			t.Fatalf("resend %q, want only e2 and e5", reqs[1])
		}
		if got := sleeps.all(); !slices.Equal(got, []time.Duration{time.Second}) {
			t.Fatalf("waited %v, want the Retry-After of 1s", got)
		}
		if n := len(srv.stored()); n != 6 {
			t.Fatalf("stream holds %d events, want each of 6 once", n)
		}
	})

	t.Run("lines still failing after -max-retries are counted failed", func(t *testing.T) {
		srv := startIngest(t, nil)
		srv.fake.FailEntries(100, "ProvisionedThroughputExceededException", failIDs("e3"))
		sleeps := &sleepRecorder{}
		cfg := config(srv.URL)
		cfg.File, cfg.MaxRetries = writeFile(t, numbered(4)), 2
		summary, _ := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, sleeps))
		if summary.Sent != 4 || summary.Accepted != 3 || summary.Failed != 1 || summary.Retried != 2 || summary.Requests != 3 {
			t.Fatalf("summary %+v", summary)
		}
		if summary.Reasons["ProvisionedThroughputExceededException"] != 1 || len(summary.Problems) != 1 || summary.Problems[0] != (Problem{Input: 3, Outcome: "failed", Reason: "ProvisionedThroughputExceededException"}) {
			t.Fatalf("reasons %v problems %+v", summary.Reasons, summary.Problems)
		}
		if len(sleeps.all()) != 2 {
			t.Fatalf("waited %v, want 2 waits", sleeps.all())
		}
	})

	t.Run("a 503 without a line list resends the whole batch with backoff", func(t *testing.T) {
		srv := startIngest(t, nil)
		srv.before = func(w http.ResponseWriter, _ *http.Request, n int) bool {
			if n > 1 {
				return false
			}
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable) // the ALB with no healthy target
			io.WriteString(w, "<html>503 Service Temporarily Unavailable</html>")
			return true
		}
		sleeps := &sleepRecorder{}
		cfg := config(srv.URL)
		cfg.File = writeFile(t, numbered(3))
		summary, _ := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, sleeps))
		if summary.Accepted != 3 || summary.Retried != 3 || summary.Failed != 0 || summary.Requests != 2 {
			t.Fatalf("summary %+v", summary)
		}
		if got := sleeps.all(); len(got) != 1 || got[0] < baseRetryDelay/2 || got[0] > baseRetryDelay {
			t.Fatalf("waited %v, want one backoff within [%v, %v]", got, baseRetryDelay/2, baseRetryDelay)
		}
	})

	t.Run("a 404 fails the batch without resending", func(t *testing.T) {
		srv := startIngest(t, nil)
		srv.before = func(w http.ResponseWriter, _ *http.Request, _ int) bool {
			http.NotFound(w, nil)
			return true
		}
		cfg := config(srv.URL)
		cfg.File = writeFile(t, numbered(3))
		summary, _ := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, &sleepRecorder{}))
		if summary.Failed != 3 || summary.Retried != 0 || summary.Requests != 1 || summary.Reasons["HTTP 404 Not Found"] != 3 {
			t.Fatalf("summary %+v", summary)
		}
	})

	t.Run("an unreachable endpoint fails after three connection attempts in a row", func(t *testing.T) {
		srv := startIngest(t, nil)
		srv.Close()
		cfg := config(srv.URL)
		cfg.File, cfg.MaxRetries = writeFile(t, numbered(2)), 5
		summary, _ := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, &sleepRecorder{}))
		if summary.Failed != 2 || summary.Retried != 4 || summary.Requests != maxDialFailures || summary.Accepted != 0 || summary.Unreachable == "" {
			t.Fatalf("summary %+v", summary)
		}
	})
}

func TestRetryDelay(t *testing.T) {
	clock := &fakeClock{now: start}
	r := &run{env: Env{Clock: clock}}
	cases := []struct {
		header   string
		attempt  int
		min, max time.Duration
	}{
		{"7", 0, 7 * time.Second, 7 * time.Second},
		{"0", 3, 0, 0},
		{start.Add(90 * time.Second).Format(http.TimeFormat), 0, 90 * time.Second, 90 * time.Second},
		{start.Add(-time.Hour).Format(http.TimeFormat), 0, 0, 0},
		{"86400", 0, maxRetryAfter, maxRetryAfter},
		{"", 0, 250 * time.Millisecond, 500 * time.Millisecond},
		{"soon", 2, time.Second, 2 * time.Second},
		{"", 20, maxRetryDelay / 2, maxRetryDelay},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		if got := r.retryDelay(h, tc.attempt); got < tc.min || got > tc.max {
			t.Errorf("Retry-After %q attempt %d: delay %v, want within [%v, %v]", tc.header, tc.attempt, got, tc.min, tc.max)
		}
	}
}

func TestInput(t *testing.T) {
	content := numbered(2) + "\r\n   \n" + "[1,2]\r\n" + strings.Split(numbered(3), "\n")[2] // no final newline
	check := func(t *testing.T, summary Summary, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if summary.Sent != 4 || summary.Accepted != 3 || summary.Rejected != 1 || summary.Failed != 0 {
			t.Fatalf("summary %+v", summary)
		}
		if len(summary.Problems) != 1 || summary.Problems[0] != (Problem{Input: 5, Outcome: "rejected", Reason: "not a JSON object"}) {
			t.Fatalf("problems %+v: want input line 5 rejected", summary.Problems)
		}
	}

	t.Run("a file is sent line by line until it ends, blank lines skipped", func(t *testing.T) {
		srv := startIngest(t, nil)
		cfg := config(srv.URL)
		cfg.File = writeFile(t, content)
		summary, err := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, &sleepRecorder{}))
		check(t, summary, err)
		if got := srv.stored(); len(got) != 3 || got[2]["id"] != "e3" {
			t.Fatalf("stored %v", got)
		}
	})

	t.Run("stdin is read with -file -", func(t *testing.T) {
		srv := startIngest(t, nil)
		cfg := config(srv.URL)
		cfg.File = "-"
		env := testEnv(&fakeClock{now: start}, &sleepRecorder{})
		env.Stdin = strings.NewReader(content)
		summary, err := Run(context.Background(), cfg, env)
		check(t, summary, err)
	})

	t.Run("-duration stops a long file early", func(t *testing.T) {
		srv := startIngest(t, nil)
		cfg := config(srv.URL)
		cfg.File, cfg.Rate, cfg.Batch, cfg.Duration = writeFile(t, numbered(50)), 10, 1, time.Second
		summary, err := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, &sleepRecorder{}))
		if err != nil || summary.Sent != 10 || summary.Accepted != 10 {
			t.Fatalf("summary %+v error %v", summary, err)
		}
	})

	t.Run("batches are cut to stay under the 1 MiB body limit", func(t *testing.T) {
		srv := startIngest(t, map[string]string{"MAX_EVENT_BYTES": "500000"})
		line := `{"pad":"` + strings.Repeat("x", 400_000) + `"}` + "\n"
		cfg := config(srv.URL)
		cfg.File, cfg.Concurrency = writeFile(t, line+line+line), 1
		summary, err := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, &sleepRecorder{}))
		if err != nil || summary.Accepted != 3 || summary.Requests != 2 {
			t.Fatalf("summary %+v error %v", summary, err)
		}
	})

	t.Run("a missing file is an error naming -file", func(t *testing.T) {
		cfg := config("http://127.0.0.1:1")
		cfg.File = filepath.Join(t.TempDir(), "missing.ndjson")
		if _, err := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, &sleepRecorder{})); err == nil || !strings.HasPrefix(err.Error(), "-file: ") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestParseFlags(t *testing.T) {
	ok := []struct {
		args []string
		want Config
	}{
		{[]string{"-endpoint", "http://localhost:8080"}, Config{Endpoint: "http://localhost:8080", Rate: 100, Duration: 10 * time.Second, Batch: 10, MaxRetries: 5, Concurrency: 4, Timeout: 30 * time.Second}},
		{[]string{"-endpoint", "https://ingest.example.com/", "-file", "-", "-rate", "2.5", "-batch", "1000", "-max-retries", "0", "-json", "-progress"},
			Config{Endpoint: "https://ingest.example.com/", Rate: 2.5, Batch: 1000, File: "-", MaxRetries: 0, Concurrency: 4, Timeout: 30 * time.Second, JSON: true, Progress: true}},
		{[]string{"-endpoint", "http://h", "-file", "x", "-duration", "1m"}, Config{Endpoint: "http://h", Rate: 100, Duration: time.Minute, Batch: 10, File: "x", MaxRetries: 5, Concurrency: 4, Timeout: 30 * time.Second}},
	}
	for _, tc := range ok {
		got, err := ParseFlags(tc.args, io.Discard)
		if err != nil || got != tc.want {
			t.Errorf("%v: got %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}

	bad := []struct {
		args []string
		want string
	}{
		{nil, "-endpoint is required"},
		{[]string{"-endpoint", "localhost:8080"}, "-endpoint must be http://host[:port]"},
		{[]string{"-endpoint", "http://h/events"}, "-endpoint must be http://host[:port] or https://host[:port] with no path"},
		{[]string{"-endpoint", "http://h", "-rate", "0"}, "-rate must be > 0"},
		{[]string{"-endpoint", "http://h", "-rate", "-5"}, "-rate must be > 0"},
		{[]string{"-endpoint", "http://h", "-rate", "NaN"}, "-rate must be > 0"},
		{[]string{"-endpoint", "http://h", "-rate", "fast"}, `invalid value "fast" for flag -rate`},
		{[]string{"-endpoint", "http://h", "-batch", "0"}, "-batch must be from 1 to 1000"},
		{[]string{"-endpoint", "http://h", "-batch", "1001"}, "-batch must be from 1 to 1000"},
		{[]string{"-endpoint", "http://h", "-duration", "-1s"}, "-duration must be >= 0"},
		{[]string{"-endpoint", "http://h", "-duration", "0s"}, "-duration must be > 0 for synthetic events"},
		{[]string{"-endpoint", "http://h", "-max-retries", "-1"}, "-max-retries must be from 0 to 100"},
		{[]string{"-endpoint", "http://h", "-concurrency", "0"}, "-concurrency must be from 1 to 256"},
		{[]string{"-endpoint", "http://h", "-timeout", "0s"}, "-timeout must be > 0"},
		{[]string{"-endpoint", "http://h", "-speed", "3"}, "flag provided but not defined: -speed"},
		{[]string{"-endpoint", "http://h", "events.ndjson"}, `unexpected argument "events.ndjson"`},
	}
	for _, tc := range bad {
		_, err := ParseFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestLatency(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // reversed: percentiles must sort
	}
	cases := []struct {
		samples []time.Duration
		want    Latency
	}{
		{nil, Latency{}},
		{ms(7), Latency{7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond}},
		{ms(hundred...), Latency{50 * time.Millisecond, 90 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond}},
		{ms(1, 2, 3, 4, 1000), Latency{3 * time.Millisecond, 1000 * time.Millisecond, 1000 * time.Millisecond, 1000 * time.Millisecond}},
	}
	for _, tc := range cases {
		if got := latencyOf(tc.samples); got != tc.want {
			t.Errorf("latency of %v = %+v, want %+v", tc.samples, got, tc.want)
		}
	}
}

func TestCommand(t *testing.T) {
	run := func(t *testing.T, args []string, stdin string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := Main(nil, args, strings.NewReader(stdin), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	t.Run("exit 0 and a text summary when everything is accepted", func(t *testing.T) {
		srv := startIngest(t, nil)
		code, out, _ := run(t, []string{"-endpoint", srv.URL, "-file", "-", "-rate", "100000"}, numbered(3))
		if code != ExitOK || !strings.Contains(out, "sent      3 events in 1 requests") || !strings.Contains(out, "accepted  3\n") || !strings.Contains(out, "latency   p50 ") {
			t.Fatalf("exit %d, summary:\n%s", code, out)
		}
	})

	t.Run("exit 1 and a JSON summary when an event is rejected", func(t *testing.T) {
		srv := startIngest(t, nil)
		code, out, _ := run(t, []string{"-endpoint", srv.URL, "-file", "-", "-rate", "100000", "-json"}, numbered(2)+"oops\n")
		var s struct {
			Sent, Accepted, Rejected, Retried, Failed, Requests int
			LatencyMS                                           map[string]float64 `json:"latency_ms"`
			Problems                                            []Problem
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("summary is not JSON: %v\n%s", err, out)
		}
		if code != ExitNotAllSent || s.Sent != 3 || s.Accepted != 2 || s.Rejected != 1 || s.Requests != 1 || len(s.LatencyMS) != 4 || s.Problems[0].Input != 3 {
			t.Fatalf("exit %d, summary %+v", code, s)
		}
	})

	t.Run("exit 2 with the flag named for a bad flag", func(t *testing.T) {
		code, out, errOut := run(t, []string{"-endpoint", "http://h", "-rate", "0"}, "")
		if code != ExitUsage || out != "" || !strings.Contains(errOut, "producer: -rate must be > 0") {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
	})

	t.Run("a usage error is one line on stderr, printed once", func(t *testing.T) {
		code, out, errOut := run(t, []string{"-endpoint", "http://h", "-rat", "5"}, "")
		if code != ExitUsage || out != "" || errOut != "producer: flag provided but not defined: -rat (see producer -h)\n" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
	})

	t.Run("-h prints the usage on stdout and exits 0", func(t *testing.T) {
		code, out, errOut := run(t, []string{"-h"}, "")
		if code != ExitOK || errOut != "" || !strings.Contains(out, "Usage: producer -endpoint") || !strings.Contains(out, "-duration") {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
	})

	t.Run("-version prints the version on stdout", func(t *testing.T) {
		code, out, _ := run(t, []string{"-version"}, "")
		if code != ExitOK || !strings.HasPrefix(out, "producer ") || !strings.Contains(out, "go1.") {
			t.Fatalf("exit %d stdout %q", code, out)
		}
	})

	t.Run("-progress draws the progress line on stderr", func(t *testing.T) {
		srv := startIngest(t, nil)
		_, _, errOut := run(t, []string{"-endpoint", srv.URL, "-file", "-", "-rate", "100000", "-progress"}, numbered(3))
		if !strings.Contains(errOut, "\r\x1b[Ksent 3  accepted 3  rejected 0  failed 0  retried 0") || !strings.HasSuffix(errOut, "\n") {
			t.Fatalf("stderr %q", errOut)
		}
	})

	t.Run("no progress line when stderr is not a terminal", func(t *testing.T) {
		srv := startIngest(t, nil)
		_, _, errOut := run(t, []string{"-endpoint", srv.URL, "-file", "-", "-rate", "100000"}, numbered(3))
		if errOut != "" {
			t.Fatalf("stderr %q", errOut)
		}
	})
}

// heldServer answers 200 with ingest's JSON for every event, but only
// once release is closed; it reports each request's arrival on arrived.
func heldServer(t *testing.T) (srv *httptest.Server, arrived chan struct{}, release chan struct{}) {
	t.Helper()
	arrived, release = make(chan struct{}, 100), make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		n := strings.Count(strings.TrimSpace(string(body)), "\n") + 1
		fmt.Fprintf(w, `{"accepted":%d,"rejected":[],"failed":[]}`, n)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return srv, arrived, release
}

// lockedBuffer is a stderr that tells when a line containing "interrupted"
// was written, so a test acts after Main has seen the interrupt.
type lockedBuffer struct {
	mu          sync.Mutex
	buf         bytes.Buffer
	interrupted chan struct{}
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bytes.Contains(p, []byte("interrupted")) {
		close(b.interrupted)
	}
	return b.buf.Write(p)
}

func TestInterrupt(t *testing.T) {
	cases := []struct {
		name       string
		interrupts int
		want       struct{ Sent, Accepted, Failed, Unknown int }
	}{
		{"the first stops sending and keeps the answers in flight", 1, struct{ Sent, Accepted, Failed, Unknown int }{2, 2, 0, 0}},
		{"the second abandons them as unknown, not failed", 2, struct{ Sent, Accepted, Failed, Unknown int }{2, 0, 0, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, arrived, release := heldServer(t)
			interrupts := make(chan os.Signal, 2)
			done := make(chan int)
			var stdout bytes.Buffer
			stderr := &lockedBuffer{interrupted: make(chan struct{})}
			args := []string{"-endpoint", srv.URL, "-file", "-", "-rate", "100000", "-batch", "2", "-concurrency", "1", "-json"}
			go func() { done <- Main(interrupts, args, strings.NewReader(numbered(10)), &stdout, stderr) }()
			<-arrived // the first batch is in flight
			interrupts <- os.Interrupt
			<-stderr.interrupted
			if tc.interrupts == 2 {
				interrupts <- os.Interrupt
			} else {
				close(release)
			}
			code := <-done
			var got struct{ Sent, Accepted, Failed, Unknown int }
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("summary is not JSON: %v\n%s", err, stdout.String())
			}
			if code != ExitInterrupted || got != tc.want {
				t.Fatalf("exit %d, summary %+v; want %d and %+v", code, got, ExitInterrupted, tc.want)
			}
		})
	}
}

func TestDurationIsATimeLimit(t *testing.T) {
	t.Run("a slow rate is not reported as a fast one", func(t *testing.T) {
		srv := startIngest(t, nil)
		clock := &fakeClock{now: start}
		cfg := config(srv.URL)
		cfg.Rate, cfg.Duration, cfg.Batch = 0.5, time.Second, 1
		summary, err := Run(context.Background(), cfg, testEnv(clock, &sleepRecorder{}))
		if err != nil {
			t.Fatal(err)
		}
		if summary.Sent != 1 || summary.Elapsed != time.Second || summary.EventsPerSecond() != 1 || summary.Stop != "" {
			t.Fatalf("sent %d in %v at %.1f events/s, stop %q; want 1 event in 1s, 1.0 events/s, a normal end", summary.Sent, summary.Elapsed, summary.EventsPerSecond(), summary.Stop)
		}
	})
	t.Run("input left when the limit passes is reported from its line on", func(t *testing.T) {
		srv := startIngest(t, nil)
		clock := &fakeClock{now: start}
		cfg := config(srv.URL)
		cfg.File, cfg.Rate, cfg.Duration, cfg.Batch = writeFile(t, numbered(10)), 4, time.Second, 2
		summary, err := Run(context.Background(), cfg, testEnv(clock, &sleepRecorder{}))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		summary.WriteText(&out)
		if summary.Sent != 4 || summary.NotSentFrom != 5 || !strings.Contains(out.String(), "not sent  input from line 5 on (the -duration limit was reached)") {
			t.Fatalf("summary %+v:\n%s", summary, out.String())
		}
	})
	t.Run("nothing leaves after the limit, even when the endpoint is slow", func(t *testing.T) {
		clock := &fakeClock{now: start}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			clock.SleepUntil(r.Context(), clock.Now().Add(700*time.Millisecond)) // each answer takes 0.7 s
			fmt.Fprintf(w, `{"accepted":%d,"rejected":[],"failed":[]}`, strings.Count(string(body), "\n")+1)
		}))
		t.Cleanup(srv.Close)
		cfg := config(srv.URL)
		cfg.Rate, cfg.Duration, cfg.Batch, cfg.Concurrency = 100, time.Second, 10, 1
		summary, err := Run(context.Background(), cfg, testEnv(clock, &sleepRecorder{}))
		if err != nil {
			t.Fatal(err)
		}
		// Batches leave at 0.09 s (answered at 0.79 s) and 0.79 s (answered
		// at 1.49 s); the third would leave at 1.49 s, after the limit.
		if want := "the -duration limit passed while waiting for the endpoint; 80 synthetic events due were not sent"; summary.Sent != 20 || summary.Stop != want {
			t.Fatalf("summary %+v, want 20 events sent within the 1s limit and %q", summary, want)
		}
	})
}

func TestNoResendPastTheTimeLimitOrForUnimplemented(t *testing.T) {
	cases := []struct {
		name   string
		status int
		header map[string]string
		reason string
	}{
		{"a resend due after the limit is not made", http.StatusServiceUnavailable, map[string]string{"Retry-After": "5"}, "not resent before the -duration limit: HTTP 503 Service Unavailable"},
		{"501 is not retried", http.StatusNotImplemented, nil, "HTTP 501 Not Implemented"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
			}))
			t.Cleanup(srv.Close)
			cfg := config(srv.URL)
			cfg.Rate, cfg.Duration, cfg.Batch = 10, time.Second, 10
			sleeps := &sleepRecorder{}
			summary, err := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, sleeps))
			if err != nil {
				t.Fatal(err)
			}
			if summary.Requests != 1 || summary.Retried != 0 || summary.Failed != 10 || summary.Reasons[tc.reason] != 10 || len(sleeps.all()) != 0 {
				t.Fatalf("summary %+v, sleeps %v; want one request, no resend, 10 failed with %q", summary, sleeps.all(), tc.reason)
			}
		})
	}
}

func TestNothingListeningStopsEarlyWithOneLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	var stdout, stderr bytes.Buffer
	code := Main(nil, []string{"-endpoint", dead, "-rate", "1000", "-duration", "10s", "-batch", "10", "-concurrency", "1", "-max-retries", "0"}, nil, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if code != ExitNotAllSent || len(lines) != 1 || !strings.Contains(lines[0], "producer: cannot connect to "+dead+" (3 requests in a row)") || !strings.Contains(lines[0], "connection refused") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "sent      30 events in 3 requests") || !strings.Contains(stdout.String(), "stopped   the endpoint is unreachable") ||
		!strings.Contains(stdout.String(), "failed    input 1-30: request failed: ") || strings.Count(stdout.String(), "connection refused") != 2 {
		t.Fatalf("summary, want the refused connection once as the reason and once for inputs 1-30:\n%s", stdout.String())
	}
}

func TestA200ThatIsNotIngestsAnswerIsUnexpected(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<html>It works!</html>")
	}))
	t.Cleanup(srv.Close)
	cfg := config(srv.URL)
	cfg.File = writeFile(t, numbered(3))
	summary, err := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, &sleepRecorder{}))
	if err != nil {
		t.Fatal(err)
	}
	want := "unexpected answer from the endpoint (HTTP 200 without ingest's JSON result)"
	if summary.Failed != 3 || len(summary.Reasons) != 1 || !strings.Contains(fmt.Sprint(summary.Reasons), want) {
		t.Fatalf("summary %+v, want 3 failed with %q", summary, want)
	}
}

// The load balancer ends client connections after its keep-alive (60 s) with
// "Connection: close"; the producer must carry on over new connections, and
// every request carries an Idempotency-Key so that Go's client may resend it
// when a kept-alive connection closes under it.
func TestConnectionsClosedByTheLoadBalancerAreHandled(t *testing.T) {
	var mu sync.Mutex
	keys, conns := map[string]bool{}, map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		keys[r.Header.Get("Idempotency-Key")] = true
		conns[r.RemoteAddr] = true
		mu.Unlock()
		w.Header().Set("Connection", "close")
		fmt.Fprintf(w, `{"accepted":%d,"rejected":[],"failed":[]}`, bytes.Count(body, []byte("\n"))+1)
	}))
	t.Cleanup(srv.Close)
	cfg := config(srv.URL)
	cfg.File = writeFile(t, numbered(50))
	cfg.Batch = 5
	summary, err := Run(context.Background(), cfg, testEnv(&fakeClock{now: start}, &sleepRecorder{}))
	if err != nil {
		t.Fatal(err)
	}
	if summary.Accepted != 50 || summary.Failed != 0 || summary.Retried != 0 {
		t.Errorf("summary %+v, want all 50 accepted without retries", summary)
	}
	if len(keys) != 10 || keys[""] {
		t.Errorf("%d distinct Idempotency-Keys for 10 requests (empty among them: %v)", len(keys), keys[""])
	}
	if len(conns) != 10 {
		t.Errorf("%d connections for 10 requests each answered with Connection: close", len(conns))
	}
}
