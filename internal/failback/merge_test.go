package failback_test

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dr-analytics/drplan/internal/failback"
)

// seedTables fills both tables as a failover leaves them: the restored
// backup table holds the primary's items up to the restore point plus
// what the backup region wrote since failover; the primary holds its own
// items. It returns the backup-region items written since failover.
func (h *harness) seedTables(t testing.TB, written int) []map[string]ddbtypes.AttributeValue {
	t.Helper()
	primary, backup := h.cfg.PrimaryRegion, h.cfg.BackupRegion
	var restored, since []map[string]ddbtypes.AttributeValue
	for i := range 30 {
		window := failover.Add(-time.Duration(30-i) * time.Minute).Truncate(time.Minute)
		restored = append(restored, aggregateItem(fmt.Sprintf("type-%d", i%4), primary, window, "shardId-000000000000", i+1, window.Add(70*time.Second)))
	}
	for i := range written {
		window := failover.Add(time.Duration(i) * time.Minute).Truncate(time.Minute)
		// The first item lands 300ms into the failover's second: string
		// order and time order disagree there ("…:00.3Z" < "…:00Z").
		at := failover.Add(300 * time.Millisecond).Add(time.Duration(i) * time.Minute)
		since = append(since, aggregateItem(fmt.Sprintf("type-%d", i%4), backup, window, fmt.Sprintf("shardId-%012d", i%2), 10+i, at))
	}
	// Backup-region items from before failover (a drill) are not merged.
	early := []map[string]ddbtypes.AttributeValue{
		aggregateItem("type-0", backup, failover.Add(-2*time.Hour), "shardId-000000000000", 5, failover.Add(-time.Millisecond)),
	}
	putItems(t, h.dynamo(backup), h.names.Table(), append(append(restored, since...), early...))
	putItems(t, h.dynamo(primary), h.names.Table(), restored)
	return since
}

func (h *harness) mergeInput() failback.MergeInput {
	in := h.input()
	return failback.MergeInput{
		Source: h.dynamo(h.cfg.BackupRegion), Dest: h.dynamo(h.cfg.PrimaryRegion), Table: h.names.Table(),
		Region: h.cfg.BackupRegion, Since: failover, Until: now, Segments: 3, Retry: in.Retry,
	}
}

func TestItemsAreMergedExactlyOnceAcrossTwoRuns(t *testing.T) {
	h := newHarness(t).withTables(t)
	since := h.seedTables(t, 60)
	// An earlier, interrupted run already merged two items.
	putItems(t, h.dynamo(h.cfg.PrimaryRegion), h.names.Table(), since[:2])

	first, err := failback.MergeItems(context.Background(), h.mergeInput())
	if err != nil {
		t.Fatal(err)
	}
	if first.Matched != 60 || first.Written != 58 || first.AlreadyPresent != 2 || first.Verified != 60 || len(first.Mismatches) != 0 {
		t.Errorf("first run: %+v; want 60 matched, 58 written, 2 already present, 60 verified", first)
	}
	// The index holds what the backup region wrote since failover; the 30
	// restored items and the drill's item are never read.
	if first.Read != 60 {
		t.Errorf("read %d items, want the 60 the backup region wrote since failover", first.Read)
	}
	second, err := failback.MergeItems(context.Background(), h.mergeInput())
	if err != nil {
		t.Fatal(err)
	}
	if second.Written != 0 || second.AlreadyPresent != 60 {
		t.Errorf("second run: %+v; want nothing written, 60 already present", second)
	}
	got := scanAll(t, h.dynamo(h.cfg.PrimaryRegion), h.names.Table())
	if len(got) != 30+60 {
		t.Errorf("primary table has %d items, want its 30 plus the 60 merged", len(got))
	}
	for _, item := range since {
		key := item["pk"].(*ddbtypes.AttributeValueMemberS).Value + "|" + item["sk"].(*ddbtypes.AttributeValueMemberS).Value
		if !reflect.DeepEqual(got[key], item) {
			t.Errorf("item %s in the primary = %v, want %v", key, got[key], item)
		}
	}
}

func TestMergeKeepsANewerPrimaryItem(t *testing.T) {
	h := newHarness(t).withTables(t)
	since := h.seedTables(t, 4)
	newer := map[string]ddbtypes.AttributeValue{}
	for k, v := range since[0] {
		newer[k] = v
	}
	newer["count"] = &ddbtypes.AttributeValueMemberN{Value: "999"}
	newer["written_at"] = &ddbtypes.AttributeValueMemberS{Value: now.Format(time.RFC3339Nano)}
	putItems(t, h.dynamo(h.cfg.PrimaryRegion), h.names.Table(), []map[string]ddbtypes.AttributeValue{newer})

	res, err := failback.MergeItems(context.Background(), h.mergeInput())
	if err != nil {
		t.Fatal(err)
	}
	if res.KeptNewer != 1 || res.Written != 3 || len(res.Mismatches) != 0 {
		t.Errorf("%+v; want 1 kept, 3 written, no mismatch", res)
	}
	key := since[0]["pk"].(*ddbtypes.AttributeValueMemberS).Value + "|" + since[0]["sk"].(*ddbtypes.AttributeValueMemberS).Value
	if got := scanAll(t, h.dynamo(h.cfg.PrimaryRegion), h.names.Table())[key]["count"]; !reflect.DeepEqual(got, newer["count"]) {
		t.Errorf("newer primary item overwritten: count = %v", got)
	}
}

// throttlingTable answers the first BatchWriteItem with half of its items
// unprocessed, as DynamoDB does under throttling.
type throttlingTable struct {
	failback.DynamoDBAPI
	throttled atomic.Bool
}

func (d *throttlingTable) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	if d.throttled.Swap(true) {
		return d.DynamoDBAPI.BatchWriteItem(ctx, in, opts...)
	}
	for table, reqs := range in.RequestItems {
		half := len(reqs) / 2
		out, err := d.DynamoDBAPI.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{table: reqs[:half]}}, opts...)
		if err != nil {
			return nil, err
		}
		out.UnprocessedItems = map[string][]ddbtypes.WriteRequest{table: reqs[half:]}
		return out, nil
	}
	return &dynamodb.BatchWriteItemOutput{}, nil
}

func TestUnprocessedItemsAreRetried(t *testing.T) {
	h := newHarness(t).withTables(t)
	since := h.seedTables(t, 25)
	in := h.mergeInput()
	in.Segments = 1
	in.Dest = &throttlingTable{DynamoDBAPI: h.dynamo(h.cfg.PrimaryRegion)}
	res, err := failback.MergeItems(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != len(since) || res.Verified != len(since) || res.Retries < 1 {
		t.Errorf("%+v; want all %d written and verified after at least one retry", res, len(since))
	}
}

func TestMergeDryRunChangesNothing(t *testing.T) {
	h := newHarness(t).withTables(t)
	h.seedTables(t, 12)
	before := scanAll(t, h.dynamo(h.cfg.PrimaryRegion), h.names.Table())
	in := h.mergeInput()
	in.DryRun = true
	res, err := failback.MergeItems(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 12 || res.Matched != 12 {
		t.Errorf("dry run: %+v; want 12 items that would be written", res)
	}
	if after := scanAll(t, h.dynamo(h.cfg.PrimaryRegion), h.names.Table()); !reflect.DeepEqual(after, before) {
		t.Errorf("dry run changed the primary table: %d items before, %d after", len(before), len(after))
	}
}
