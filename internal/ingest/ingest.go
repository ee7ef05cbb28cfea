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
//
// GET /health is 200 only while the whole path to S3 can keep what POST
// accepts: the stream takes records and the Firehose delivery stream that
// reads it is ACTIVE. Firehose reads a Kinesis source from the LATEST
// position ("Kinesis Firehose starts reading data from the LATEST position
// of your Kinesis stream", Firehose Developer Guide, "Writing to Amazon
// Kinesis Firehose Using Kinesis Streams",
// https://docs.aws.amazon.com/firehose/latest/dev/writing-with-kinesis-streams.html),
// so an event accepted before the delivery stream is ACTIVE would never
// reach S3, while the aggregator (TRIM_HORIZON) still counts it. The ALB
// target group checks /health, and the failover's traffic switch moves
// producers here only once Global Accelerator reports the ALB HEALTHY (see
// internal/trafficdial).
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
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	firehosetypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
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

// healthCacheTTL spaces the describe calls: ALB health checks from every
// ALB node arrive every few seconds.
const healthCacheTTL = 30 * time.Second

// healthCallTimeout bounds the stream and delivery stream checks, which run
// side by side, well under the ALB health check timeout (5 s).
const healthCallTimeout = 3 * time.Second

// Config is what the function needs to know.
type Config struct {
	// StreamName is the Kinesis data stream to write to, e.g. "dr-analytics-events".
	StreamName string
	// DeliveryStreamName is the Firehose delivery stream that reads
	// StreamName into S3, e.g. "dr-analytics-events-to-s3"; /health checks it.
	DeliveryStreamName string
	// MaxEventBytes bounds one event as sent, e.g. 65536.
	MaxEventBytes int
}

// Kinesis is the part of the Kinesis client ingest uses.
type Kinesis interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// Firehose is the part of the Firehose client ingest uses (GET /health).
type Firehose interface {
	DescribeDeliveryStream(ctx context.Context, in *firehose.DescribeDeliveryStreamInput, optFns ...func(*firehose.Options)) (*firehose.DescribeDeliveryStreamOutput, error)
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
	// Firehose describes the delivery stream for GET /health. Nil makes
	// /health unhealthy with the reason; POST /events does not need it.
	Firehose Firehose
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

	// firehose describes the delivery stream for /health; healthProblem is
	// why /health cannot be healthy although events can be written.
	firehose      Firehose
	healthProblem error
	healthMu      sync.Mutex
	healthChecked time.Time
	healthStatus  int
	healthBody    map[string]string
}

// NewFromEnv builds a Handler from STREAM_NAME, DELIVERY_STREAM_NAME and
// MAX_EVENT_BYTES. A bad or missing setting does not stop the function
// (that would be a crash loop): the handler then answers 503 with the
// reason, and /health is unhealthy. A missing DELIVERY_STREAM_NAME only
// makes /health unhealthy: events still reach the stream, which keeps them.
func NewFromEnv(getenv func(string) string, client Kinesis, opts Options) *Handler {
	cfg := Config{
		StreamName:         strings.TrimSpace(getenv("STREAM_NAME")),
		DeliveryStreamName: strings.TrimSpace(getenv("DELIVERY_STREAM_NAME")),
		MaxEventBytes:      DefaultMaxEventBytes,
	}
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
	if h.healthProblem != nil {
		h.log.Error("ingest health check misconfigured", "reason", h.healthProblem.Error())
	}
	return h
}

// New builds a Handler. An invalid cfg or a nil client makes a handler that
// answers 503 with the reason.
func New(cfg Config, client Kinesis, opts Options) *Handler {
	h := &Handler{cfg: cfg, client: client, firehose: opts.Firehose, log: opts.Logger, now: opts.Now, sleep: opts.Sleep, maxAttempts: opts.MaxAttempts}
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
	switch {
	case cfg.DeliveryStreamName == "":
		h.healthProblem = errors.New("DELIVERY_STREAM_NAME is not set; set it to the Firehose delivery stream that reads STREAM_NAME")
	case opts.Firehose == nil:
		h.healthProblem = errors.New("no Firehose client: AWS configuration could not be loaded")
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

// health answers 200 only when the stream takes records and the delivery
// stream is ACTIVE; otherwise 503 naming which one is not. Both answers are
// cached for healthCacheTTL.
func (h *Handler) health(ctx context.Context) answer {
	problem := h.problem
	if problem == nil {
		problem = h.healthProblem
	}
	if problem != nil {
		return answer{status: http.StatusServiceUnavailable, headers: map[string]string{}, body: map[string]string{"status": "unhealthy", "reason": problem.Error()}}
	}
	h.healthMu.Lock()
	defer h.healthMu.Unlock()
	now := h.now()
	if h.healthBody == nil || now.Sub(h.healthChecked) >= healthCacheTTL || now.Before(h.healthChecked) {
		h.healthStatus, h.healthBody = h.checkPipeline(ctx)
		h.healthChecked = now
		if h.healthStatus != http.StatusOK {
			h.log.Warn("health check failed", "stream", h.cfg.StreamName, "delivery_stream", h.cfg.DeliveryStreamName, "reason", h.healthBody["reason"])
		}
	}
	return answer{status: h.healthStatus, headers: map[string]string{"Cache-Control": "no-store"}, body: h.healthBody}
}

// checkPipeline describes the stream and the delivery stream side by side,
// so the whole check takes at most healthCallTimeout.
func (h *Handler) checkPipeline(ctx context.Context) (int, map[string]string) {
	ctx, cancel := context.WithTimeout(ctx, healthCallTimeout)
	defer cancel()
	var streamStatus, deliveryStatus string
	var streamErr, deliveryErr error
	var wg sync.WaitGroup
	wg.Go(func() { streamStatus, streamErr = h.checkStream(ctx) })
	wg.Go(func() { deliveryStatus, deliveryErr = h.checkDeliveryStream(ctx) })
	wg.Wait()
	body := map[string]string{
		"status": "ok", "stream": h.cfg.StreamName, "streamStatus": streamStatus,
		"deliveryStream": h.cfg.DeliveryStreamName, "deliveryStreamStatus": deliveryStatus,
	}
	if err := errors.Join(streamErr, deliveryErr); err != nil {
		body["status"] = "unhealthy"
		body["reason"] = strings.ReplaceAll(err.Error(), "\n", "; ")
		return http.StatusServiceUnavailable, body
	}
	return http.StatusOK, body
}

// checkStream returns the stream's status, and an error unless it takes
// records: ACTIVE, or UPDATING ("Read and write operations continue to work
// while the stream is in the UPDATING state", Kinesis API Reference,
// StreamDescriptionSummary.StreamStatus).
func (h *Handler) checkStream(ctx context.Context) (string, error) {
	name := h.cfg.StreamName
	out, err := h.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
	if err != nil {
		return "", fmt.Errorf("describe stream %s: %s", name, errorReason(err))
	}
	var status string
	if out.StreamDescriptionSummary != nil {
		status = string(out.StreamDescriptionSummary.StreamStatus)
	}
	if status != "ACTIVE" && status != "UPDATING" {
		return status, fmt.Errorf("stream %s is %s, not ACTIVE or UPDATING", name, status)
	}
	return status, nil
}

// checkDeliveryStream returns the delivery stream's status, and an error
// unless it is ACTIVE: CREATING, CREATING_FAILED, DELETING and
// DELETING_FAILED deliver nothing (Firehose API Reference,
// DeliveryStreamDescription.DeliveryStreamStatus).
func (h *Handler) checkDeliveryStream(ctx context.Context) (string, error) {
	name := h.cfg.DeliveryStreamName
	out, err := h.firehose.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: &name})
	if err != nil {
		return "", fmt.Errorf("describe delivery stream %s: %s", name, firehoseErrorReason(err))
	}
	var status firehosetypes.DeliveryStreamStatus
	if out.DeliveryStreamDescription != nil {
		status = out.DeliveryStreamDescription.DeliveryStreamStatus
	}
	if status != firehosetypes.DeliveryStreamStatusActive {
		return string(status), fmt.Errorf("delivery stream %s is %s, not ACTIVE: events accepted now would not reach S3", name, status)
	}
	return string(status), nil
}

// firehoseErrorReason names a failed Firehose call the way errorReason
// names a Kinesis one: the service's error code, or what kept it from answering.
func firehoseErrorReason(err error) string {
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "FirehoseTimeout"
	default:
		return "FirehoseUnreachable"
	}
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
