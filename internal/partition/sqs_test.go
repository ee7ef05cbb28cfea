package partition_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/internal/partition"
)

func TestPoisonMessages(t *testing.T) {
	ctx := context.Background()
	cases := []struct{ name, body string }{
		{"a body that is not JSON", "hello"},
		{"a JSON array", `[1,2]`},
		{"JSON null", `null`},
		{"an object without Records", `{"detail-type":"Object Created","detail":{}}`},
		{"an empty Records array", `{"Records":[]}`},
		{"a record without s3", `{"Records":[{"eventName":"ObjectCreated:Put"}]}`},
		{"a key that is not URL-encoded", `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"` + batch + `"},"object":{"key":"compacted/dt=100%/a"}}}]}`},
	}
	for _, c := range cases {
		t.Run(c.name+" fails alone and the rest of the batch is registered", func(t *testing.T) {
			w := newWorld(t)
			resp, err := w.registrar.HandleSQS(ctx, sqsEvent(
				s3Body(streaming, rawKey(2026, 1, 2, 3, "a")),
				c.body,
				s3Body(batch, "compacted/dt=2026-01-02/a"),
			))
			if err != nil || !reflect.DeepEqual(failedIDs(resp), []string{"m1"}) {
				t.Fatalf("HandleSQS = %v, %v; want only m1 failed", failedIDs(resp), err)
			}
			if n := len(w.glue.PartitionValues(database, rawTable)) + len(w.glue.PartitionValues(database, compactedTable)); n != 2 {
				t.Errorf("catalog holds %d partitions, want 2", n)
			}
			logs := w.logs.withMsg(t, "poison message: not an S3 notification; it goes to the DLQ after the queue's receive limit")
			if len(logs) != 1 || logs[0]["messageId"] != "m1" || logs[0]["problem"] == "" {
				t.Errorf("poison log lines %v", logs)
			}
			if m := w.metrics.lines(t)[0]; m["PoisonMessages"] != 1.0 || m["FailedMessages"] != 1.0 {
				t.Errorf("metrics %v", m)
			}
		})
	}

	t.Run("the good records of a malformed message are still registered", func(t *testing.T) {
		w := newWorld(t)
		body := `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"` + batch +
			`"},"object":{"key":"compacted/dt%3D2026-01-02/a"}}},{"eventName":"ObjectCreated:Put"}]}`
		resp, _ := w.registrar.HandleSQS(ctx, sqsEvent(body))
		if !reflect.DeepEqual(failedIDs(resp), []string{"m0"}) || len(w.glue.PartitionValues(database, compactedTable)) != 1 {
			t.Errorf("failed %v, catalog %v", failedIDs(resp), w.glue.PartitionValues(database, compactedTable))
		}
	})
}

func TestSkippedObjects(t *testing.T) {
	w := newWorld(t)
	testEvent := `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-02T03:04:05.000Z","Bucket":"` + streaming + `","RequestId":"R","HostId":"H"}`
	removed := `{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"` + streaming + `"},"object":{"key":"raw/year%3D2026/x"}}}]}`
	resp, err := w.registrar.HandleSQS(context.Background(), sqsEvent(
		testEvent,
		removed,
		s3Body("someone-elses-bucket", rawKey(2026, 1, 2, 3, "a")),
		s3Body(streaming, "errors/processing-failed/2026/01/02/03/f", "raw/errors/f"),
		s3Body(streaming, "raw/year=2026/month=01/day=02/hour=03/", "raw/year=2026_$folder$"),
		s3Body(batch, "compacted/dt=2026-01-02/_temporary/0/p", "compacted/dt=2026-01-02/p.tmp"),
		s3Body(batch, "compacted/dt=2026-01-02/_SUCCESS", "compacted/dt=2026-01-02/.p.crc"),
		s3Body(streaming, "raw/month=01/year=2026/day=02/hour=03/f", "raw/f.gz"),
	))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("HandleSQS = %v, %v; skips must never fail a message", failedIDs(resp), err)
	}
	if n := w.glue.Calls("BatchCreatePartition"); n != 0 {
		t.Errorf("%d BatchCreatePartition calls for objects that imply no partition", n)
	}
	want := map[string]int{
		"test-event": 1, "not-object-created": 1, "outside-routes": 1, "error-output": 2,
		"folder-marker": 2, "temporary-file": 2, "hidden-file": 2, "no-partition-path": 2,
	}
	got := map[string]int{}
	for _, l := range w.logs.withMsg(t, "object skipped") {
		got[l["reason"].(string)]++
		if l["reason"] == "no-partition-path" && l["expected"] != "raw/year=<value>/month=<value>/day=<value>/hour=<value>/<file>" {
			t.Errorf("no-partition-path log does not show the expected path: %v", l)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("skip log lines by reason %v, want %v", got, want)
	}
	m := w.metrics.lines(t)[0]
	for reason, n := range want {
		if metric := partition.SkippedMetric(partition.SkipReason(reason)); m[metric] != float64(n) {
			t.Errorf("metric %s = %v, want %d", metric, m[metric], n)
		}
	}
	if m["Skipped"] != 13.0 || m["Received"] != 13.0 {
		t.Errorf("Skipped %v of Received %v, want 13 of 13", m["Skipped"], m["Received"])
	}
}

func TestSNSEnvelopeIsUnwrapped(t *testing.T) {
	w := newWorld(t)
	inner := s3Body(batch, "compacted/dt=2026-01-02/a")
	envelope, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "x", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": inner})
	resp, _ := w.registrar.HandleSQS(context.Background(), sqsEvent(string(envelope)))
	if len(resp.BatchItemFailures) != 0 || len(w.glue.PartitionValues(database, compactedTable)) != 1 {
		t.Errorf("failed %v, catalog %v", failedIDs(resp), w.glue.PartitionValues(database, compactedTable))
	}
}

func TestEmbeddedMetricsLine(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.registrar.HandleSQS(ctx, sqsEvent(
		s3Body(streaming, rawKey(2026, 1, 2, 3, "a"), rawKey(2026, 1, 2, 4, "b")),
		s3Body(batch, "compacted/dt=2026-01-02/_SUCCESS"),
		"not json",
	))
	w.registrar.HandleSQS(ctx, sqsEvent(s3Body(streaming, rawKey(2026, 1, 2, 3, "c"))))

	lines := w.metrics.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d metrics lines for 2 invocations, want 2", len(lines))
	}
	first := lines[0]
	aws, _ := first["_aws"].(map[string]any)
	directives, _ := aws["CloudWatchMetrics"].([]any)
	if len(directives) != 1 {
		t.Fatalf("_aws = %v, want one CloudWatchMetrics directive", first["_aws"])
	}
	d := directives[0].(map[string]any)
	if d["Namespace"] != partition.MetricsNamespace || !reflect.DeepEqual(d["Dimensions"], []any{[]any{"FunctionName"}}) {
		t.Errorf("directive %v", d)
	}
	if _, ok := aws["Timestamp"].(float64); !ok || first["FunctionName"] != "dr-analytics-partition-registrar" {
		t.Errorf("timestamp %v, function name %v", aws["Timestamp"], first["FunctionName"])
	}
	var names []string
	for _, m := range d["Metrics"].([]any) {
		name := m.(map[string]any)["Name"].(string)
		names = append(names, name)
		if _, ok := first[name].(float64); !ok {
			t.Errorf("metric %s declared but its value is %v", name, first[name])
		}
	}
	for _, want := range []string{"Messages", "Received", "Registered", "AlreadyPresent", "Skipped", "Failed", "FailedMessages", "PoisonMessages", "GlueCalls"} {
		if !slices.Contains(names, want) {
			t.Errorf("metric %s missing from %v", want, names)
		}
	}
	for _, r := range partition.SkipReasons {
		if !slices.Contains(names, partition.SkippedMetric(r)) || !strings.HasPrefix(partition.SkippedMetric(r), "Skipped") {
			t.Errorf("skip reason %s has no metric in %v", r, names)
		}
	}
	wantFirst := map[string]float64{"Messages": 3, "Received": 3, "Registered": 2, "Skipped": 1, "SkippedHiddenFile": 1, "PoisonMessages": 1, "FailedMessages": 1, "GlueCalls": 2}
	for name, v := range wantFirst {
		if first[name] != v {
			t.Errorf("first invocation %s = %v, want %v", name, first[name], v)
		}
	}
	if second := lines[1]; second["Registered"] != 0.0 || second["CacheHits"] != 1.0 || second["GlueCalls"] != 0.0 {
		t.Errorf("second invocation %v", second)
	}
}
