package partition_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/dr-analytics/drplan/internal/partition"
)

const (
	benchEvents     = 10_000
	benchPartitions = 48
	benchBatch      = 10
)

// benchBatches is 10,000 Firehose objects spread evenly over 48 hourly
// partitions (two days), in time order as they land and as a failback copy
// lists them, one S3 record per SQS message, 10 messages per batch.
func benchBatches() []events.SQSEvent {
	var out []events.SQSEvent
	var ev events.SQSEvent
	for i := range benchEvents {
		hour := i * benchPartitions / benchEvents
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: fmt.Sprintf("m%d", i),
			Body:      s3Body(streaming, rawKey(2026, 1, 1+hour/24, hour%24, fmt.Sprintf("delivery-%05d.gz", i))),
		})
		if len(ev.Records) == benchBatch {
			out = append(out, ev)
			ev = events.SQSEvent{}
		}
	}
	return out
}

func quiet() []partition.Option {
	return []partition.Option{
		partition.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))),
		partition.WithMetrics(io.Discard),
	}
}

func handleAll(b *testing.B, r *partition.Registrar, batches []events.SQSEvent) {
	for _, ev := range batches {
		resp, err := r.HandleSQS(context.Background(), ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			b.Fatalf("HandleSQS = %+v, %v", resp, err)
		}
	}
}

func report(b *testing.B, glueCalls int) {
	events := float64(b.N * benchEvents)
	b.ReportMetric(float64(glueCalls)/events, "glue-calls/event")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
}

// BenchmarkRegister10kEvents48Partitions measures the registrar on a cold
// container (empty catalog, nothing remembered), on a warm one (every
// partition registered before), and the per-object workshop approach
// (GetTable, GetPartition, CreatePartition when missing, per object).
func BenchmarkRegister10kEvents48Partitions(b *testing.B) {
	batches := benchBatches()

	b.Run("cold", func(b *testing.B) {
		calls := 0
		for range b.N {
			b.StopTimer()
			w := newWorld(b, quiet()...)
			b.StartTimer()
			handleAll(b, w.registrar, batches)
			b.StopTimer()
			calls += len(w.glue.Requests())
			if n := len(w.glue.PartitionValues(database, rawTable)); n != benchPartitions {
				b.Fatalf("catalog holds %d partitions, want %d", n, benchPartitions)
			}
			b.StartTimer()
		}
		report(b, calls)
	})

	b.Run("warm", func(b *testing.B) {
		w := newWorld(b, quiet()...)
		handleAll(b, w.registrar, batches)
		before := len(w.glue.Requests())
		b.ResetTimer()
		for range b.N {
			handleAll(b, w.registrar, batches)
		}
		report(b, len(w.glue.Requests())-before)
	})

	b.Run("workshop-per-object", func(b *testing.B) {
		calls := 0
		for range b.N {
			b.StopTimer()
			w := newWorld(b, quiet()...)
			b.StartTimer()
			for _, ev := range batches {
				for _, msg := range ev.Records {
					workshopRegister(b, w.client, msg.Body)
				}
			}
			b.StopTimer()
			calls += len(w.glue.Requests())
			b.StartTimer()
		}
		report(b, calls)
	})
}

// workshopRegister is the old per-object approach the registrar replaces.
func workshopRegister(b *testing.B, client *glue.Client, body string) {
	ctx := context.Background()
	key := body[strings.Index(body, `"key":"`)+len(`"key":"`):]
	key, _ = url.QueryUnescape(key[:strings.IndexByte(key, '"')])
	table, err := client.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(database), Name: aws.String(rawTable)})
	if err != nil {
		b.Fatal(err)
	}
	p, _, ok := partition.PartitionOf(routes[0], []string{"year", "month", "day", "hour"}, key)
	if !ok {
		b.Fatalf("no partition in %q", key)
	}
	_, err = client.GetPartition(ctx, &glue.GetPartitionInput{DatabaseName: aws.String(database), TableName: aws.String(rawTable), PartitionValues: p.Values})
	if err == nil {
		return
	}
	if !errors.As(err, new(*types.EntityNotFoundException)) {
		b.Fatal(err)
	}
	sd := *table.Table.StorageDescriptor
	sd.Location = aws.String(p.Location)
	if _, err := client.CreatePartition(ctx, &glue.CreatePartitionInput{
		DatabaseName: aws.String(database), TableName: aws.String(rawTable),
		PartitionInput: &types.PartitionInput{Values: p.Values, StorageDescriptor: &sd},
	}); err != nil {
		b.Fatal(err)
	}
}
