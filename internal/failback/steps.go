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

	"github.com/dr-analytics/drplan/internal/naming"
)

// Dials the failback leaves: all traffic to the primary.
const (
	primaryDial = float32(100)
	backupDial  = float32(0)
)

// setDials turns the primary group's traffic dial to 100 and the backup
// group's to 0. The backup pipeline keeps running and drains.
func setDials(ctx context.Context, in Input, names naming.Names, s *Step) error {
	param := names.ListenerParameter()
	out, err := in.Backup.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
	if err != nil {
		return fmt.Errorf("read the listener ARN from SSM parameter %s in %s: %w (is BackupStack deployed?)", param, in.Backup.Name, err)
	}
	listener := aws.ToString(out.Parameter.Value)
	groups := map[string]gatypes.EndpointGroup{}
	p := globalaccelerator.NewListEndpointGroupsPaginator(in.GlobalAccelerator, &globalaccelerator.ListEndpointGroupsInput{ListenerArn: aws.String(listener)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list endpoint groups of %s: %w", listener, err)
		}
		for _, g := range page.EndpointGroups {
			groups[aws.ToString(g.EndpointGroupRegion)] = g
		}
	}
	primary, ok := groups[in.Primary.Name]
	if !ok {
		return fmt.Errorf("listener %s has no endpoint group in the primary region %s: deploy PrimaryStack before failing back", listener, in.Primary.Name)
	}
	healthy := 0
	for _, e := range primary.EndpointDescriptions {
		if e.HealthState == gatypes.HealthStateHealthy {
			healthy++
		}
	}
	if healthy == 0 {
		return fmt.Errorf("the primary endpoint group %s has no healthy endpoint (%d endpoints): traffic would have nowhere to go; fix ingest in %s first", aws.ToString(primary.EndpointGroupArn), len(primary.EndpointDescriptions), in.Primary.Name)
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
	var dials [2]int64
	for i, t := range targets {
		if !t.found {
			s.Actions = append(s.Actions, fmt.Sprintf("backup region %s has no endpoint group: nothing to turn down", in.Backup.Name))
			dials[i] = -1
			continue
		}
		current := float32(100)
		if t.group.TrafficDialPercentage != nil {
			current = *t.group.TrafficDialPercentage
		}
		region := aws.ToString(t.group.EndpointGroupRegion)
		dials[i] = int64(t.dial)
		switch {
		case current == t.dial:
			s.Actions = append(s.Actions, fmt.Sprintf("%s group %s already at %s%%", t.role, region, pct(current)))
		case in.DryRun:
			dials[i] = int64(current)
			s.Actions = append(s.Actions, fmt.Sprintf("would set the %s group %s from %s%% to %s%%", t.role, region, pct(current), pct(t.dial)))
		default:
			_, err := in.GlobalAccelerator.UpdateEndpointGroup(ctx, &globalaccelerator.UpdateEndpointGroupInput{
				EndpointGroupArn: t.group.EndpointGroupArn, TrafficDialPercentage: aws.Float32(t.dial),
			})
			if err != nil {
				return fmt.Errorf("set the %s group %s to %s%%: %w", t.role, region, pct(t.dial), err)
			}
			s.Actions = append(s.Actions, fmt.Sprintf("set the %s group %s from %s%% to %s%%", t.role, region, pct(current), pct(t.dial)))
		}
	}
	s.Counts = append(s.Counts, Count{What: "traffic dial", Unit: "percent", Primary: dials[0], Backup: dials[1]})
	return nil
}

func pct(f float32) string { return fmt.Sprintf("%g", f) }

// Drain thresholds: "about zero" for the backup pipeline's metrics.
const (
	quietWindow     = 3 * time.Minute
	maxIteratorAge  = 1000 // milliseconds
	recentWindow    = 5 * time.Minute
	totalsPeriod    = 3600
	metricsPeriod   = 60
	maxMetricsPages = 100
)

// pipeline is the backup pipeline's state from CloudWatch.
type pipeline struct {
	incomingRecent     float64 // Kinesis IncomingRecords in the quiet window
	iteratorAge        float64 // worst GetRecords.IteratorAgeMilliseconds in the quiet window
	freshness          float64 // latest Firehose DeliveryToS3.DataFreshness, seconds
	ingested           float64 // Kinesis IncomingRecords since failover
	firehoseIncoming   float64 // Firehose IncomingRecords since failover
	firehoseDelivered  float64 // Firehose DeliveryToS3.Records since failover
	hasFreshnessPoints bool
	// covered says the IncomingRecords series reports over the whole quiet
	// window: a datapoint at or before its start and one inside it. An
	// idle stream reports zeros; no datapoints is no evidence at all (a
	// wrong name or dimension, CloudWatch's lag, a missing stream).
	covered bool
	stream  string
}

func (p pipeline) drained() bool {
	return p.covered && p.incomingRecent == 0 && p.iteratorAge <= maxIteratorAge &&
		p.firehoseDelivered >= p.firehoseIncoming && !p.firehoseSilent()
}

// firehoseSilent: the stream took records since failover but Firehose
// reports none, so "delivered all it received" proves nothing.
func (p pipeline) firehoseSilent() bool { return p.ingested > 0 && p.firehoseIncoming == 0 }

func (p pipeline) String() string {
	freshness := "no data in Firehose"
	if p.hasFreshnessPoints {
		freshness = fmt.Sprintf("oldest undelivered %gs", p.freshness)
	}
	text := fmt.Sprintf("Kinesis %g records in the last %s, iterator age %gms; Firehose delivered %g of %g records since failover (%s)",
		p.incomingRecent, quietWindow, p.iteratorAge, p.firehoseDelivered, p.firehoseIncoming, freshness)
	if !p.covered {
		text += fmt.Sprintf("; but CloudWatch has no IncomingRecords datapoints for stream %s covering the last %s (CloudWatch lags, or the stream's name or dimension is wrong, or the stream is gone), so the stream cannot be shown idle", p.stream, quietWindow)
	}
	if p.firehoseSilent() {
		text += fmt.Sprintf("; but Firehose reports no records although the stream took %g since failover (is the delivery stream's name right?)", p.ingested)
	}
	return text
}

// drain waits until the backup region's stream and Firehose have
// delivered everything, then one Firehose buffer interval more so the last
// buffer lands in the replica bucket before the copy lists it.
func drain(ctx context.Context, in Input, names naming.Names, since time.Time, s *Step) error {
	deadline := in.Now().Add(in.DrainTimeout)
	buffer := time.Duration(in.Config.FirehoseBufferSeconds) * time.Second
	in.Progress.Start("drain backup pipeline", 0, 0)
	defer in.Progress.Done()
	polls := 0
	for {
		state, err := readPipeline(ctx, in.Backup.CloudWatch, names, since, in.Now())
		if err != nil {
			return fmt.Errorf("read the backup pipeline's metrics in %s: %w", in.Backup.Name, err)
		}
		polls++
		s.Counts = []Count{{What: "records ingested since failover", Unit: "records", Backup: int64(state.ingested), Primary: -1},
			{What: "records delivered to S3 since failover", Unit: "records", Backup: int64(state.firehoseDelivered), Primary: -1}}
		if in.DryRun {
			verdict := "drained"
			if !state.drained() {
				verdict = "not drained yet; a real run would wait up to " + in.DrainTimeout.String()
			}
			s.Actions = append(s.Actions, fmt.Sprintf("%s: %s", verdict, state))
			return failedWindows(ctx, in, names, s)
		}
		if state.drained() {
			s.Actions = append(s.Actions, fmt.Sprintf("drained after %d look(s): %s", polls, state))
			break
		}
		if !in.Now().Before(deadline) {
			return fmt.Errorf("the backup pipeline has not drained after %s: %s; raise -drain-timeout, or check the failover stack's stream and Firehose (producers may still reach %s)", in.DrainTimeout, state, in.Backup.Name)
		}
		in.Progress.Add(0, 0) // redraw the elapsed time
		if err := in.Retry.Sleep(ctx, in.DrainPoll); err != nil {
			return err
		}
	}
	if buffer > 0 {
		if err := in.Retry.Sleep(ctx, buffer); err != nil {
			return err
		}
		s.Actions = append(s.Actions, fmt.Sprintf("waited one Firehose buffer interval (%s) for the last buffer to land", buffer))
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
}

func readPipeline(ctx context.Context, cw CloudWatchAPI, names naming.Names, since, now time.Time) (pipeline, error) {
	stream := map[string]string{"StreamName": names.Stream()}
	delivery := map[string]string{"DeliveryStreamName": names.DeliveryStream()}
	recent, err := metricValues(ctx, cw, now.Add(-recentWindow), now, metricsPeriod, []metricQuery{
		{"incoming", "AWS/Kinesis", "IncomingRecords", "Sum", stream},
		{"age", "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "Maximum", stream},
		{"freshness", "AWS/Firehose", "DeliveryToS3.DataFreshness", "Maximum", delivery},
	})
	if err != nil {
		return pipeline{}, err
	}
	totals, err := metricValues(ctx, cw, since, now, totalsPeriod, []metricQuery{
		{"ingested", "AWS/Kinesis", "IncomingRecords", "Sum", stream},
		{"fhin", "AWS/Firehose", "IncomingRecords", "Sum", delivery},
		{"fhout", "AWS/Firehose", "DeliveryToS3.Records", "Sum", delivery},
	})
	if err != nil {
		return pipeline{}, err
	}
	p := pipeline{stream: names.Stream()}
	quietFrom := now.Add(-quietWindow)
	var reportsFromStart, reportsInWindow bool
	for _, pt := range recent["incoming"] {
		if pt.at.After(quietFrom) {
			reportsInWindow = true
		} else {
			reportsFromStart = true
		}
		if !pt.at.Before(quietFrom) {
			p.incomingRecent += pt.v
		}
	}
	p.covered = reportsFromStart && reportsInWindow
	for _, pt := range recent["age"] {
		if !pt.at.Before(quietFrom) {
			p.iteratorAge = max(p.iteratorAge, pt.v)
		}
	}
	if f := recent["freshness"]; len(f) > 0 {
		p.freshness, p.hasFreshnessPoints = f[len(f)-1].v, true
	}
	for _, pt := range totals["ingested"] {
		p.ingested += pt.v
	}
	for _, pt := range totals["fhin"] {
		p.firehoseIncoming += pt.v
	}
	for _, pt := range totals["fhout"] {
		p.firehoseDelivered += pt.v
	}
	return p, nil
}

type datapoint struct {
	at time.Time
	v  float64
}

// metricValues reads datapoints, oldest first, by query id.
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
		pairs = append(pairs, BucketPair{Source: names.Bucket(p, in.Backup.Name), Dest: names.Bucket(p, in.Primary.Name)})
	}
	res, err := CopyObjects(ctx, CopyInput{
		Source: in.Backup.S3, Dest: in.Primary.S3, Pairs: pairs, Since: since,
		Workers: in.Workers, DryRun: in.DryRun, MultipartThreshold: in.MultipartThreshold, PartSize: in.PartSize,
		Retry: in.Retry, Progress: in.Progress,
	})
	verb := "copied"
	if in.DryRun {
		verb = "would copy"
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
		Since: since, Segments: in.Segments, DryRun: in.DryRun, Retry: in.Retry, Progress: in.Progress,
	})
	verb := "wrote"
	if in.DryRun {
		verb = "would write"
	}
	s.Actions = append(s.Actions, fmt.Sprintf("%s %d items, %d already present, %d kept (newer in the primary), %d retries",
		verb, res.Written, res.AlreadyPresent, res.KeptNewer, res.Retries))
	primaryCount := int64(res.Verified)
	if in.DryRun {
		primaryCount = int64(res.AlreadyPresent + res.KeptNewer)
	}
	s.Counts = append(s.Counts, Count{What: "items written in " + in.Backup.Name + " since failover", Unit: "items", Backup: int64(res.Matched), Primary: primaryCount})
	s.Mismatches = append(s.Mismatches, res.Mismatches...)
	return err
}
