// Package aggregate counts stream events per key value in Lambda's 60-second
// tumbling windows and writes each window's counts to DynamoDB exactly once
// in effect: one item per key value, window and shard, under a deterministic
// key, so a retried or replayed window overwrites its own items instead of
// adding to them. Bad records are counted in reserved buckets and never fail
// an invocation.
//
// Table contract (the failback tool merges on it): partition key pk (S) is the
// key value, sort key sk (S) is "<window_start RFC3339 UTC>#<region>#<shard_id>";
// attributes window_start, window_end (S, RFC3339 UTC), count (N), region,
// shard_id, aggregate_key (S) and written_at (S, RFC3339Nano UTC). Readers
// sum count across shards and regions.
//
// Retries and partial batches: within a tumbling window Lambda checkpoints
// the state together with the sequence number, so a failed invocation is
// retried with the state it started from and nothing is counted twice. The
// handler therefore never reports BatchItemFailures (a partial checkpoint in
// the middle of a window buys nothing) and fails the whole invocation only
// when the final write fails, so Lambda retries the final invocation while
// Kinesis keeps the records.
package aggregate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/backoff"
)

// DefaultKey is the event field counted when AGGREGATE_KEY is unset.
const DefaultKey = "type"

// BatchWriter is the DynamoDB call the aggregator makes; *dynamodb.Client
// implements it.
type BatchWriter interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Config holds what the aggregator needs; ConfigFromEnv fills all but DB.
type Config struct {
	// TableName is the aggregates table, e.g. "dr-analytics-aggregates".
	TableName string
	// Field is the top-level event field counted, e.g. "type". A dot is part
	// of the name, not a path.
	Field string
	// Region is written into sk and region, e.g. "us-east-1".
	Region string
	// DB writes the items.
	DB BatchWriter
	// Retry bounds waiting for the table in one invocation; zero fields
	// take the defaults (100ms doubling to 5s, 20s in all, never within 3s
	// of the function's deadline). Keep Budget well under the function
	// timeout.
	Retry backoff.Policy
	// Logger receives one JSON line per notable event; nil means slog.Default().
	Logger *slog.Logger
	// Now stamps written_at; nil means time.Now.
	Now func() time.Time
}

// ConfigFromEnv reads TABLE_NAME (required), AGGREGATE_KEY (default "type"),
// AWS_REGION (set by Lambda) and WRITE_RETRY_BUDGET (optional Go duration,
// default 20s: how long one invocation waits for the table before failing).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		TableName: strings.TrimSpace(getenv("TABLE_NAME")),
		Field:     strings.TrimSpace(getenv("AGGREGATE_KEY")),
		Region:    strings.TrimSpace(getenv("AWS_REGION")),
	}
	if c.Field == "" {
		c.Field = DefaultKey
	}
	if budget := strings.TrimSpace(getenv("WRITE_RETRY_BUDGET")); budget != "" {
		d, err := time.ParseDuration(budget)
		if err != nil || d <= 0 || d > 5*time.Minute {
			return Config{}, fmt.Errorf("aggregator config: WRITE_RETRY_BUDGET=%q: want a Go duration from 1ms to 5m, e.g. 20s", budget)
		}
		c.Retry.Budget = d
	}
	return c, c.validate()
}

func (c Config) validate() error {
	switch {
	case c.TableName == "":
		return errors.New("aggregator config: TABLE_NAME is empty: set it to the aggregates table name, e.g. dr-analytics-aggregates")
	case !config.AggregateKeyPattern.MatchString(c.Field):
		return fmt.Errorf("aggregator config: AGGREGATE_KEY=%q: want a top-level event field name (letters, digits, _ . -, at most 64), e.g. type", c.Field)
	case c.Region == "":
		return errors.New("aggregator config: AWS_REGION is empty: Lambda sets it; set it when running elsewhere, e.g. us-east-1")
	}
	return nil
}

// Aggregator handles tumbling-window invocations from a Kinesis event source
// mapping.
type Aggregator struct {
	cfg    Config
	logger *slog.Logger
	now    func() time.Time
	retry  backoff.Policy
}

// New checks cfg and returns an aggregator.
func New(cfg Config) (*Aggregator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.DB == nil {
		return nil, errors.New("aggregator config: DB is nil: pass a DynamoDB client")
	}
	a := &Aggregator{cfg: cfg, logger: cfg.Logger, now: cfg.Now, retry: cfg.Retry.Or(defaultRetry)}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Handle counts the invocation's records into the window state. Non-final
// invocations only return the state; the final invocation writes the
// window's items and returns an empty state. It returns an error only when
// the event has no tumbling window or the final write fails, so Lambda
// retries; bad records never fail it.
func (a *Aggregator) Handle(ctx context.Context, event events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
	if event.Window.Start.IsZero() || event.Window.End.IsZero() {
		return events.KinesisTimeWindowEventResponse{}, errors.New("aggregate: event has no tumbling window: set TumblingWindowInSeconds (60) on the Kinesis event source mapping, otherwise counts are never written")
	}
	shard := shardID(event)
	if shard == "" {
		return events.KinesisTimeWindowEventResponse{}, errors.New("aggregate: event has no shardId and its records carry no shard in eventID; is this a Kinesis tumbling-window event?")
	}
	windowStart := event.Window.Start.UTC().Format(time.RFC3339)

	counts := countsFromState(event.State, a.logger)
	var t tally
	for _, record := range event.Records {
		counts.addRecord(record.Kinesis.Data, a.cfg.Field, &t)
	}
	if t.invalidJSON+t.missingKey+t.overflow > 0 {
		a.logger.Warn("counted events without a usable key",
			"window_start", windowStart, "shard_id", shard, "aggregate_key", a.cfg.Field, "events", t.events,
			InvalidJSONKey, t.invalidJSON, MissingKey, t.missingKey, OverflowKey, t.overflow)
	}
	if event.IsWindowTerminatedEarly {
		// The state guards should make this impossible; if it happens, the
		// continuation of this window overwrites the items written now.
		a.logger.Error("Lambda ended the window early (state over 1 MB); counts for this window may be low",
			"window_start", windowStart, "shard_id", shard, "state_bytes", counts.stateBytes)
	}

	response := events.KinesisTimeWindowEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}}
	if !event.IsFinalInvokeForWindow {
		response.State = counts.state()
		return response, nil
	}
	if err := a.writeWindow(ctx, event.Window, shard, &counts); err != nil {
		return events.KinesisTimeWindowEventResponse{}, err
	}
	response.State = map[string]string{}
	return response, nil
}

// shardID prefers the event's shardId and falls back to the records'
// eventID, which Kinesis spells "<shard id>:<sequence number>".
func shardID(event events.KinesisTimeWindowEvent) string {
	if event.ShardID != "" {
		return event.ShardID
	}
	for _, record := range event.Records {
		if shard, _, ok := strings.Cut(record.EventID, ":"); ok && shard != "" {
			return shard
		}
	}
	return ""
}
