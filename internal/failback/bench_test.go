package failback_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/dynalite"
	"github.com/dr-analytics/drplan/internal/failback"
)

const benchObjects = 5000

// benchmarkCopy copies 5,000 small objects from one bucket into a fresh one
// per iteration on one gofakes3 server, with the given parallelism.
func benchmarkCopy(b *testing.B, workers int) {
	clock := drfake.NewClock(failover.Add(time.Minute))
	store := drfake.NewS3(b, clock)
	store.CreateBucket(b, "replica")
	for i := range benchObjects {
		store.PutObject(b, "replica", fmt.Sprintf("raw/year=2026/month=11/day=25/hour=%02d/delivery-%05d.gz", 11+i%3, i), []byte(fmt.Sprintf("event batch %d", i)))
	}
	client := s3Client(store.URL(), "us-east-1")
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		dest := fmt.Sprintf("primary-%d", i)
		store.CreateBucket(b, dest)
		b.StartTimer()
		res, err := failback.CopyObjects(context.Background(), failback.CopyInput{
			Source: client, Dest: client, Pairs: []failback.BucketPair{{Source: "replica", Dest: dest}},
			Since: failover, Workers: workers,
		})
		if err != nil || res.Copied != benchObjects || len(res.Mismatches) != 0 {
			b.Fatalf("copied %d, mismatches %d: %v", res.Copied, len(res.Mismatches), err)
		}
	}
	b.ReportMetric(float64(benchObjects*b.N)/b.Elapsed().Seconds(), "objects/s")
}

func BenchmarkCopyParallel(b *testing.B)   { benchmarkCopy(b, 32) }
func BenchmarkCopySequential(b *testing.B) { benchmarkCopy(b, 1) }

const benchItems = 2000

// BenchmarkMerge merges 2,000 backup-region items into a fresh primary
// table per iteration, against dynalite.
func BenchmarkMerge(b *testing.B) {
	endpoint := dynalite.Start(b)
	client := dynamodb.NewFromConfig(awsfake.Config(endpoint, "us-west-2"))
	createTable(b, client, "backup")
	var items []map[string]ddbtypes.AttributeValue
	for i := range benchItems {
		window := failover.Add(time.Duration(i/8) * time.Minute)
		items = append(items, aggregateItem(fmt.Sprintf("type-%d", i%8), "us-west-2", window, "shardId-000000000000", i, window.Add(61*time.Second)))
	}
	putItems(b, client, "backup", items)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		table := fmt.Sprintf("primary-%d", i)
		createTable(b, client, table)
		b.StartTimer()
		res, err := failback.MergeItems(context.Background(), failback.MergeInput{
			Source: &renamed{client, "backup"}, Dest: &renamed{client, table}, Table: table,
			Region: "us-west-2", Since: failover, Segments: 8,
		})
		if err != nil || res.Written != benchItems {
			b.Fatalf("wrote %d: %v", res.Written, err)
		}
	}
	b.ReportMetric(float64(benchItems*b.N)/b.Elapsed().Seconds(), "items/s")
}

// renamed scans a differently named table, so both "regions" can live in
// one dynalite (the real tables share a name across regions).
type renamed struct {
	*dynamodb.Client
	table string
}

func (r *renamed) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	copied := *in
	copied.TableName = aws.String(r.table)
	return r.Client.Scan(ctx, &copied, opts...)
}
