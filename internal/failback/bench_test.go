package failback_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/dynalite"
	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/naming"
)

// benchObjects are copied per iteration by the copy benchmarks, on an S3
// fake that adds benchLatency to every request, as real S3 does.
const (
	benchObjects = 500
	benchLatency = 20 * time.Millisecond
)

// benchmarkCopy copies benchObjects small objects from one bucket into a
// fresh one per iteration, with the given parallelism.
func benchmarkCopy(b *testing.B, workers int) {
	clock := drfake.NewClock(failover.Add(time.Minute))
	store := drfake.NewS3(b, clock)
	store.CreateBucket(b, "replica")
	for i := range benchObjects {
		store.PutObject(b, "replica", fmt.Sprintf("raw/year=2026/month=11/day=25/hour=%02d/delivery-%05d.gz", 11+i%3, i), []byte(fmt.Sprintf("event batch %d", i)))
	}
	store.SetLatency(benchLatency)
	client := s3Client(store.URL(), "us-east-1")
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		dest := fmt.Sprintf("primary-%d", i)
		store.CreateBucket(b, dest)
		b.StartTimer()
		res, err := failback.CopyObjects(context.Background(), failback.CopyInput{
			Source: client, Dest: client, Since: failover, Workers: workers,
			Pairs: []failback.BucketPair{{Source: "replica", Dest: dest, Prefixes: failback.DRPrefixes(naming.Streaming, failover, now)}},
		})
		if err != nil || res.Copied != benchObjects || len(res.Mismatches) != 0 {
			b.Fatalf("copied %d, mismatches %d: %v", res.Copied, len(res.Mismatches), err)
		}
	}
	b.ReportMetric(float64(benchObjects*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkCopyParallel uses drctl's default workers.
func BenchmarkCopyParallel(b *testing.B)   { benchmarkCopy(b, 32) }
func BenchmarkCopySequential(b *testing.B) { benchmarkCopy(b, 1) }

// BenchmarkCopyPlanning counts the LIST requests that find 5,000 objects
// written during a 3-hour DR in replica and primary buckets that also hold
// 1,000,000 replicated objects from the 30 days before, against listing
// the whole replica bucket (the earlier approach).
func BenchmarkCopyPlanning(b *testing.B) {
	const replicated, written = 1_000_000, 5_000
	listing := drfake.NewListing()
	start := failover.Add(-30 * 24 * time.Hour)
	for i := range replicated {
		at := start.Add(time.Duration(i) * (30 * 24 * time.Hour / replicated))
		key := fmt.Sprintf("raw/year=%04d/month=%02d/day=%02d/hour=%02d/delivery-%07d.gz", at.Year(), at.Month(), at.Day(), at.Hour(), i)
		listing.Put("replica", key, 1000, at)
		listing.Put("primary", key, 1000, at)
	}
	for i := range written {
		at := failover.Add(time.Duration(i) * (3 * time.Hour / written))
		listing.Put("replica", fmt.Sprintf("raw/year=%04d/month=%02d/day=%02d/hour=%02d/dr-%05d.gz", at.Year(), at.Month(), at.Day(), at.Hour(), i), 1000, at)
	}
	whole := listing.Calls()
	p := s3.NewListObjectsV2Paginator(listing, &s3.ListObjectsV2Input{Bucket: aws.String("replica")})
	for p.HasMorePages() {
		if _, err := p.NextPage(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	whole = listing.Calls() - whole
	b.ResetTimer()
	for range b.N {
		before := listing.Calls()
		res, err := failback.CopyObjects(context.Background(), failback.CopyInput{
			Source: listing, Dest: listing, Since: failover, DryRun: true,
			Pairs: []failback.BucketPair{{Source: "replica", Dest: "primary", Prefixes: failback.DRPrefixes(naming.Streaming, failover, now)}},
		})
		if err != nil || res.Copied != written {
			b.Fatalf("planned %d copies, want %d: %v", res.Copied, written, err)
		}
		b.ReportMetric(float64(listing.Calls()-before), "LIST-calls")
	}
	b.ReportMetric(float64(whole), "whole-bucket-LIST-calls")
}

// BenchmarkMerge merges 2,000 items the backup region wrote during DR
// from a table that also holds 200,000 earlier items into a fresh primary
// table per iteration, against dynalite, and reports the items read.
func BenchmarkMerge(b *testing.B) {
	const written, earlier = 2000, 200_000
	endpoint := dynalite.Start(b)
	client := dynamodb.NewFromConfig(awsfake.Config(endpoint, "us-west-2"))
	createTable(b, client, "backup")
	var items []map[string]ddbtypes.AttributeValue
	for i := range earlier {
		window := failover.Add(-time.Duration(i/8+1) * time.Minute)
		items = append(items, aggregateItem(fmt.Sprintf("type-%d", i%8), "us-east-1", window, "shardId-000000000000", i, window.Add(61*time.Second)))
	}
	for i := range written {
		window := failover.Add(time.Duration(i/8) * time.Minute)
		items = append(items, aggregateItem(fmt.Sprintf("type-%d", i%8), "us-west-2", window, "shardId-000000000000", i, window.Add(61*time.Second)))
	}
	var seed sync.WaitGroup
	for w := range 8 {
		seed.Go(func() {
			for i := w * 25; i < len(items); i += 8 * 25 {
				putItems(b, client, "backup", items[i:min(i+25, len(items))])
			}
		})
	}
	seed.Wait()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		table := fmt.Sprintf("primary-%d", i)
		createTable(b, client, table)
		b.StartTimer()
		res, err := failback.MergeItems(context.Background(), failback.MergeInput{
			Source: &renamed{client, "backup"}, Dest: &renamed{client, table}, Table: table,
			Region: "us-west-2", Since: failover, Until: failover.Add(5 * time.Hour), Segments: 8,
		})
		if err != nil || res.Written != written {
			b.Fatalf("wrote %d: %v", res.Written, err)
		}
		b.ReportMetric(float64(res.Read), "items-read")
	}
	b.ReportMetric(float64(written*b.N)/b.Elapsed().Seconds(), "items/s")
}

// renamed queries a differently named table, so both "regions" can live
// in one dynalite (the real tables share a name across regions).
type renamed struct {
	*dynamodb.Client
	table string
}

func (r *renamed) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	copied := *in
	copied.TableName = aws.String(r.table)
	return r.Client.Query(ctx, &copied, opts...)
}
