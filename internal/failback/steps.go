package failback

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	gatypes "github.com/aws/aws-sdk-go-v2/service/globalaccelerator/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Dials the failback leaves: all traffic to the primary.
const (
	primaryDial = float32(100)
	backupDial  = float32(0)
)

// dials is what the dial step learned for the drain: when this run moved
// the backup group's dial (zero when it was already at 0), and the load
// balancers behind the backup group (its endpoints' ARNs).
type dials struct {
	at            time.Time
	loadBalancers []string
}

// setDials turns the primary group's traffic dial to 100 and the backup
// group's to 0. The backup pipeline keeps running and drains.
func setDials(ctx context.Context, in Input, names naming.Names, s *Step) (dials, error) {
	var res dials
	param := names.ListenerParameter()
	out, err := in.Backup.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
	if err != nil {
		return res, fmt.Errorf("read the listener ARN from SSM parameter %s in %s: %w (is BackupStack deployed?)", param, in.Backup.Name, err)
	}
	listener := aws.ToString(out.Parameter.Value)
	groups := map[string]gatypes.EndpointGroup{}
	p := globalaccelerator.NewListEndpointGroupsPaginator(in.GlobalAccelerator, &globalaccelerator.ListEndpointGroupsInput{ListenerArn: aws.String(listener)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return res, fmt.Errorf("list endpoint groups of %s: %w", listener, err)
		}
		for _, g := range page.EndpointGroups {
			groups[aws.ToString(g.EndpointGroupRegion)] = g
		}
	}
	primary, ok := groups[in.Primary.Name]
	if !ok {
		return res, fmt.Errorf("listener %s has no endpoint group in the primary region %s: deploy PrimaryStack before failing back", listener, in.Primary.Name)
	}
	healthy := 0
	for _, e := range primary.EndpointDescriptions {
		if e.HealthState == gatypes.HealthStateHealthy {
			healthy++
		}
	}
	if healthy == 0 {
		return res, fmt.Errorf("the primary endpoint group %s has no healthy endpoint (%d endpoints): traffic would have nowhere to go; fix ingest in %s first", aws.ToString(primary.EndpointGroupArn), len(primary.EndpointDescriptions), in.Primary.Name)
	}
	targets := []struct {
		role  string
		group gatypes.EndpointGroup
		dial  float32
		found bool
	}{{"primary", primary, primaryDial, true}}
	backup, found := groups[in.Backup.Name]
	targets = append(targets, struct {
		role  string
		group gatypes.EndpointGroup
		dial  float32
		found bool
	}{"backup", backup, backupDial, found})
	var percent [2]int64
	// An ALB endpoint's EndpointId is its ARN (EndpointDescription, Global
	// Accelerator API Reference); the drain reads its RequestCount.
	for _, e := range backup.EndpointDescriptions {
		if arn := aws.ToString(e.EndpointId); strings.Contains(arn, ":loadbalancer/app/") {
			res.loadBalancers = append(res.loadBalancers, arn)
		}
	}
	for i, t := range targets {
		if !t.found {
			s.Actions = append(s.Actions, fmt.Sprintf("backup region %s has no endpoint group: nothing to turn down", in.Backup.Name))
			percent[i] = -1
			continue
		}
		current := float32(100)
		if t.group.TrafficDialPercentage != nil {
			current = *t.group.TrafficDialPercentage
		}
		region := aws.ToString(t.group.EndpointGroupRegion)
		percent[i] = int64(t.dial)
		switch {
		case current == t.dial:
			s.Actions = append(s.Actions, fmt.Sprintf("%s group %s already at %s%%", t.role, region, pct(current)))
		case in.DryRun:
			percent[i] = int64(current)
			s.Actions = append(s.Actions, fmt.Sprintf("would set the %s group %s from %s%% to %s%%", t.role, region, pct(current), pct(t.dial)))
		default:
			_, err := in.GlobalAccelerator.UpdateEndpointGroup(ctx, &globalaccelerator.UpdateEndpointGroupInput{
				EndpointGroupArn: t.group.EndpointGroupArn, TrafficDialPercentage: aws.Float32(t.dial),
			})
			if err != nil {
				return res, fmt.Errorf("set the %s group %s to %s%%: %w", t.role, region, pct(t.dial), err)
			}
			s.Actions = append(s.Actions, fmt.Sprintf("set the %s group %s from %s%% to %s%%", t.role, region, pct(current), pct(t.dial)))
			if t.role == "backup" {
				res.at = in.Now()
			}
		}
	}
	s.Counts = append(s.Counts, Count{What: "traffic dial", Unit: "percent", Primary: percent[0], Backup: percent[1]})
	return res, nil
}

func pct(f float32) string { return fmt.Sprintf("%g", f) }

// Drain settings. Metric names, dimensions and meanings are from "Monitor
// Kinesis Data Streams with Amazon CloudWatch" (stream-level metrics),
// "Monitor Amazon Data Firehose with CloudWatch metrics" (Kinesis-source
// and S3 delivery metrics) and "CloudWatch metrics for your Application
// Load Balancer".
const (
	// DefaultMetricLag is how late CloudWatch may publish a minute's
	// datapoints; the drain only judges windows that ended this long ago,
	// because a not yet published minute reads as missing, and FILL would
	// turn it into a false zero.
	DefaultMetricLag = 5 * time.Minute
	// DefaultQuietPeriod is how long the backup load balancer and stream
	// must see nothing. Global Accelerator moves only new connections, and
	// the ingest ALB ends each client connection after its client
	// keep-alive (60 s here; ELB's default is 3600 s), so a quiet period of
	// a few minutes outlasts every producer's last connection.
	DefaultQuietPeriod = 5 * time.Minute
	// DefaultDrainTimeout bounds the drain: the quiet period, the metric
	// lag, Firehose's buffer and delivery, with room for a slow stream.
	DefaultDrainTimeout = 30 * time.Minute
	metricPeriod        = 60
	totalsPeriod        = 3600
	maxMetricsPages     = 100
)

// pipeline is the backup pipeline's state in one look at CloudWatch.
type pipeline struct {
	from, to time.Time // the judged window
	// dialsAt: this run moved the dials then; the window must start after.
	dialsAt time.Time
	// requests to the backup load balancers and records into the stream
	// in the window, missing minutes filled with 0 (FILL: both report only
	// while something flows).
	requests, records float64
	loadBalancers     []string
	// Latest iterator age of the stream (every consumer), Firehose's
	// KinesisMillisBehindLatest, DeliveryToS3.DataFreshness in the window.
	iteratorAge, behind, freshness          float64
	hasIteratorAge, hasBehind, hasFreshness bool
	buffer                                  time.Duration
	// seen: any stream or Firehose datapoint since failover. Without one,
	// CloudWatch knows nothing of the pipeline: not "drained".
	seen bool
	// Since failover: records Firehose read (counts rereads, so never
	// compared) and delivered to S3.
	read, delivered  float64
	stream, delivery string
}

// waitingFor says what the pipeline still waits for, "" when drained.
func (p pipeline) waitingFor() string {
	switch {
	case !p.seen:
		return fmt.Sprintf("CloudWatch has no datapoint for stream %s or delivery stream %s since the failover: no data at all is not evidence of a drained pipeline (a wrong name, or a pipeline that never ran)", p.stream, p.delivery)
	case p.from.Before(p.dialsAt):
		return fmt.Sprintf("a quiet period that starts after the dials moved (%s); CloudWatch is read up to %s", p.dialsAt.Format(time.RFC3339), p.to.Format(time.RFC3339))
	case p.requests > 0:
		return fmt.Sprintf("producers still reach the backup load balancer (%g requests in %s to %s; connections opened before the dials moved last until they close)", p.requests, p.from.Format("15:04"), p.to.Format("15:04"))
	case p.records > 0:
		return fmt.Sprintf("the stream still takes records (%g in %s to %s)", p.records, p.from.Format("15:04"), p.to.Format("15:04"))
	case !p.hasIteratorAge:
		return "iterator-age datapoints of the stream's consumers in the quiet window"
	case p.iteratorAge > 0:
		return fmt.Sprintf("the stream's consumers to catch up (iterator age %gms)", p.iteratorAge)
	case !p.hasBehind:
		return "Firehose's KinesisMillisBehindLatest datapoints in the quiet window"
	case p.behind > 0:
		return fmt.Sprintf("Firehose to catch up with the stream (%gms behind)", p.behind)
	case p.hasFreshness && p.freshness > p.buffer.Seconds():
		return fmt.Sprintf("Firehose to deliver its oldest record (%gs old, buffer %s)", p.freshness, p.buffer)
	}
	return ""
}

func (p pipeline) String() string {
	freshness := "no DataFreshness datapoint (nothing buffered)"
	if p.hasFreshness {
		freshness = fmt.Sprintf("DataFreshness %gs", p.freshness)
	}
	return fmt.Sprintf("%s to %s: %g requests to %d backup load balancer(s), %g records into the stream, iterator age %s, Firehose behind %s, %s; since failover Firehose read %g records (rereads included) and delivered %g to S3",
		p.from.Format(time.RFC3339), p.to.Format(time.RFC3339), p.requests, len(p.loadBalancers), p.records,
		orNone(p.hasIteratorAge, p.iteratorAge, "ms"), orNone(p.hasBehind, p.behind, "ms"), freshness, p.read, p.delivered)
}

func orNone(ok bool, v float64, unit string) string {
	if !ok {
		return "no datapoint"
	}
	return fmt.Sprintf("%g%s", v, unit)
}

// drain waits until producers have left the backup region and its stream
// and Firehose have delivered everything, then one Firehose buffer
// interval more so the last buffer lands before the copy. -drained-at
// replaces the wait with the operator's word.
func drain(ctx context.Context, in Input, names naming.Names, since time.Time, d dials, s *Step) error {
	buffer := time.Duration(in.Config.FirehoseBufferSeconds) * time.Second
	look := func() (pipeline, error) {
		p, err := readPipeline(ctx, in, names, since, d)
		if err != nil {
			return p, fmt.Errorf("read the backup pipeline's metrics in %s: %w", in.Backup.Name, err)
		}
		s.Counts = []Count{{What: "records Firehose read since failover (rereads included)", Unit: "records", Backup: int64(p.read), Primary: -1},
			{What: "records delivered to S3 since failover", Unit: "records", Backup: int64(p.delivered), Primary: -1}}
		return p, nil
	}
	var drainedAt time.Time
	switch {
	case !in.DrainedAt.IsZero():
		drainedAt = in.DrainedAt
		note := "CloudWatch not read"
		if p, err := look(); err == nil {
			note = "CloudWatch showed " + p.String()
		}
		s.Actions = append(s.Actions, fmt.Sprintf("drained at %s on the operator's word (-drained-at), not measured; %s", drainedAt.UTC().Format(time.RFC3339), note))
	case in.DryRun:
		p, err := look()
		if err != nil {
			return err
		}
		verdict := "drained"
		if w := p.waitingFor(); w != "" {
			verdict = "not drained yet; a real run would wait up to " + in.DrainTimeout.String() + " for " + w
		}
		s.Actions = append(s.Actions, fmt.Sprintf("%s: %s", verdict, p))
		return failedWindows(ctx, in, names, s)
	default:
		deadline := in.Now().Add(in.DrainTimeout)
		in.Progress.Start("drain backup pipeline", 0, 0)
		for polls := 1; ; polls++ {
			p, err := look()
			if err != nil {
				in.Progress.Done()
				return err
			}
			w := p.waitingFor()
			if w == "" {
				in.Progress.Done()
				drainedAt = p.to
				s.Actions = append(s.Actions, fmt.Sprintf("drained (measured) after %d look(s): %s", polls, p))
				break
			}
			if !in.Now().Before(deadline) {
				in.Progress.Done()
				return fmt.Errorf("the backup pipeline has not drained after %s: waiting for %s; %s; raise -drain-timeout, or, if CloudWatch itself is down or the stream never empties, give -drained-at TIME (your word, recorded as such)", in.DrainTimeout, w, p)
			}
			in.Progress.Add(0, 0) // redraw the elapsed time
			if err := in.Retry.Sleep(ctx, in.DrainPoll); err != nil {
				in.Progress.Done()
				return err
			}
		}
	}
	if wait := drainedAt.Add(buffer).Sub(in.Now()); buffer > 0 && wait > 0 {
		if err := in.Retry.Sleep(ctx, wait); err != nil {
			return err
		}
		s.Actions = append(s.Actions, fmt.Sprintf("waited %s so the last Firehose buffer (%s) lands before the copy", wait, buffer))
	}
	return failedWindows(ctx, in, names, s)
}

// failedWindows counts the messages in the aggregator's on-failure
// queues: stream batches the aggregator gave up on, whose windows are in
// neither table. Each is a mismatch an operator must replay; reading the
// queue from the function's event source mappings (not by name) finds it
// whatever CloudFormation called it.
func failedWindows(ctx context.Context, in Input, names naming.Names, s *Step) error {
	function := names.Function("aggregator")
	var queues []string
	p := lambda.NewListEventSourceMappingsPaginator(in.Backup.Lambda, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(function)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			s.Mismatches = append(s.Mismatches, fmt.Sprintf("cannot check the windows the aggregator gave up on: list the event source mappings of %s in %s: %v", function, in.Backup.Name, err))
			return nil
		}
		for _, m := range page.EventSourceMappings {
			if m.DestinationConfig == nil || m.DestinationConfig.OnFailure == nil {
				continue
			}
			if arn := aws.ToString(m.DestinationConfig.OnFailure.Destination); arn != "" && !slices.Contains(queues, arn) {
				queues = append(queues, arn)
			}
		}
	}
	if len(queues) == 0 {
		s.Actions = append(s.Actions, fmt.Sprintf("%s in %s has no event source mapping with an on-failure destination: no given-up windows to count", function, in.Backup.Name))
		return nil
	}
	var total int64
	for _, arn := range queues {
		n, err := queueDepth(ctx, in, arn)
		if err != nil {
			s.Mismatches = append(s.Mismatches, fmt.Sprintf("cannot count the windows the aggregator gave up on in %s: %v", arn, err))
			continue
		}
		total += n
		if n == 0 {
			s.Actions = append(s.Actions, fmt.Sprintf("the aggregator's on-failure queue %s is empty", arn))
			continue
		}
		s.Mismatches = append(s.Mismatches, fmt.Sprintf("%d message(s) in the aggregator's on-failure queue %s: stream batches the aggregator gave up on, whose counts are in neither table; each message names the shard and sequence numbers: replay them into the backup table, delete the messages, then run failback again", n, arn))
	}
	s.Counts = append(s.Counts, Count{What: "windows the aggregator gave up on", Unit: "messages", Backup: total, Primary: -1})
	return nil
}

// queueDepth is the number of messages in the SQS queue arn, visible or
// in flight.
func queueDepth(ctx context.Context, in Input, arn string) (int64, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[2] != "sqs" {
		return 0, fmt.Errorf("the on-failure destination %s is not an SQS queue ARN", arn)
	}
	var url *sqs.GetQueueUrlOutput
	_, err := do(ctx, in.Retry, func(ctx context.Context) (err error) {
		url, err = in.Backup.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("get the queue URL: %w", err)
	}
	var attrs *sqs.GetQueueAttributesOutput
	_, err = do(ctx, in.Retry, func(ctx context.Context) (err error) {
		attrs, err = in.Backup.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("get the queue's attributes: %w", err)
	}
	var n int64
	for _, name := range []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible} {
		v, err := strconv.ParseInt(attrs.Attributes[string(name)], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("attribute %s = %q is not a count", name, attrs.Attributes[string(name)])
		}
		n += v
	}
	return n, nil
}

type metricQuery struct {
	id, namespace, name, stat string
	dims                      map[string]string
	// fill adds a FILL(id, 0) expression "<id>_filled" for metrics that
	// report only while something flows.
	fill bool
}

func readPipeline(ctx context.Context, in Input, names naming.Names, since time.Time, d dials) (pipeline, error) {
	lag, quiet := in.MetricLag, in.QuietPeriod
	to := in.Now().Add(-lag).Truncate(time.Minute)
	p := pipeline{from: to.Add(-quiet), to: to, dialsAt: d.at, loadBalancers: d.loadBalancers, stream: names.Stream(), delivery: names.DeliveryStream(),
		buffer: time.Duration(in.Config.FirehoseBufferSeconds) * time.Second}
	stream := map[string]string{"StreamName": names.Stream()}
	delivery := map[string]string{"DeliveryStreamName": names.DeliveryStream()}
	queries := []metricQuery{
		{id: "records", namespace: "AWS/Kinesis", name: "IncomingRecords", stat: "Sum", dims: stream, fill: true},
		{id: "age", namespace: "AWS/Kinesis", name: "GetRecords.IteratorAgeMilliseconds", stat: "Maximum", dims: stream},
		{id: "behind", namespace: "AWS/Firehose", name: "KinesisMillisBehindLatest", stat: "Maximum", dims: delivery},
		{id: "freshness", namespace: "AWS/Firehose", name: "DeliveryToS3.DataFreshness", stat: "Maximum", dims: delivery},
	}
	for i, arn := range d.loadBalancers {
		_, dim, _ := strings.Cut(arn, ":loadbalancer/")
		queries = append(queries, metricQuery{id: fmt.Sprintf("requests%d", i), namespace: "AWS/ApplicationELB", name: "RequestCount", stat: "Sum",
			dims: map[string]string{"LoadBalancer": dim}, fill: true})
	}
	if p.from.Before(since) {
		p.from = since
	}
	window, err := metricValues(ctx, in.Backup.CloudWatch, p.from, p.to, metricPeriod, queries)
	if err != nil {
		return p, err
	}
	for id, points := range window {
		for _, pt := range points {
			switch {
			case id == "records_filled":
				p.records += pt.v
			case strings.HasPrefix(id, "requests") && strings.HasSuffix(id, "_filled"):
				p.requests += pt.v
			}
		}
	}
	p.iteratorAge, p.hasIteratorAge = latest(window["age"])
	p.behind, p.hasBehind = latest(window["behind"])
	p.freshness, p.hasFreshness = latest(window["freshness"])
	totals, err := metricValues(ctx, in.Backup.CloudWatch, since, p.to.Add(time.Hour), totalsPeriod, []metricQuery{
		{id: "records", namespace: "AWS/Kinesis", name: "IncomingRecords", stat: "Sum", dims: stream},
		{id: "age", namespace: "AWS/Kinesis", name: "GetRecords.IteratorAgeMilliseconds", stat: "SampleCount", dims: stream},
		{id: "read", namespace: "AWS/Firehose", name: "DataReadFromKinesisStream.Records", stat: "Sum", dims: delivery},
		{id: "delivered", namespace: "AWS/Firehose", name: "DeliveryToS3.Records", stat: "Sum", dims: delivery},
	})
	if err != nil {
		return p, err
	}
	for id, points := range totals {
		p.seen = p.seen || len(points) > 0
		for _, pt := range points {
			switch id {
			case "read":
				p.read += pt.v
			case "delivered":
				p.delivered += pt.v
			}
		}
	}
	return p, nil
}

// latest is the newest datapoint's value.
func latest(points []datapoint) (float64, bool) {
	if len(points) == 0 {
		return 0, false
	}
	return points[len(points)-1].v, true
}

type datapoint struct {
	at time.Time
	v  float64
}

// metricValues reads datapoints, oldest first, by query id; a filled
// query's series comes as "<id>_filled".
func metricValues(ctx context.Context, cw CloudWatchAPI, start, end time.Time, period int32, queries []metricQuery) (map[string][]datapoint, error) {
	in := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(start), EndTime: aws.Time(end), ScanBy: cwtypes.ScanByTimestampAscending}
	for _, q := range queries {
		var dims []cwtypes.Dimension
		for k, v := range q.dims {
			dims = append(dims, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(v)})
		}
		in.MetricDataQueries = append(in.MetricDataQueries, cwtypes.MetricDataQuery{Id: aws.String(q.id), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(q.namespace), MetricName: aws.String(q.name), Dimensions: dims},
			Period: aws.Int32(period), Stat: aws.String(q.stat),
		}})
		if q.fill {
			// FILL(m, 0): a missing minute of a metric that reports only
			// while something flows is a zero ("Metric math syntax and
			// functions", CloudWatch User Guide).
			in.MetricDataQueries = append(in.MetricDataQueries, cwtypes.MetricDataQuery{Id: aws.String(q.id + "_filled"),
				Expression: aws.String("FILL(" + q.id + ", 0)")})
		}
	}
	out := map[string][]datapoint{}
	for range maxMetricsPages {
		page, err := cw.GetMetricData(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, r := range page.MetricDataResults {
			id := aws.ToString(r.Id)
			for i := range min(len(r.Timestamps), len(r.Values)) {
				out[id] = append(out[id], datapoint{r.Timestamps[i], r.Values[i]})
			}
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	return out, nil
}

// copyStep copies both data buckets' new objects back.
func copyStep(ctx context.Context, in Input, names naming.Names, since time.Time, s *Step) (CopyResult, error) {
	var pairs []BucketPair
	for _, p := range []naming.Purpose{naming.Streaming, naming.Batch} {
		pairs = append(pairs, BucketPair{Source: names.Bucket(p, in.Backup.Name), Dest: names.Bucket(p, in.Primary.Name), Prefixes: DRPrefixes(p, since, in.Now())})
	}
	res, err := CopyObjects(ctx, CopyInput{
		Source: in.Backup.S3, Dest: in.Primary.S3, Pairs: pairs, Since: since,
		Workers: in.Workers, DryRun: in.DryRun, MultipartThreshold: in.MultipartThreshold, PartSize: in.PartSize,
		Engine: in.Engine, BatchThreshold: in.BatchThreshold,
		Batch: BatchConfig{
			Control: in.Primary.S3Control, Account: names.Account, RoleArn: names.FailbackCopyRoleArn(),
			Bucket: names.Bucket(naming.AthenaResults, in.Primary.Name),
			RunID:  in.Backup.Name + ">" + in.Primary.Name + "@" + since.UTC().Format(time.RFC3339),
			Poll:   in.BatchPoll, Sleep: in.Retry.Sleep,
		},
		Retry: in.Retry, Progress: in.Progress,
	})
	verb := "copied"
	if in.DryRun {
		verb = "would copy"
	}
	engine := map[string]string{EngineLocal: "in this process (CopyObject)", EngineBatch: "with S3 Batch Operations"}[res.Engine]
	if res.Engine != "" {
		s.Actions = append(s.Actions, fmt.Sprintf("engine: %s: %s", engine, res.EngineWhy))
	}
	for _, j := range res.Jobs {
		how := "created"
		if j.Resumed {
			how = "followed the job an earlier run created"
		}
		rate := ""
		if j.Active > 0 {
			rate = fmt.Sprintf(", %.1f tasks/s", float64(j.Succeeded+j.Failed)/j.Active.Seconds())
		}
		s.Actions = append(s.Actions, fmt.Sprintf("job %s (%s) to %s: %s, %d of %d tasks succeeded, %d failed, active %s%s",
			j.ID, how, j.Bucket, j.Status, j.Succeeded, j.Total, j.Failed, j.Active, rate))
		for _, t := range j.FailedTasks {
			s.Actions = append(s.Actions, "  failed task, copied again in this process: "+t)
		}
	}
	s.Actions = append(s.Actions, fmt.Sprintf("%s %d objects (%s, %d multipart), %d already present, %d kept (newer in the primary), %d retries",
		verb, res.Copied, bytesText(res.BytesCopied), res.Multipart, res.AlreadyPresent, res.KeptNewer, res.Retries))
	primaryCount, primaryBytes := int64(res.Verified), res.VerifiedBytes
	if in.DryRun {
		primaryCount, primaryBytes = int64(res.AlreadyPresent+res.KeptNewer), res.ListedBytes-res.BytesCopied
	}
	s.Counts = append(s.Counts, Count{What: "objects written since failover", Unit: "objects", Backup: int64(res.Listed), Primary: primaryCount})
	s.Counts = append(s.Counts, Count{What: "their bytes", Unit: "bytes", Backup: res.ListedBytes, Primary: primaryBytes})
	s.Mismatches = append(s.Mismatches, res.Failed...)
	s.Mismatches = append(s.Mismatches, res.Mismatches...)
	return res, err
}

// mergeStep merges the backup region's items into the primary table.
func mergeStep(ctx context.Context, in Input, names naming.Names, since time.Time, s *Step) error {
	res, err := MergeItems(ctx, MergeInput{
		Source: in.Backup.DynamoDB, Dest: in.Primary.DynamoDB, Table: names.Table(), Region: in.Backup.Name,
		Since: since, Until: in.Now(), Segments: in.Segments, DryRun: in.DryRun, Retry: in.Retry, Progress: in.Progress,
	})
	verb := "wrote"
	if in.DryRun {
		verb = "would write"
	}
	s.Actions = append(s.Actions, fmt.Sprintf("read %d items from index %s (what %s wrote since failover, not the table)", res.Read, writerhour.Index, in.Backup.Name),
		fmt.Sprintf("%s %d items, %d already present, %d kept (newer in the primary), %d retries",
			verb, res.Written, res.AlreadyPresent, res.KeptNewer, res.Retries))
	primaryCount := int64(res.Verified)
	if in.DryRun {
		primaryCount = int64(res.AlreadyPresent + res.KeptNewer)
	}
	s.Counts = append(s.Counts, Count{What: "items written in " + in.Backup.Name + " since failover", Unit: "items", Backup: int64(res.Matched), Primary: primaryCount})
	s.Mismatches = append(s.Mismatches, res.Mismatches...)
	return err
}
