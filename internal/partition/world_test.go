package partition_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/dr-analytics/drplan/internal/backoff"
	"github.com/dr-analytics/drplan/internal/gluefake"
	"github.com/dr-analytics/drplan/internal/partition"
)

const (
	database       = "dr_analytics"
	streaming      = "dr-analytics-streaming-123456789012-us-east-1"
	replica        = "dr-analytics-streaming-123456789012-us-west-2"
	batch          = "dr-analytics-batch-123456789012-us-east-1"
	rawTable       = "raw"
	compactedTable = "compacted"
)

var routes = []partition.Route{
	{Bucket: streaming, Prefix: "raw/", Database: database, Table: rawTable},
	{Bucket: replica, Prefix: "raw/", Database: database, Table: rawTable},
	{Bucket: batch, Prefix: "compacted/", Database: database, Table: compactedTable},
}

func rawDescriptor() types.StorageDescriptor {
	return types.StorageDescriptor{
		Columns: []types.Column{
			{Name: aws.String("id"), Type: aws.String("string")},
			{Name: aws.String("key"), Type: aws.String("string")},
			{Name: aws.String("value"), Type: aws.String("double")},
		},
		Location:     aws.String("s3://" + streaming + "/raw/"),
		InputFormat:  aws.String("org.apache.hadoop.mapred.TextInputFormat"),
		OutputFormat: aws.String("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
		Compressed:   true,
		SerdeInfo: &types.SerDeInfo{
			SerializationLibrary: aws.String("org.openx.data.jsonserde.JsonSerDe"),
			Parameters:           map[string]string{"ignore.malformed.json": "true"},
		},
		Parameters: map[string]string{"classification": "json"},
	}
}

func compactedDescriptor() types.StorageDescriptor {
	return types.StorageDescriptor{
		Columns:      []types.Column{{Name: aws.String("key"), Type: aws.String("string")}, {Name: aws.String("count"), Type: aws.String("bigint")}},
		Location:     aws.String("s3://" + batch + "/compacted/"),
		InputFormat:  aws.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"),
		OutputFormat: aws.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
		SerdeInfo:    &types.SerDeInfo{SerializationLibrary: aws.String("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")},
	}
}

// world is a registrar wired to a fake catalog holding the raw and compacted tables.
type world struct {
	glue      *gluefake.Server
	client    *glue.Client
	registrar *partition.Registrar
	logs      *lockedBuffer
	metrics   *lockedBuffer
}

func newWorld(tb testing.TB, opts ...partition.Option) *world {
	tb.Helper()
	return newWorldRoutes(tb, routes, opts...)
}

func newWorldRoutes(tb testing.TB, routes []partition.Route, opts ...partition.Option) *world {
	tb.Helper()
	srv := gluefake.New(tb)
	srv.AddTable(database, rawTable, []string{"year", "month", "day", "hour"}, rawDescriptor())
	srv.AddTable(database, compactedTable, []string{"dt"}, compactedDescriptor())
	w := &world{glue: srv, client: srv.Client(partition.GlueClientOptions), logs: &lockedBuffer{}, metrics: &lockedBuffer{}}
	base := []partition.Option{
		partition.WithLogger(slog.New(slog.NewJSONHandler(w.logs, nil))),
		partition.WithMetrics(w.metrics),
		partition.WithFunctionName("dr-analytics-partition-registrar"),
		partition.WithRetry(backoff.Policy{Attempts: partition.DefaultMaxAttempts}),
	}
	w.registrar = partition.NewRegistrar(w.client, routes, append(base, opts...)...)
	return w
}

// lockedBuffer is an io.Writer safe for the registrar's concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes every JSON line written so far.
func (b *lockedBuffer) lines(tb testing.TB) []map[string]any {
	tb.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatalf("log line is not JSON: %s", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// withMsg keeps the log lines with a message.
func (b *lockedBuffer) withMsg(tb testing.TB, msg string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, l := range b.lines(tb) {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// s3Key encodes a key as S3 does in notifications (form encoding, "/" kept).
func s3Key(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.QueryEscape(p)
	}
	return strings.Join(parts, "/")
}

// s3Body is a native S3 ObjectCreated notification for keys in one bucket.
func s3Body(bucket string, keys ...string) string {
	type record struct {
		EventVersion string `json:"eventVersion"`
		EventSource  string `json:"eventSource"`
		AWSRegion    string `json:"awsRegion"`
		EventName    string `json:"eventName"`
		S3           any    `json:"s3"`
	}
	var n struct {
		Records []record `json:"Records"`
	}
	for _, k := range keys {
		n.Records = append(n.Records, record{
			EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: "us-east-1", EventName: "ObjectCreated:Put",
			S3: map[string]any{
				"s3SchemaVersion": "1.0",
				"bucket":          map[string]any{"name": bucket, "arn": "arn:aws:s3:::" + bucket},
				"object":          map[string]any{"key": s3Key(k), "size": 1024, "sequencer": "0055AED6DCD90281E5"},
			},
		})
	}
	out, _ := json.Marshal(n)
	return string(out)
}

// sqsEvent wraps bodies as SQS messages with ids "m0", "m1", ...
func sqsEvent(bodies ...string) events.SQSEvent {
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i), Body: b, EventSource: "aws:sqs"})
	}
	return ev
}

func failedIDs(resp events.SQSEventResponse) []string {
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func rawKey(year, month, day, hour int, file string) string {
	return fmt.Sprintf("raw/year=%04d/month=%02d/day=%02d/hour=%02d/%s", year, month, day, hour, file)
}

func rawLocation(bucket string, year, month, day, hour int) string {
	return fmt.Sprintf("s3://%s/raw/year=%04d/month=%02d/day=%02d/hour=%02d/", bucket, year, month, day, hour)
}
