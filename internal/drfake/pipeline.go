package drfake

import (
	"strings"
	"time"
)

// Traffic is what the backup region's ingest pipeline did during DR, in
// whole minutes.
type Traffic struct {
	// Producers sent requests in [From, Until).
	From, Until time.Time
	// RequestsPerMinute reach the load balancer; RecordsPerMinute the stream.
	RequestsPerMinute, RecordsPerMinute float64
	// CaughtUp is when the stream's consumers (the aggregator, Firehose)
	// had read everything; they lag before it.
	CaughtUp time.Time
	// PollUntil is when the consumers stop polling (the failover stack is
	// gone): no iterator-age datapoints after it. Zero: an hour after Until.
	PollUntil time.Time
	// Buffer is Firehose's buffering interval, e.g. 60s.
	Buffer time.Duration
}

// PublishBackupPipeline puts into the backup region's CloudWatch what the
// services publish for traffic, and nothing they do not:
//   - AWS/ApplicationELB RequestCount by LoadBalancer ("app/name/id"), only
//     in minutes with requests ("Elastic Load Balancing reports metrics only
//     when requests are flowing through the load balancer", CloudWatch
//     metrics for your Application Load Balancer).
//   - AWS/Kinesis IncomingRecords by StreamName, only in minutes with
//     records: the documentation does not say an idle stream publishes
//     zeros, so the fake takes the harder reading. GetRecords.IteratorAge-
//     Milliseconds every minute the consumers poll, 0 once caught up
//     (Monitor Kinesis Data Streams with CloudWatch, stream-level metrics).
//   - AWS/Firehose by DeliveryStreamName for a Kinesis source:
//     DataReadFromKinesisStream.Records (with one minute read twice, as
//     after an internal failover), KinesisMillisBehindLatest while it
//     polls, DeliveryToS3.Records/.Success one buffer later and
//     DeliveryToS3.DataFreshness while records are inside Firehose. Never
//     IncomingRecords, which is documented for Direct PUT only ("Data
//     ingestion through Kinesis Data Streams" and "Data delivery metrics",
//     Amazon Data Firehose Developer Guide).
func (w *World) PublishBackupPipeline(t Traffic) {
	cw := w.Backup.CloudWatch
	lb := map[string]string{"LoadBalancer": LoadBalancerDimension(w.BackupLoadBalancerArn())}
	stream := map[string]string{"StreamName": w.Names.Stream()}
	delivery := map[string]string{"DeliveryStreamName": w.Names.DeliveryStream()}
	if t.PollUntil.IsZero() {
		t.PollUntil = t.Until.Add(time.Hour)
	}
	if t.Buffer <= 0 {
		t.Buffer = time.Minute
	}
	put := func(ns, name string, dims map[string]string, at time.Time, v float64) {
		cw.Put(Metric{Namespace: ns, Name: name, Dimensions: dims}, Point{Time: at, Value: v})
	}
	for at := t.From; at.Before(t.Until); at = at.Add(time.Minute) {
		put("AWS/ApplicationELB", "RequestCount", lb, at, t.RequestsPerMinute)
		put("AWS/Kinesis", "IncomingRecords", stream, at, t.RecordsPerMinute)
		read := t.RecordsPerMinute
		if at.Equal(t.From) {
			read *= 2 // a reread after an internal failover
		}
		put("AWS/Firehose", "DataReadFromKinesisStream.Records", delivery, at, read)
		put("AWS/Firehose", "DeliveryToS3.Records", delivery, at.Add(t.Buffer), t.RecordsPerMinute)
		put("AWS/Firehose", "DeliveryToS3.Success", delivery, at.Add(t.Buffer), 1)
		put("AWS/Firehose", "DeliveryToS3.DataFreshness", delivery, at, t.Buffer.Seconds())
	}
	for at := t.From; at.Before(t.PollUntil); at = at.Add(time.Minute) {
		behind := 0.0
		if at.Before(t.CaughtUp) {
			behind = float64(t.CaughtUp.Sub(at).Milliseconds())
		}
		put("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", stream, at, behind)
		put("AWS/Firehose", "KinesisMillisBehindLatest", delivery, at, behind)
	}
}

// LoadBalancerDimension is the LoadBalancer dimension of a load balancer's
// ARN: the part after "loadbalancer/", e.g. "app/name/50dc6c495c0c9188".
func LoadBalancerDimension(arn string) string {
	_, dim, _ := strings.Cut(arn, ":loadbalancer/")
	return dim
}
