// Package ingest is the HTTP front door of the event pipeline: the Lambda
// behind the internal ALB that writes producers' events to the Kinesis stream.
//
// Guarantee: every event in a request ends up in exactly one of three lists
// of the answer. Accepted events were written to Kinesis (durably, at least
// once). Rejected events were refused for a reason the producer must fix
// (invalid JSON, not an object, too large, reserved field) and are never
// retried. Failed events could not be written this time (the stream refused
// or was unreachable after bounded retries); the answer is 503 with
// Retry-After, and the producer resends exactly those lines. Nothing is
// dropped silently, and an accepted event is never reported failed.
//
// Each event is stamped with the receive time as "ingested_at" (RFC 3339,
// milliseconds, UTC); the producer's bytes are otherwise kept as sent. Each
// Kinesis record is one event followed by "\n", so Firehose writes JSON Lines.
package ingest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Request limits. A body over either answers 413 and nothing is written.
const (
	// MaxBodyBytes bounds the decoded request body. The ALB refuses Lambda
	// request bodies over "1 MB" ("Use Lambda functions as targets of an
	// Application Load Balancer", Limits) without saying whether that is
	// 10^6 or 2^20 bytes; 1,000,000 bytes is within both readings, so a
	// body we accept is never one the ALB refuses.
	MaxBodyBytes = 1_000_000
	// MaxBatchEvents bounds the number of events (non-blank lines) per request.
	MaxBatchEvents = 1000
	// DefaultMaxEventBytes is the per-event limit when MAX_EVENT_BYTES is unset.
	DefaultMaxEventBytes = 64 << 10
	// maxEventBytesCeiling keeps a stamped record plus its partition key
	// within Kinesis's 1 MiB record limit.
	maxEventBytesCeiling = 1_000_000
)

// Paths served.
const (
	EventsPath = "/events"
	HealthPath = "/health"
)

// healthCacheTTL spaces DescribeStreamSummary calls: ALB health checks from
// every ALB node arrive every few seconds.
const healthCacheTTL = 30 * time.Second

// healthCallTimeout bounds the stream check well under the ALB health check timeout.
const healthCallTimeout = 3 * time.Second

// Config is what the function needs to know.
type Config struct {
	// StreamName is the Kinesis data stream to write to, e.g. "dr-analytics-events".
	StreamName string
	// MaxEventBytes bounds one event as sent, e.g. 65536.
	MaxEventBytes int
}

// Kinesis is the part of the Kinesis client ingest uses.
type Kinesis interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// KinesisClientOptions configures the SDK client for ingest: the SDK's own
// retries are off because ingest retries only the refused entries itself,
// within its time budget.
func KinesisClientOptions(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

// Options adjust a Handler; the zero value is production behaviour.
type Options struct {
	// Logger receives one JSON line per request; nil logs JSON to stdout.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Sleep waits between retry rounds; nil waits on a timer. Tests make it instant.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxAttempts bounds PutRecords rounds per request; 0 is DefaultMaxAttempts.
	MaxAttempts int
}

// Response is the JSON body of every answer to POST /events.
type Response struct {
	Accepted int         `json:"accepted"`
	Rejected []LineError `json:"rejected"`
	Failed   []LineError `json:"failed"`
	Error    string      `json:"error,omitempty"`
}

// LineError names an event by its 1-based line in the request body.
type LineError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Handler answers ALB requests. It is safe for concurrent use.
type Handler struct {
	cfg         Config
	client      Kinesis
	problem     error // why the function cannot work; every answer is 503 then
	log         *slog.Logger
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	maxAttempts int

	healthMu      sync.Mutex
	healthChecked time.Time
	healthStatus  int
	healthBody    map[string]string
}

// NewFromEnv builds a Handler from STREAM_NAME and MAX_EVENT_BYTES. A bad or
// missing setting does not stop the function (that would be a crash loop):
// the handler then answers 503 with the reason, and /health is unhealthy.
func NewFromEnv(getenv func(string) string, client Kinesis, opts Options) *Handler {
	cfg := Config{StreamName: strings.TrimSpace(getenv("STREAM_NAME")), MaxEventBytes: DefaultMaxEventBytes}
	var envErr error
	if v := strings.TrimSpace(getenv("MAX_EVENT_BYTES")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			envErr = fmt.Errorf("MAX_EVENT_BYTES is %q; set a whole number of bytes from 2 to %d, e.g. %d", v, maxEventBytesCeiling, DefaultMaxEventBytes)
		}
		cfg.MaxEventBytes = n
	}
	h := New(cfg, client, opts)
	if envErr != nil {
		h.problem = envErr
	}
	if h.problem != nil {
		h.log.Error("ingest misconfigured", "reason", h.problem.Error())
	}
	return h
}

// New builds a Handler. An invalid cfg or a nil client makes a handler that
// answers 503 with the reason.
func New(cfg Config, client Kinesis, opts Options) *Handler {
	h := &Handler{cfg: cfg, client: client, log: opts.Logger, now: opts.Now, sleep: opts.Sleep, maxAttempts: opts.MaxAttempts}
	if h.log == nil {
		h.log = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.sleep == nil {
		h.sleep = sleepTimer
	}
	if h.maxAttempts <= 0 {
		h.maxAttempts = DefaultMaxAttempts
	}
	switch {
	case cfg.StreamName == "":
		h.problem = errors.New("STREAM_NAME is not set; set it to the Kinesis data stream name")
	case cfg.MaxEventBytes < 2 || cfg.MaxEventBytes > maxEventBytesCeiling:
		h.problem = fmt.Errorf("MAX_EVENT_BYTES is %d; set a whole number of bytes from 2 to %d, e.g. %d", cfg.MaxEventBytes, maxEventBytesCeiling, DefaultMaxEventBytes)
	case client == nil:
		h.problem = errors.New("no Kinesis client: AWS configuration could not be loaded")
	}
	return h
}

func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// answer is a response plus what the request log line reports.
type answer struct {
	status  int
	headers map[string]string
	body    any
	put     putOutcome
	events  int
	reject  int
}

// Handle answers one ALB request. It never returns an error: a Lambda error
// becomes a bare 502 from the ALB, which the producer cannot act on.
func (h *Handler) Handle(ctx context.Context, req events.ALBTargetGroupRequest) (events.ALBTargetGroupResponse, error) {
	start := h.now()
	var a answer
	switch req.Path {
	case EventsPath:
		if req.HTTPMethod != http.MethodPost {
			a = errorAnswer(http.StatusMethodNotAllowed, "use POST "+EventsPath)
			a.headers["Allow"] = http.MethodPost
			break
		}
		a = h.postEvents(ctx, req, start)
	case HealthPath:
		if req.HTTPMethod != http.MethodGet {
			a = errorAnswer(http.StatusMethodNotAllowed, "use GET "+HealthPath)
			a.headers["Allow"] = http.MethodGet
			break
		}
		a = h.health(ctx)
	default:
		a = errorAnswer(http.StatusNotFound, "no such path; events go to POST "+EventsPath)
	}

	body, err := json.Marshal(a.body)
	if err != nil { // cannot happen with the types used; answer something valid anyway
		body = []byte(`{"error":"internal error"}`)
		a.status = http.StatusInternalServerError
	}
	a.headers["Content-Type"] = "application/json"

	attrs := []any{
		"method", req.HTTPMethod, "path", req.Path, "status", a.status,
		"events", a.events, "accepted", a.put.accepted, "rejected", a.reject, "failed", len(a.put.failed),
		"attempts", a.put.attempts, "duration_ms", h.now().Sub(start).Milliseconds(),
	}
	if a.put.lastError != "" {
		attrs = append(attrs, "kinesis_error", a.put.lastError)
	}
	if len(a.put.failed) > 0 {
		attrs = append(attrs, "failed_reason", a.put.failed[0].Reason)
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, "request_id", lc.AwsRequestID)
	}
	h.log.Info("request", attrs...)

	return events.ALBTargetGroupResponse{
		StatusCode:        a.status,
		StatusDescription: fmt.Sprintf("%d %s", a.status, http.StatusText(a.status)),
		Headers:           a.headers,
		Body:              string(body),
	}, nil
}

func errorAnswer(status int, message string) answer {
	return answer{status: status, headers: map[string]string{}, body: map[string]string{"error": message}}
}

func (h *Handler) postEvents(ctx context.Context, req events.ALBTargetGroupRequest, receivedAt time.Time) answer {
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return eventsAnswer(http.StatusBadRequest, Response{Error: "body is marked base64 but does not decode: " + err.Error()})
		}
		body = decoded
	}
	if len(body) > MaxBodyBytes {
		return eventsAnswer(http.StatusRequestEntityTooLarge, Response{Error: fmt.Sprintf("body is %d bytes; send at most 1,000,000 bytes (1 MB) per request", len(body))})
	}
	lines := splitBody(body)
	if len(lines) == 0 {
		return eventsAnswer(http.StatusBadRequest, Response{Error: "empty body: send one JSON object, or JSON objects one per line"})
	}
	if len(lines) > MaxBatchEvents {
		return eventsAnswer(http.StatusRequestEntityTooLarge, Response{Error: fmt.Sprintf("body has %d events; send at most %d per request", len(lines), MaxBatchEvents)})
	}

	stamp := receivedAt.UTC().Format(ingestedAtLayout)
	resp := Response{Rejected: []LineError{}, Failed: []LineError{}}
	records := make([]record, 0, len(lines))
	for _, l := range lines {
		data, err := stampEvent(l.raw, h.cfg.MaxEventBytes, stamp)
		if err != nil {
			resp.Rejected = append(resp.Rejected, LineError{Line: l.number, Reason: err.Error()})
			continue
		}
		records = append(records, record{line: l.number, data: data, partitionKey: partitionKey()})
	}
	if len(records) == 0 {
		a := eventsAnswer(http.StatusBadRequest, resp)
		a.events, a.reject = len(lines), len(resp.Rejected)
		return a
	}

	var put putOutcome
	if h.problem != nil {
		put = putOutcome{failed: make([]LineError, len(records)), lastError: "Misconfigured"}
		for i, r := range records {
			put.failed[i] = LineError{Line: r.line, Reason: "ingest is misconfigured: " + h.problem.Error()}
		}
	} else {
		put = h.putAll(ctx, records)
	}
	resp.Accepted = put.accepted
	if put.failed != nil {
		resp.Failed = put.failed
	}
	status := http.StatusOK
	if len(put.failed) > 0 {
		status = http.StatusServiceUnavailable
	}
	a := eventsAnswer(status, resp)
	if status == http.StatusServiceUnavailable {
		a.headers["Retry-After"] = retryAfterUnavailable
		if put.throttled {
			a.headers["Retry-After"] = retryAfterThrottled
		}
	}
	a.put, a.events, a.reject = put, len(lines), len(resp.Rejected)
	return a
}

func eventsAnswer(status int, resp Response) answer {
	if resp.Rejected == nil {
		resp.Rejected = []LineError{}
	}
	if resp.Failed == nil {
		resp.Failed = []LineError{}
	}
	return answer{status: status, headers: map[string]string{}, body: resp}
}

// health answers 200 only when the stream exists and takes records. Both
// answers are cached for healthCacheTTL.
func (h *Handler) health(ctx context.Context) answer {
	if h.problem != nil {
		return answer{status: http.StatusServiceUnavailable, headers: map[string]string{}, body: map[string]string{"status": "unhealthy", "reason": h.problem.Error()}}
	}
	h.healthMu.Lock()
	defer h.healthMu.Unlock()
	now := h.now()
	if h.healthBody == nil || now.Sub(h.healthChecked) >= healthCacheTTL || now.Before(h.healthChecked) {
		h.healthStatus, h.healthBody = h.checkStream(ctx)
		h.healthChecked = now
		if h.healthStatus != http.StatusOK {
			h.log.Warn("stream check failed", "stream", h.cfg.StreamName, "reason", h.healthBody["reason"])
		}
	}
	return answer{status: h.healthStatus, headers: map[string]string{"Cache-Control": "no-store"}, body: h.healthBody}
}

func (h *Handler) checkStream(ctx context.Context) (int, map[string]string) {
	ctx, cancel := context.WithTimeout(ctx, healthCallTimeout)
	defer cancel()
	name := h.cfg.StreamName
	out, err := h.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
	if err != nil {
		return http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "stream": name, "reason": fmt.Sprintf("describe stream %s: %s", name, errorReason(err))}
	}
	var status string
	if out.StreamDescriptionSummary != nil {
		status = string(out.StreamDescriptionSummary.StreamStatus)
	}
	if status != "ACTIVE" && status != "UPDATING" {
		return http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "stream": name, "streamStatus": status, "reason": fmt.Sprintf("stream %s is %s, not ACTIVE or UPDATING", name, status)}
	}
	return http.StatusOK, map[string]string{"status": "ok", "stream": name, "streamStatus": status}
}

// ServeHTTP serves the same API over plain net/http, for running ingest
// outside Lambda (local development, tests of producers).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		http.Error(w, `{"error":"could not read body"}`, http.StatusBadRequest)
		return
	}
	headers := make(map[string]string, len(r.Header))
	for k := range r.Header {
		headers[strings.ToLower(k)] = r.Header.Get(k)
	}
	resp, _ := h.Handle(r.Context(), events.ALBTargetGroupRequest{
		HTTPMethod:      r.Method,
		Path:            r.URL.Path,
		Headers:         headers,
		IsBase64Encoded: true, // carries any bytes unchanged, as the ALB does for binary bodies
		Body:            base64.StdEncoding.EncodeToString(body),
	})
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.WriteString(w, resp.Body)
}
