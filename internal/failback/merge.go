package failback

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/backoff"
)

// DynamoDBAPI is what the merge step and the pre-flight call; *dynamodb.Client
// satisfies it. There is no DeleteTable here: no table is ever deleted.
type DynamoDBAPI interface {
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Table contract of the aggregates table (see internal/aggregate).
const (
	attrPK        = "pk"
	attrSK        = "sk"
	attrWrittenAt = "written_at"
	batchWriteMax = 25
	batchGetMax   = 100
)

// MergeInput configures the table merge.
type MergeInput struct {
	// Source reads the backup region's table; Dest is the primary's.
	Source, Dest DynamoDBAPI
	// Table is the aggregates table's name (the same in both regions).
	Table string
	// Region is the backup region: only items it wrote are merged.
	Region string
	// Since is the failover time: only items written at or after it;
	// Until is now (the last hour queried).
	Since, Until time.Time
	// Segments query the index's partitions in parallel, e.g. 8.
	Segments int
	DryRun   bool
	Retry    backoff.Policy
	Progress Progress
}

// MergeResult counts what the merge did.
type MergeResult struct {
	// Read is the items the index queries read (DynamoDB's ScannedCount):
	// what the backup region wrote in the hours since failover, not the
	// table.
	Read int
	// Matched items were written in the backup region since failover.
	Matched int
	// Written to the primary now (in a dry run: would be written).
	Written int
	// AlreadyPresent identical in the primary, so not rewritten.
	AlreadyPresent int
	// KeptNewer: the primary holds a later write of the same key.
	KeptNewer int
	Retries   int
	// Verified items read back from the primary after the merge, identical
	// or newer; Mismatches name the keys that are not.
	Verified   int
	Mismatches []string
}

// add counts o into r.
func (r *MergeResult) add(o MergeResult) {
	r.Read += o.Read
	r.Matched += o.Matched
	r.Written += o.Written
	r.AlreadyPresent += o.AlreadyPresent
	r.KeptNewer += o.KeptNewer
	r.Retries += o.Retries
	r.Verified += o.Verified
	r.Mismatches = append(r.Mismatches, o.Mismatches...)
}

// MergeItems copies the aggregate items the backup region wrote since
// failover into the primary table. It reads them from the table's index by
// writing region and hour (see writerhour), so it reads what DR wrote, not
// the restored table's history. Keys contain the writing region, so they
// never collide with the primary's own items. It is idempotent: items
// already identical in the primary are counted, not rewritten, so two runs
// write each item once.
func MergeItems(ctx context.Context, in MergeInput) (MergeResult, error) {
	if in.Segments <= 0 {
		in.Segments = 4
	}
	if in.Until.IsZero() {
		in.Until = time.Now()
	}
	in.Retry = retryPolicy(in.Retry)
	if in.Progress == nil {
		in.Progress = noProgress{}
	}
	var partitions []string
	for h := in.Since.UTC().Truncate(time.Hour); !h.After(in.Until); h = h.Add(time.Hour) {
		partitions = append(partitions, writerhour.Values(in.Region, h)...)
	}
	in.Progress.Start("merge items", 0, 0)
	defer in.Progress.Done()
	var (
		mu       sync.Mutex
		total    MergeResult
		firstErr error
		wg       sync.WaitGroup
		next     atomic.Int64
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(in.Segments, len(partitions)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(partitions) || ctx.Err() != nil {
					return
				}
				res, err := mergePartition(ctx, in, partitions[i])
				mu.Lock()
				total.add(res)
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("index partition %s: %w", partitions[i], err)
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sort.Strings(total.Mismatches)
	return total, firstErr
}

// mergePartition queries one index partition (a region, an hour, one of
// its spread) page by page and merges each page. Index queries are
// eventually consistent (a GSI offers no consistent reads); the drain has
// waited for the writes to stop.
func mergePartition(ctx context.Context, in MergeInput, partition string) (MergeResult, error) {
	var res MergeResult
	// written_at is RFC3339Nano, whose fraction is trimmed, so string order
	// is not time order within one second ("…:05Z" sorts after "…:05.3Z").
	// The key condition therefore starts a second early, at whole seconds,
	// and the exact comparison happens here.
	coarse := in.Since.UTC().Truncate(time.Second).Add(-time.Second).Format(time.RFC3339)
	query := &dynamodb.QueryInput{
		TableName:                 aws.String(in.Table),
		IndexName:                 aws.String(writerhour.Index),
		KeyConditionExpression:    aws.String("#wh = :wh AND #written_at >= :since"),
		ExpressionAttributeNames:  map[string]string{"#wh": writerhour.Attribute, "#written_at": writerhour.SortKey},
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":wh": &ddbtypes.AttributeValueMemberS{Value: partition}, ":since": &ddbtypes.AttributeValueMemberS{Value: coarse}},
	}
	for {
		var out *dynamodb.QueryOutput
		n, err := do(ctx, in.Retry, func(ctx context.Context) (err error) {
			out, err = in.Source.Query(ctx, query)
			return err
		})
		res.Retries += n
		if err != nil {
			return res, fmt.Errorf("query %s index %s: %w", in.Table, writerhour.Index, err)
		}
		res.Read += int(out.ScannedCount)
		var items []map[string]ddbtypes.AttributeValue
		for _, item := range out.Items {
			if t, ok := writtenAt(item); ok && !t.Before(in.Since) {
				items = append(items, item)
			}
		}
		for i := 0; i < len(items); i += batchGetMax {
			page, err := mergePage(ctx, in, items[i:min(i+batchGetMax, len(items))])
			res.add(page)
			if err != nil {
				return res, err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return res, nil
		}
		query.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// mergePage compares up to 100 items with the primary and writes those
// that differ.
func mergePage(ctx context.Context, in MergeInput, items []map[string]ddbtypes.AttributeValue) (MergeResult, error) {
	res := MergeResult{Matched: len(items)}
	existing, retries, err := batchGet(ctx, in, items)
	res.Retries += retries
	if err != nil {
		return res, err
	}
	var writes []ddbtypes.WriteRequest
	for _, item := range items {
		current, ok := existing[keyString(item)]
		switch {
		case ok && reflect.DeepEqual(current, item):
			res.AlreadyPresent++
		case ok && newer(current, item):
			res.KeptNewer++
		default:
			writes = append(writes, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: item}})
		}
	}
	if in.DryRun {
		res.Written = len(writes)
		in.Progress.Add(int64(len(items)), 0)
		return res, nil
	}
	for i := 0; i < len(writes); i += batchWriteMax {
		chunk := writes[i:min(i+batchWriteMax, len(writes))]
		n, err := batchWrite(ctx, in, chunk)
		res.Retries += n
		if err != nil {
			return res, err
		}
		res.Written += len(chunk)
	}
	// Read the page back: the report's primary-side count comes from the
	// primary, not from what was sent.
	after, retries, err := batchGet(ctx, in, items)
	res.Retries += retries
	if err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	for _, item := range items {
		current, ok := after[keyString(item)]
		if ok && (reflect.DeepEqual(current, item) || newer(current, item)) {
			res.Verified++
			continue
		}
		res.Mismatches = append(res.Mismatches, fmt.Sprintf("item pk=%s sk=%s is not in the primary table as written in the backup region", attrString(item[attrPK]), attrString(item[attrSK])))
	}
	in.Progress.Add(int64(len(items)), 0)
	return res, nil
}

// batchGet reads the primary's items for the keys of items, retrying
// unprocessed keys.
func batchGet(ctx context.Context, in MergeInput, items []map[string]ddbtypes.AttributeValue) (map[string]map[string]ddbtypes.AttributeValue, int, error) {
	keys := make([]map[string]ddbtypes.AttributeValue, len(items))
	for i, item := range items {
		keys[i] = map[string]ddbtypes.AttributeValue{attrPK: item[attrPK], attrSK: item[attrSK]}
	}
	found := map[string]map[string]ddbtypes.AttributeValue{}
	request := map[string]ddbtypes.KeysAndAttributes{in.Table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	retries := 0
	unprocessed := in.Retry.Start()
	for {
		var out *dynamodb.BatchGetItemOutput
		n, err := do(ctx, in.Retry, func(ctx context.Context) (err error) {
			out, err = in.Dest.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: request})
			return err
		})
		retries += n
		if err != nil {
			return nil, retries, fmt.Errorf("read %s in the primary: %w", in.Table, err)
		}
		for _, item := range out.Responses[in.Table] {
			found[keyString(item)] = item
		}
		if len(out.UnprocessedKeys[in.Table].Keys) == 0 {
			return found, retries, nil
		}
		if !unprocessed.Wait(ctx) {
			if err := ctx.Err(); err != nil {
				return nil, retries, err
			}
			return nil, retries, fmt.Errorf("read %s in the primary: %d keys still unprocessed after %d attempts (throttled: raise the table's capacity or lower -segments)", in.Table, len(out.UnprocessedKeys[in.Table].Keys), unprocessed.Retries()+1)
		}
		request = out.UnprocessedKeys
		retries++
	}
}

// batchWrite puts up to 25 items, retrying unprocessed items with backoff.
func batchWrite(ctx context.Context, in MergeInput, chunk []ddbtypes.WriteRequest) (int, error) {
	request := map[string][]ddbtypes.WriteRequest{in.Table: chunk}
	retries := 0
	unprocessed := in.Retry.Start()
	for {
		var out *dynamodb.BatchWriteItemOutput
		n, err := do(ctx, in.Retry, func(ctx context.Context) (err error) {
			out, err = in.Dest.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: request})
			return err
		})
		retries += n
		if err != nil {
			return retries, fmt.Errorf("write %s in the primary: %w", in.Table, err)
		}
		if len(out.UnprocessedItems[in.Table]) == 0 {
			return retries, nil
		}
		if !unprocessed.Wait(ctx) {
			if err := ctx.Err(); err != nil {
				return retries, err
			}
			return retries, fmt.Errorf("write %s in the primary: %d items still unprocessed after %d attempts (throttled: raise the table's capacity or lower -segments)", in.Table, len(out.UnprocessedItems[in.Table]), unprocessed.Retries()+1)
		}
		request = out.UnprocessedItems
		retries++
	}
}

func writtenAt(item map[string]ddbtypes.AttributeValue) (time.Time, bool) {
	s, ok := item[attrWrittenAt].(*ddbtypes.AttributeValueMemberS)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s.Value)
	return t, err == nil
}

// newer reports whether current was written after candidate.
func newer(current, candidate map[string]ddbtypes.AttributeValue) bool {
	a, okA := writtenAt(current)
	b, okB := writtenAt(candidate)
	return okA && okB && a.After(b)
}

func keyString(item map[string]ddbtypes.AttributeValue) string {
	return attrString(item[attrPK]) + "\x00" + attrString(item[attrSK])
}

func attrString(v ddbtypes.AttributeValue) string {
	if s, ok := v.(*ddbtypes.AttributeValueMemberS); ok {
		return s.Value
	}
	return fmt.Sprintf("%#v", v)
}
