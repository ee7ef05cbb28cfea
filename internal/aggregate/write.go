package aggregate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/backoff"
)

// batchSize is BatchWriteItem's per-request item limit.
const batchSize = 25

// defaultRetry is how long one invocation waits for DynamoDB (unprocessed
// items, throttling, a table that is still being restored) before it fails
// and lets Lambda retry the window from the stream. Attempts stay unlimited:
// the budget bounds the wait, and the margin is kept free before the
// function's deadline so the handler can still return its error instead of
// being killed by the timeout.
var defaultRetry = backoff.Policy{
	Initial: 100 * time.Millisecond,
	Max:     5 * time.Second,
	Budget:  20 * time.Second,
	Margin:  3 * time.Second,
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
	now := a.now().UTC()
	writtenAt := now.Format(time.RFC3339Nano)

	clock := a.retry.Start()
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
				// Failback finds the items a region wrote by this index.
				writerhour.Attribute: &types.AttributeValueMemberS{Value: writerhour.Value(a.cfg.Region, now, key)},
			}}}
		}
		if err := a.writeBatch(ctx, clock, requests, start, shard); err != nil {
			return err
		}
	}
	a.logger.Info("window written", "table", a.cfg.TableName, "window_start", start, "window_end", end,
		"shard_id", shard, "items", len(keys), "events", total, "waited_ms", clock.Waited().Milliseconds())
	return nil
}

// writeBatch writes one chunk, retrying unprocessed items and failed calls
// until the invocation's wait budget is spent.
func (a *Aggregator) writeBatch(ctx context.Context, clock *backoff.Retry, pending []types.WriteRequest, windowStart, shard string) error {
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
				clock.Reset()
				return nil
			}
		case ctx.Err() != nil:
			return fmt.Errorf("write window %s shard %s to table %s: %w", windowStart, shard, table, err)
		case errors.As(err, &missing):
			if !loggedMissing {
				a.logger.Warn("table not found yet; waiting for it", "table", table, "window_start", windowStart,
					"shard_id", shard, "budget_ms", a.retry.Budget.Milliseconds())
				loggedMissing = true
			}
		case isValidation(err):
			// Retrying the same request cannot fix it; fail now so the
			// invocation does not burn its budget.
			return fmt.Errorf("write window %s shard %s to table %s: %w", windowStart, shard, table, err)
		}
		if clock.Wait(ctx) {
			continue
		}
		switch {
		case missing != nil:
			a.logger.Error(fmt.Sprintf("table %s not found yet; will retry from the stream", table),
				"table", table, "window_start", windowStart, "shard_id", shard, "waited_ms", clock.Waited().Milliseconds())
			return fmt.Errorf("write window %s shard %s: table %s not found yet (waited %s); Lambda retries the window from the stream: %w",
				windowStart, shard, table, clock.Waited(), err)
		case err != nil:
			a.logger.Error("window write keeps failing; will retry from the stream", "table", table,
				"window_start", windowStart, "shard_id", shard, "waited_ms", clock.Waited().Milliseconds(), "error", err.Error())
			return fmt.Errorf("write window %s shard %s to table %s (waited %s): %w", windowStart, shard, table, clock.Waited(), err)
		default:
			a.logger.Error("items still unprocessed; will retry from the stream", "table", table,
				"window_start", windowStart, "shard_id", shard, "unprocessed", len(pending), "waited_ms", clock.Waited().Milliseconds())
			return fmt.Errorf("write window %s shard %s to table %s: %d items still unprocessed after waiting %s",
				windowStart, shard, table, len(pending), clock.Waited())
		}
	}
}

func isValidation(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException"
}
