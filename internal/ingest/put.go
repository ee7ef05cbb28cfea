package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dr-analytics/drplan/internal/backoff"
)

// PutRecords limits that Kinesis enforces per call.
const (
	maxRecordsPerCall = 500
	maxBytesPerCall   = 5 << 20 // data plus partition keys
)

// Retry bounds. The whole send, retries included, ends within RetryBudget,
// well under the function timeout and the ALB's idle timeout, so the producer
// always gets an answer it can act on instead of a 502/504 from the ALB.
const (
	// DefaultMaxAttempts is how many PutRecords rounds a request gets.
	DefaultMaxAttempts = 5
	// RetryBudget bounds the time one request spends writing to Kinesis.
	RetryBudget = 10 * time.Second
	// callTimeout bounds one PutRecords call.
	callTimeout = 5 * time.Second
	baseDelay   = 50 * time.Millisecond
	maxDelay    = time.Second
)

// retryDelays spaces retry rounds: exponential from baseDelay, capped at
// maxDelay, with equal jitter so concurrent invocations spread out.
var retryDelays = backoff.Policy{Initial: baseDelay, Max: maxDelay}

// Retry-After values, in seconds, for the producer.
const (
	retryAfterThrottled   = "1" // capacity frees up within a second
	retryAfterUnavailable = "5" // the stream or the function needs attention
)

// record is one stamped event on its way to Kinesis.
type record struct {
	line         int
	data         []byte
	partitionKey string
}

// putOutcome is what became of the records of one request.
type putOutcome struct {
	accepted  int
	failed    []LineError
	attempts  int
	throttled bool   // every failure was a capacity problem
	lastError string // the last whole-call error code, for the log
}

// putAll writes records with PutRecords, retrying only the entries Kinesis
// refused, with exponential backoff and jitter, within maxAttempts rounds and
// RetryBudget. Entries it could not write are returned as failed with the
// last reason; entries Kinesis accepted are never reported failed.
func (h *Handler) putAll(ctx context.Context, records []record) putOutcome {
	var out putOutcome
	budget := RetryBudget
	if d, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(d)-time.Second) // keep a second to answer the ALB
	}
	deadline := h.now().Add(budget)
	reasons := make(map[int]string, len(records))
	permanent := "" // the reason of a failure that retrying cannot fix
	throttledOnly := true
	for pending := records; ; {
		out.attempts++
		var retry []record
		for start := 0; start < len(pending); {
			end := chunkEnd(pending, start)
			chunk := pending[start:end]
			start = end
			if permanent != "" {
				for _, r := range chunk {
					reasons[r.line] = permanent
				}
				retry = append(retry, chunk...)
				continue
			}
			refused, reason, err := h.putChunk(ctx, deadline.Sub(h.now()), chunk)
			if err != nil {
				out.lastError = reason
				throttledOnly = throttledOnly && isThrottle(reason)
				if !retryableCallError(err) {
					permanent = reason
				}
				for _, r := range chunk {
					reasons[r.line] = reason
				}
				retry = append(retry, chunk...)
				continue
			}
			out.accepted += len(chunk) - len(refused)
			for _, f := range refused {
				reasons[f.rec.line] = f.reason
				throttledOnly = throttledOnly && isThrottle(f.reason)
				retry = append(retry, f.rec)
			}
		}
		pending = retry
		if len(pending) == 0 || permanent != "" || out.attempts >= h.maxAttempts {
			return finish(out, pending, reasons, throttledOnly)
		}
		delay := retryDelays.Delay(out.attempts)
		if h.now().Add(delay).After(deadline) {
			return finish(out, pending, reasons, throttledOnly)
		}
		if err := h.sleep(ctx, delay); err != nil {
			return finish(out, pending, reasons, throttledOnly)
		}
	}
}

func finish(out putOutcome, pending []record, reasons map[int]string, throttledOnly bool) putOutcome {
	for _, r := range pending {
		out.failed = append(out.failed, LineError{Line: r.line, Reason: reasons[r.line]})
	}
	sort.Slice(out.failed, func(i, j int) bool { return out.failed[i].Line < out.failed[j].Line })
	out.throttled = throttledOnly
	return out
}

// chunkEnd returns the end of the PutRecords call starting at records[start],
// within both per-call limits.
func chunkEnd(records []record, start int) int {
	size := 0
	end := start
	for end < len(records) && end-start < maxRecordsPerCall {
		n := len(records[end].data) + len(records[end].partitionKey)
		if end > start && size+n > maxBytesPerCall {
			break
		}
		size += n
		end++
	}
	return end
}

type refusal struct {
	rec    record
	reason string
}

// putChunk makes one PutRecords call. It returns the entries Kinesis refused,
// or an error (with its reason code) when the whole call failed.
func (h *Handler) putChunk(ctx context.Context, remaining time.Duration, chunk []record) ([]refusal, string, error) {
	callCtx, cancel := context.WithTimeout(ctx, min(callTimeout, remaining))
	defer cancel()
	entries := make([]types.PutRecordsRequestEntry, len(chunk))
	for i, r := range chunk {
		entries[i] = types.PutRecordsRequestEntry{Data: r.data, PartitionKey: aws.String(r.partitionKey)}
	}
	resp, err := h.client.PutRecords(callCtx, &kinesis.PutRecordsInput{StreamName: aws.String(h.cfg.StreamName), Records: entries})
	if err != nil {
		return nil, errorReason(err), err
	}
	if len(resp.Records) != len(chunk) {
		err := errors.New("PutRecords answered a different number of entries than it was sent")
		return nil, "MalformedKinesisResponse", err
	}
	var refused []refusal
	for i, entry := range resp.Records {
		if entry.ErrorCode != nil {
			refused = append(refused, refusal{rec: chunk[i], reason: aws.ToString(entry.ErrorCode)})
		}
	}
	return refused, "", nil
}

// errorReason names a whole-call failure for the producer and the log.
func errorReason(err error) string {
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "KinesisTimeout"
	case errors.Is(err, context.Canceled):
		return "RequestCanceled"
	default:
		return "KinesisUnreachable"
	}
}

// retryableCallError reports whether a whole-call failure may pass on retry:
// throttling, server errors and network trouble do; a missing stream, denied
// access or an invalid request do not.
func retryableCallError(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500 {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "LimitExceededException",
			"KMSThrottlingException", "InternalFailure", "ServiceUnavailable", "InternalServerError":
			return true
		}
		return false
	}
	return true // network trouble, timeouts, unreadable answers
}

func isThrottle(reason string) bool {
	switch reason {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "LimitExceededException", "KMSThrottlingException":
		return true
	}
	return false
}

// partitionKey is a random 128-bit value in hex: records spread evenly over
// the shards whatever the producers send.
func partitionKey() string {
	var b [16]byte
	hi, lo := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		b[i] = byte(hi >> (8 * i))
		b[8+i] = byte(lo >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}
