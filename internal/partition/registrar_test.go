package partition_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/dr-analytics/drplan/internal/backoff"
	"github.com/dr-analytics/drplan/internal/gluefake"
	"github.com/dr-analytics/drplan/internal/partition"
)

// sent decodes the BatchCreatePartition requests the fake received.
func sent(tb testing.TB, srv *gluefake.Server) []glue.BatchCreatePartitionInput {
	tb.Helper()
	var out []glue.BatchCreatePartitionInput
	for _, r := range srv.Requests() {
		if r.Op != "BatchCreatePartition" {
			continue
		}
		var in glue.BatchCreatePartitionInput
		if err := r.Decode(&in); err != nil {
			tb.Fatal(err)
		}
		out = append(out, in)
	}
	return out
}

func ops(srv *gluefake.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		out = append(out, r.Op)
	}
	return out
}

func withLocation(sd types.StorageDescriptor, location string) *types.StorageDescriptor {
	sd.Location = aws.String(location)
	return &sd
}

func TestHandleSQSRegistersPartitions(t *testing.T) {
	ctx := context.Background()

	t.Run("one GetTable and one BatchCreatePartition per table, storage descriptor copied with the partition's location", func(t *testing.T) {
		w := newWorld(t)
		resp, err := w.registrar.HandleSQS(ctx, sqsEvent(
			s3Body(streaming, rawKey(2026, 1, 2, 3, "a.gz"), rawKey(2026, 1, 2, 3, "b.gz")),
			s3Body(streaming, rawKey(2026, 1, 2, 4, "c.gz")),
			s3Body(batch, "compacted/dt=2026-01-02/part-0.parquet"),
			s3Body(replica, rawKey(2026, 1, 2, 5, "d.gz")),
		))
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("HandleSQS = %+v, %v", resp, err)
		}
		if want := []string{"GetTable", "BatchCreatePartition", "GetTable", "BatchCreatePartition"}; !reflect.DeepEqual(ops(w.glue), want) {
			t.Fatalf("Glue calls %v, want %v", ops(w.glue), want)
		}
		calls := sent(t, w.glue)
		wantRaw := []types.PartitionInput{
			{Values: []string{"2026", "01", "02", "03"}, StorageDescriptor: withLocation(rawDescriptor(), rawLocation(streaming, 2026, 1, 2, 3))},
			{Values: []string{"2026", "01", "02", "04"}, StorageDescriptor: withLocation(rawDescriptor(), rawLocation(streaming, 2026, 1, 2, 4))},
			{Values: []string{"2026", "01", "02", "05"}, StorageDescriptor: withLocation(rawDescriptor(), rawLocation(replica, 2026, 1, 2, 5))},
		}
		if aws.ToString(calls[0].DatabaseName) != database || aws.ToString(calls[0].TableName) != rawTable ||
			!reflect.DeepEqual(calls[0].PartitionInputList, wantRaw) {
			t.Errorf("raw call %+v\nwant partitions %+v", calls[0], wantRaw)
		}
		wantCompacted := []types.PartitionInput{{Values: []string{"2026-01-02"},
			StorageDescriptor: withLocation(compactedDescriptor(), "s3://"+batch+"/compacted/dt=2026-01-02/")}}
		if aws.ToString(calls[1].TableName) != compactedTable || !reflect.DeepEqual(calls[1].PartitionInputList, wantCompacted) {
			t.Errorf("compacted call %+v\nwant partitions %+v", calls[1], wantCompacted)
		}
		if n := len(w.glue.PartitionValues(database, rawTable)); n != 3 {
			t.Errorf("catalog holds %d raw partitions, want 3", n)
		}
		if n := len(w.logs.withMsg(t, "partition registered")); n != 4 {
			t.Errorf("%d 'partition registered' log lines, want 4", n)
		}
	})

	t.Run("URL-encoded keys are decoded, + as space", func(t *testing.T) {
		w := newWorld(t)
		body := `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"` + batch +
			`"},"object":{"key":"compacted/dt%3Dred+flower%252F2/part+0.parquet"}}}]}`
		resp, _ := w.registrar.HandleSQS(ctx, sqsEvent(body))
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("failures %v", failedIDs(resp))
		}
		calls := sent(t, w.glue)
		if len(calls) != 1 {
			t.Fatalf("%d BatchCreatePartition calls, want 1", len(calls))
		}
		got := calls[0].PartitionInputList[0]
		if want := []string{"red flower/2"}; !reflect.DeepEqual(got.Values, want) ||
			aws.ToString(got.StorageDescriptor.Location) != "s3://"+batch+"/compacted/dt=red flower%2F2/" {
			t.Errorf("partition %v at %s", got.Values, aws.ToString(got.StorageDescriptor.Location))
		}
	})

	t.Run("more than 100 new partitions go in calls of at most 100", func(t *testing.T) {
		w := newWorld(t)
		var objs []partition.Object
		for i := range 250 {
			objs = append(objs, partition.Object{Bucket: batch, Key: fmt.Sprintf("compacted/dt=d%03d/part-0", i)})
		}
		res, err := w.registrar.RegisterObjects(ctx, objs)
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for _, c := range sent(t, w.glue) {
			sizes = append(sizes, len(c.PartitionInputList))
		}
		if !reflect.DeepEqual(sizes, []int{100, 100, 50}) || len(res.Created) != 250 || w.glue.Calls("GetTable") != 1 {
			t.Errorf("call sizes %v, created %d, GetTable %d; want [100 100 50], 250, 1", sizes, len(res.Created), w.glue.Calls("GetTable"))
		}
	})

	t.Run("objects of one partition in a batch make one entry", func(t *testing.T) {
		w := newWorld(t)
		var bodies []string
		for i := range 10 {
			bodies = append(bodies, s3Body(streaming, rawKey(2026, 1, 2, 3, fmt.Sprintf("f%d.gz", i))))
		}
		if resp, _ := w.registrar.HandleSQS(ctx, sqsEvent(bodies...)); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("failures %v", failedIDs(resp))
		}
		if calls := sent(t, w.glue); len(calls) != 1 || len(calls[0].PartitionInputList) != 1 {
			t.Errorf("calls %+v, want one call with one partition", calls)
		}
	})
}

func TestExistingPartitions(t *testing.T) {
	ctx := context.Background()

	t.Run("a partition already in the catalog counts as already present, not failed", func(t *testing.T) {
		w := newWorld(t)
		_, err := w.client.BatchCreatePartition(ctx, &glue.BatchCreatePartitionInput{
			DatabaseName: aws.String(database), TableName: aws.String(compactedTable),
			PartitionInputList: []types.PartitionInput{{Values: []string{"2026-01-02"}, StorageDescriptor: withLocation(compactedDescriptor(), "s3://x/")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := w.registrar.RegisterObjects(ctx, []partition.Object{
			{Bucket: batch, Key: "compacted/dt=2026-01-02/a"}, {Bucket: batch, Key: "compacted/dt=2026-01-03/a"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Created) != 1 || res.Created[0].Values[0] != "2026-01-03" ||
			len(res.AlreadyPresent) != 1 || res.AlreadyPresent[0].Values[0] != "2026-01-02" || len(res.Failed) != 0 || res.CacheHits != 0 {
			t.Errorf("result %+v", res)
		}
	})

	t.Run("a warm container makes no Glue call for partitions it has registered", func(t *testing.T) {
		w := newWorld(t)
		ev := sqsEvent(
			s3Body(streaming, rawKey(2026, 1, 2, 3, "a.gz")),
			s3Body(batch, "compacted/dt=2026-01-02/part-0"),
		)
		if resp, _ := w.registrar.HandleSQS(ctx, ev); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("first batch failures %v", failedIDs(resp))
		}
		before := len(w.glue.Requests())
		if resp, _ := w.registrar.HandleSQS(ctx, ev); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("second batch failures %v", failedIDs(resp))
		}
		if after := len(w.glue.Requests()); after != before {
			t.Errorf("second batch made %d Glue calls, want 0", after-before)
		}
		metrics := w.metrics.lines(t)
		if last := metrics[len(metrics)-1]; last["CacheHits"] != 2.0 || last["AlreadyPresent"] != 2.0 || last["GlueCalls"] != 0.0 {
			t.Errorf("second batch metrics %v", last)
		}
	})

	t.Run("a forgotten partition is asked for again and found present", func(t *testing.T) {
		w := newWorld(t, partition.WithMemory(4))
		var objs []partition.Object
		for i := range 10 {
			objs = append(objs, partition.Object{Bucket: batch, Key: fmt.Sprintf("compacted/dt=d%d/a", i)})
		}
		if _, err := w.registrar.RegisterObjects(ctx, objs); err != nil {
			t.Fatal(err)
		}
		res, err := w.registrar.RegisterObjects(ctx, objs[:1])
		if err != nil || len(res.AlreadyPresent) != 1 || res.CacheHits != 0 || res.GlueCalls != 1 {
			t.Errorf("result %+v, %v; want one partition found present by one Glue call", res, err)
		}
	})

	t.Run("the table definition is read again after its TTL", func(t *testing.T) {
		now := time.Unix(1764064800, 0)
		w := newWorld(t, partition.WithTableTTL(time.Minute, func() time.Time { return now }))
		register := func(day string) {
			t.Helper()
			if _, err := w.registrar.RegisterObjects(ctx, []partition.Object{{Bucket: batch, Key: "compacted/dt=" + day + "/a"}}); err != nil {
				t.Fatal(err)
			}
		}
		register("2026-01-01")
		now = now.Add(59 * time.Second)
		register("2026-01-02")
		if n := w.glue.Calls("GetTable"); n != 1 {
			t.Fatalf("GetTable called %d times within the TTL, want 1", n)
		}
		now = now.Add(time.Second)
		register("2026-01-03")
		if n := w.glue.Calls("GetTable"); n != 2 {
			t.Errorf("GetTable called %d times after the TTL, want 2", n)
		}
		now = now.Add(time.Minute)
		w.glue.FailCalls("GetTable", 1000, http.StatusInternalServerError, "InternalServiceException")
		register("2026-01-04") // an unreadable table falls back to the definition read earlier
		if n := len(w.glue.PartitionValues(database, compactedTable)); n != 4 {
			t.Errorf("catalog holds %d partitions, want 4", n)
		}
	})
}

func TestRetries(t *testing.T) {
	ctx := context.Background()

	t.Run("throttled and failing calls and entries are retried until registered", func(t *testing.T) {
		w := newWorld(t)
		w.glue.FailCalls("GetTable", 1, http.StatusInternalServerError, "InternalServiceException")
		w.glue.Throttle("BatchCreatePartition", 2)
		w.glue.FailEntries("ThrottlingException", 1, func(v []string) bool { return v[3] == "04" })
		w.glue.FailEntries("InternalServiceException", 1, func(v []string) bool { return v[3] == "04" })
		resp, _ := w.registrar.HandleSQS(ctx, sqsEvent(
			s3Body(streaming, rawKey(2026, 1, 2, 3, "a")),
			s3Body(streaming, rawKey(2026, 1, 2, 4, "b")),
		))
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("failures %v", failedIDs(resp))
		}
		want := []string{"GetTable", "GetTable", "BatchCreatePartition", "BatchCreatePartition", "BatchCreatePartition", "BatchCreatePartition", "BatchCreatePartition"}
		if !reflect.DeepEqual(ops(w.glue), want) {
			t.Fatalf("Glue calls %v, want %v", ops(w.glue), want)
		}
		var sizes []int
		for _, c := range sent(t, w.glue) {
			sizes = append(sizes, len(c.PartitionInputList))
		}
		if !reflect.DeepEqual(sizes, []int{2, 2, 2, 1, 1}) {
			t.Errorf("entries per call %v, want [2 2 2 1 1]: retries resend only the entries that failed", sizes)
		}
		if n := len(w.glue.PartitionValues(database, rawTable)); n != 2 {
			t.Errorf("catalog holds %d partitions, want 2", n)
		}
		m := w.metrics.lines(t)[0]
		if m["GlueCalls"] != 7.0 || m["GlueRetries"] != 5.0 || m["Registered"] != 2.0 {
			t.Errorf("metrics %v", m)
		}
	})

	t.Run("only messages whose partitions still fail after the retries are reported", func(t *testing.T) {
		w := newWorld(t, partition.WithRetry(backoff.Policy{Attempts: 3}))
		w.glue.FailEntries("ThrottlingException", 1000, func(v []string) bool { return v[3] == "05" })
		resp, _ := w.registrar.HandleSQS(ctx, sqsEvent(
			s3Body(streaming, rawKey(2026, 1, 2, 3, "a")),
			s3Body(streaming, rawKey(2026, 1, 2, 3, "b"), rawKey(2026, 1, 2, 5, "c")), // one good, one failing record
			s3Body(streaming, rawKey(2026, 1, 2, 4, "d")),
			s3Body(streaming, rawKey(2026, 1, 2, 5, "e")),
		))
		if got, want := failedIDs(resp), []string{"m1", "m3"}; !reflect.DeepEqual(got, want) {
			t.Errorf("failed messages %v, want %v", got, want)
		}
		if n := w.glue.Calls("BatchCreatePartition"); n != 3 {
			t.Errorf("%d BatchCreatePartition calls, want 3 (the attempt budget)", n)
		}
		if want := [][]string{{"2026", "01", "02", "03"}, {"2026", "01", "02", "04"}}; !reflect.DeepEqual(w.glue.PartitionValues(database, rawTable), want) {
			t.Errorf("catalog %v, want %v", w.glue.PartitionValues(database, rawTable), want)
		}
		logs := w.logs.withMsg(t, "partition not registered; its objects are reported as failed")
		if len(logs) != 1 || logs[0]["code"] != "ThrottlingException" || logs[0]["objects"] != 2.0 {
			t.Errorf("failure log lines %v", logs)
		}
		m := w.metrics.lines(t)[0]
		if m["Failed"] != 1.0 || m["FailedMessages"] != 2.0 || m["Registered"] != 2.0 {
			t.Errorf("metrics %v", m)
		}
	})

	t.Run("a whole call failing with 500 every time fails its messages after the attempt budget", func(t *testing.T) {
		w := newWorld(t, partition.WithRetry(backoff.Policy{Attempts: 3}))
		w.glue.FailCalls("BatchCreatePartition", 1000, http.StatusInternalServerError, "InternalFailure")
		resp, _ := w.registrar.HandleSQS(ctx, sqsEvent(
			s3Body(streaming, rawKey(2026, 1, 2, 3, "a")),
			s3Body(batch, "compacted/dt=2026-01-02/a"),
		))
		if got := failedIDs(resp); !reflect.DeepEqual(got, []string{"m0", "m1"}) {
			t.Errorf("failed messages %v, want [m0 m1]", got)
		}
		if n := w.glue.Calls("BatchCreatePartition"); n != 6 {
			t.Errorf("%d BatchCreatePartition calls, want 3 per table", n)
		}
	})

	t.Run("a non-retryable entry error fails its messages at once and says what to fix", func(t *testing.T) {
		w := newWorld(t)
		w.glue.FailEntries("InvalidInputException", 1, func(v []string) bool { return v[0] == "bad" })
		resp, _ := w.registrar.HandleSQS(ctx, sqsEvent(
			s3Body(batch, "compacted/dt=bad/a"),
			s3Body(batch, "compacted/dt=good/a"),
		))
		if got := failedIDs(resp); !reflect.DeepEqual(got, []string{"m0"}) {
			t.Errorf("failed messages %v, want [m0]", got)
		}
		if n := w.glue.Calls("BatchCreatePartition"); n != 1 {
			t.Errorf("%d BatchCreatePartition calls, want 1 (no retry)", n)
		}
		logs := w.logs.withMsg(t, "partition not registered; its objects are reported as failed")
		if len(logs) != 1 || logs[0]["code"] != "InvalidInputException" || !strings.Contains(fmt.Sprint(logs[0]["fix"]), "partition keys") {
			t.Errorf("failure log lines %v", logs)
		}
	})

	t.Run("a missing table fails only its route's messages", func(t *testing.T) {
		r := slices.Clone(routes)
		r[2].Table = "missing"
		w := newWorldRoutes(t, r)
		resp, _ := w.registrar.HandleSQS(ctx, sqsEvent(
			s3Body(batch, "compacted/dt=2026-01-02/a"),
			s3Body(streaming, rawKey(2026, 1, 2, 3, "a")),
		))
		if got := failedIDs(resp); !reflect.DeepEqual(got, []string{"m0"}) {
			t.Errorf("failed messages %v, want [m0]", got)
		}
		if n := len(w.glue.PartitionValues(database, rawTable)); n != 1 {
			t.Errorf("catalog holds %d raw partitions, want 1", n)
		}
		if n := w.glue.Calls("GetTable"); n != 2 {
			t.Errorf("%d GetTable calls, want 2: EntityNotFoundException is not retried", n)
		}
		logs := w.logs.withMsg(t, "table unreadable; its objects are reported as failed")
		if len(logs) != 1 || !strings.Contains(fmt.Sprint(logs[0]["fix"]), "PARTITION_ROUTES") {
			t.Errorf("table log lines %v", logs)
		}
	})

	t.Run("retrying stops when the next delay would outlast the invocation", func(t *testing.T) {
		w := newWorld(t, partition.WithRetry(backoff.Policy{Attempts: 10, Initial: time.Hour, Max: time.Hour}))
		w.glue.Throttle("BatchCreatePartition", 1000)
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		resp, _ := w.registrar.HandleSQS(ctx, sqsEvent(s3Body(batch, "compacted/dt=2026-01-02/a")))
		if got := failedIDs(resp); !reflect.DeepEqual(got, []string{"m0"}) || w.glue.Calls("BatchCreatePartition") != 1 {
			t.Errorf("failed %v after %d calls; want [m0] after 1", got, w.glue.Calls("BatchCreatePartition"))
		}
	})
}

func TestRegisterObjectsReportsFailures(t *testing.T) {
	w := newWorld(t, partition.WithRetry(backoff.Policy{Attempts: 1}))
	w.glue.FailEntries("ResourceNumberLimitExceededException", 1, nil)
	res, err := w.registrar.RegisterObjects(context.Background(), []partition.Object{
		{Bucket: batch, Key: "compacted/dt=2026-01-02/a"},
		{Bucket: batch, Key: "compacted/dt=2026-01-03/a"},
		{Bucket: batch, Key: "compacted/_SUCCESS"},
		{Bucket: "elsewhere", Key: "x"},
	})
	if err == nil || !strings.Contains(err.Error(), "1 of 4 objects not registered") ||
		!strings.Contains(err.Error(), "ResourceNumberLimitExceededException") || !strings.Contains(err.Error(), "[2026-01-02]") {
		t.Fatalf("error %v", err)
	}
	want := map[partition.SkipReason]int{partition.SkipHidden: 1, partition.SkipOutsideRoutes: 1}
	if len(res.Failed) != 1 || len(res.Created) != 1 || res.Received != 4 || !reflect.DeepEqual(res.Skipped, want) {
		t.Errorf("result %+v", res)
	}
}

func TestDefaultRetryBacksOffFrom200msTo5s(t *testing.T) {
	p := partition.DefaultRetry
	if p.Attempts != partition.DefaultMaxAttempts {
		t.Errorf("attempts %d, want %d", p.Attempts, partition.DefaultMaxAttempts)
	}
	for retry, ceiling := range map[int]time.Duration{1: 200 * time.Millisecond, 2: 400 * time.Millisecond, 4: 1600 * time.Millisecond, 5: 3200 * time.Millisecond, 6: 5 * time.Second, 60: 5 * time.Second} {
		for range 100 {
			if d := p.Delay(retry); d < ceiling/2 || d > ceiling {
				t.Fatalf("retry %d waits %v, want within [%v, %v]", retry, d, ceiling/2, ceiling)
			}
		}
	}
}

// The policy's Sleep is what waits between Glue attempts, so callers (and
// tests) decide how time passes.
func TestRetryWaitsWithThePolicysSleep(t *testing.T) {
	var slept []time.Duration
	w := newWorld(t, partition.WithRetry(backoff.Policy{Attempts: 4, Initial: time.Second, Max: time.Minute,
		Jitter: func(d time.Duration) time.Duration { return d },
		Sleep:  func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return ctx.Err() }}))
	w.glue.Throttle("BatchCreatePartition", 2)
	res, err := w.registrar.RegisterObjects(context.Background(), []partition.Object{{Bucket: batch, Key: "compacted/dt=2026-01-02/a"}})
	if err != nil || len(res.Created) != 1 || res.GlueRetries != 2 {
		t.Fatalf("result %+v, err %v; want the partition created after 2 retries", res, err)
	}
	if fmt.Sprint(slept) != "[1s 2s]" {
		t.Errorf("slept %v, want [1s 2s]", slept)
	}
}
