package aggregate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// batchSize is BatchWriteItem's per-request item limit.
const batchSize = 25

// Backoff bounds how long one invocation waits for DynamoDB (unprocessed
// items, throttling, a table that is still being restored) before it fails
// and lets Lambda retry the window from the stream.
type Backoff struct {
	// Initial is the first delay, e.g. 100ms; delays double up to Max.
	Initial time.Duration
	// Max caps one delay, e.g. 5s.
	Max time.Duration
	// Budget caps the total wait in one invocation, e.g. 20s; keep it well
	// under the function timeout.
	Budget time.Duration
	// Sleep waits d or until ctx ends; tests replace it to run instantly.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter picks the actual delay for a nominal one; nil spreads it over
	// [d/2, d) so shards retrying together do not stay in step.
	Jitter func(d time.Duration) time.Duration
}

// deadlineMargin is kept free before the function's deadline so the handler
// can still return its error instead of being killed by the timeout.
const deadlineMargin = 3 * time.Second

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = 100 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Second
	}
	if b.Budget <= 0 {
		b.Budget = 20 * time.Second
	}
	if b.Sleep == nil {
		b.Sleep = sleep
	}
	if b.Jitter == nil {
		b.Jitter = func(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
	}
	return b
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// retryClock tracks one invocation's waiting against the budget.
type retryClock struct {
	policy  Backoff
	waited  time.Duration
	attempt int
}

// wait sleeps before the next attempt and reports false once the budget (or
// the function's remaining time) is spent.
func (c *retryClock) wait(ctx context.Context) bool {
	d := min(c.policy.Initial<<min(c.attempt, 30), c.policy.Max)
	d = min(c.policy.Jitter(d), c.policy.Budget-c.waited)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline)-deadlineMargin < d {
		return false
	}
	if d <= 0 {
		return false
	}
	if err := c.policy.Sleep(ctx, d); err != nil {
		return false
	}
	c.waited += d
	c.attempt++
	return true
}

// writeWindow overwrites the window's items, 25 per BatchWriteItem.
func (a *Aggregator) writeWindow(ctx context.Context, window events.Window, shard string, counts *windowCounts) error {
	keys := counts.keys()
	if len(keys) == 0 {
		return nil
	}
	start := window.Start.UTC().Format(time.RFC3339)
	end := window.End.UTC().Format(time.RFC3339)
	sk := start + "#" + a.cfg.Region + "#" + shard
	writtenAt := a.now().UTC().Format(time.RFC3339Nano)

	clock := &retryClock{policy: a.retry}
	var total int64
	for i := 0; i < len(keys); i += batchSize {
		chunk := keys[i:min(i+batchSize, len(keys))]
		requests := make([]types.WriteRequest, len(chunk))
		for j, key := range chunk {
			total += counts.counts[key]
			requests[j] = types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"pk":            &types.AttributeValueMemberS{Value: key},
				"sk":            &types.AttributeValueMemberS{Value: sk},
				"window_start":  &types.AttributeValueMemberS{Value: start},
				"window_end":    &types.AttributeValueMemberS{Value: end},
				"count":         &types.AttributeValueMemberN{Value: strconv.FormatInt(counts.counts[key], 10)},
				"region":        &types.AttributeValueMemberS{Value: a.cfg.Region},
				"shard_id":      &types.AttributeValueMemberS{Value: shard},
				"aggregate_key": &types.AttributeValueMemberS{Value: a.cfg.Field},
				"written_at":    &types.AttributeValueMemberS{Value: writtenAt},
			}}}
		}
		if err := a.writeBatch(ctx, clock, requests, start, shard); err != nil {
			return err
		}
	}
	a.logger.Info("window written", "table", a.cfg.TableName, "window_start", start, "window_end", end,
		"shard_id", shard, "items", len(keys), "events", total, "waited_ms", clock.waited.Milliseconds())
	return nil
}

// writeBatch writes one chunk, retrying unprocessed items and failed calls
// until the invocation's wait budget is spent.
func (a *Aggregator) writeBatch(ctx context.Context, clock *retryClock, pending []types.WriteRequest, windowStart, shard string) error {
	table := a.cfg.TableName
	loggedMissing := false
	for {
		out, err := a.cfg.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{table: pending},
		})
		var missing *types.ResourceNotFoundException
		switch {
		case err == nil:
			pending = out.UnprocessedItems[table]
			if len(pending) == 0 {
				clock.attempt = 0
				return nil
			}
		case ctx.Err() != nil:
			return fmt.Errorf("write window %s shard %s to table %s: %w", windowStart, shard, table, err)
		case errors.As(err, &missing):
			if !loggedMissing {
				a.logger.Warn("table not found yet; waiting for it", "table", table, "window_start", windowStart,
					"shard_id", shard, "budget_ms", clock.policy.Budget.Milliseconds())
				loggedMissing = true
			}
		case isValidation(err):
			// Retrying the same request cannot fix it; fail now so the
			// invocation does not burn its budget.
			return fmt.Errorf("write window %s shard %s to table %s: %w", windowStart, shard, table, err)
		}
		if clock.wait(ctx) {
			continue
		}
		switch {
		case missing != nil:
			a.logger.Error(fmt.Sprintf("table %s not found yet; will retry from the stream", table),
				"table", table, "window_start", windowStart, "shard_id", shard, "waited_ms", clock.waited.Milliseconds())
			return fmt.Errorf("write window %s shard %s: table %s not found yet (waited %s); Lambda retries the window from the stream: %w",
				windowStart, shard, table, clock.waited, err)
		case err != nil:
			a.logger.Error("window write keeps failing; will retry from the stream", "table", table,
				"window_start", windowStart, "shard_id", shard, "waited_ms", clock.waited.Milliseconds(), "error", err.Error())
			return fmt.Errorf("write window %s shard %s to table %s (waited %s): %w", windowStart, shard, table, clock.waited, err)
		default:
			a.logger.Error("items still unprocessed; will retry from the stream", "table", table,
				"window_start", windowStart, "shard_id", shard, "unprocessed", len(pending), "waited_ms", clock.waited.Milliseconds())
			return fmt.Errorf("write window %s shard %s to table %s: %d items still unprocessed after waiting %s",
				windowStart, shard, table, len(pending), clock.waited)
		}
	}
}

func isValidation(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException"
}
