package failback_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/failback"
)

// The drain needs evidence that the pipeline is idle: CloudWatch having
// nothing to say is not it.
func TestDrainRequiresEvidenceOfAnIdleStream(t *testing.T) {
	cases := []struct {
		name  string
		seed  func(h *harness)
		want  string
		steps int
	}{
		{"no datapoints at all (a wrong dimension, CloudWatch lag, a missing stream)", func(h *harness) {},
			"no IncomingRecords datapoints for stream dr-analytics-events covering the last 3m0s", 2},
		{"datapoints under another stream's name", func(h *harness) {
			idle(h, map[string]string{"StreamName": "dr-analytics-events-old"}, now.Add(-time.Hour))
			firehose(h, 0)
		}, "no IncomingRecords datapoints for stream dr-analytics-events", 2},
		{"a series that stopped reporting before the quiet window", func(h *harness) {
			stream := map[string]string{"StreamName": h.names.Stream()}
			for at := now.Add(-10 * time.Minute); at.Before(now.Add(-4 * time.Minute)); at = at.Add(time.Minute) {
				h.w.Backup.CloudWatch.Put(drfake.Metric{Namespace: "AWS/Kinesis", Name: "IncomingRecords", Dimensions: stream}, drfake.Point{Time: at, Value: 0})
			}
			firehose(h, 0)
		}, "no IncomingRecords datapoints for stream dr-analytics-events covering the last 3m0s", 2},
		{"records taken but Firehose silent", func(h *harness) {
			stream := map[string]string{"StreamName": h.names.Stream()}
			h.w.Backup.CloudWatch.Put(drfake.Metric{Namespace: "AWS/Kinesis", Name: "IncomingRecords", Dimensions: stream}, drfake.Point{Time: failover, Value: 500})
			idle(h, stream, failover.Add(time.Minute))
		}, "Firehose reports no records although the stream took 500 since failover", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t).withTables(t)
			tc.seed(h)
			in := h.input()
			in.DrainTimeout = 5 * time.Minute
			report, err := failback.Run(context.Background(), in)
			if err == nil || !strings.Contains(err.Error(), "has not drained after 5m0s") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want the drain timeout saying %q", err, tc.want)
			}
			if len(report.Steps) != tc.steps || h.w.S3.Calls("CopyObject") != 0 {
				t.Errorf("%d steps ran, %d copies; nothing may run after the drain", len(report.Steps), h.w.S3.Calls("CopyObject"))
			}
		})
	}
	t.Run("an idle stream's zeros are evidence", func(t *testing.T) {
		h := newHarness(t).withTables(t)
		idle(h, map[string]string{"StreamName": h.names.Stream()}, failover)
		firehose(h, 0)
		report, err := failback.Run(context.Background(), h.input())
		if err != nil || !report.OK() {
			t.Fatalf("%v\n%s", err, reportText(t, report))
		}
		if text := reportText(t, report); !strings.Contains(text, "drained after 1 look(s)") {
			t.Errorf("report:\n%s", text)
		}
	})
}

// idle reports zero IncomingRecords every minute from `from` for two hours.
func idle(h *harness, dims map[string]string, from time.Time) {
	for at := from; at.Before(now.Add(time.Hour)); at = at.Add(time.Minute) {
		h.w.Backup.CloudWatch.Put(drfake.Metric{Namespace: "AWS/Kinesis", Name: "IncomingRecords", Dimensions: dims}, drfake.Point{Time: at, Value: 0})
	}
}

// firehose reports n records received and delivered since failover.
func firehose(h *harness, n float64) {
	delivery := map[string]string{"DeliveryStreamName": h.names.DeliveryStream()}
	h.w.Backup.CloudWatch.Put(drfake.Metric{Namespace: "AWS/Firehose", Name: "IncomingRecords", Dimensions: delivery}, drfake.Point{Time: failover.Add(time.Hour), Value: n})
	h.w.Backup.CloudWatch.Put(drfake.Metric{Namespace: "AWS/Firehose", Name: "DeliveryToS3.Records", Dimensions: delivery}, drfake.Point{Time: failover.Add(time.Hour), Value: n})
}

func TestWindowsTheAggregatorGaveUpOnAreAMismatch(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(h *harness)
		mismatch string // "" when none
		action   string
	}{
		{"messages in the on-failure queue", func(h *harness) { h.w.Backup.SQS.SetMessages(h.w.AggregatorFailures, 3) },
			"3 message(s) in the aggregator's on-failure queue arn:aws:sqs:us-west-2:123456789012:BackupStack-StandbyProcessingAggregatorFailures", ""},
		{"an empty queue", func(h *harness) {}, "", "the aggregator's on-failure queue arn:aws:sqs:us-west-2:123456789012:BackupStack-StandbyProcessingAggregatorFailures5C6C2A8E-Xq3vLd0bS1Ze is empty"},
		{"the queue cannot be read", func(h *harness) {
			h.w.Backup.SQS.Fail("GetQueueAttributes", drfake.Fault{Status: 400, Code: "AccessDenied", Message: "not authorized to perform sqs:GetQueueAttributes"})
		}, "cannot count the windows the aggregator gave up on in arn:aws:sqs:us-west-2:123456789012:BackupStack-StandbyProcessingAggregatorFailures5C6C2A8E-Xq3vLd0bS1Ze", ""},
		{"the aggregator is missing", func(h *harness) {
			h.w.Backup.Lambda.Fail("ListEventSourceMappings", drfake.Fault{Status: 404, Code: "ResourceNotFoundException", Message: "Function not found"})
		}, "cannot check the windows the aggregator gave up on: list the event source mappings of dr-analytics-aggregator in us-west-2", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t).withTables(t)
			h.seedAll(t)
			tc.setup(h)
			report, err := failback.Run(context.Background(), h.input())
			if err != nil {
				t.Fatalf("%v\n%s", err, reportText(t, report))
			}
			drain := report.Steps[1]
			text := reportText(t, report)
			if tc.mismatch == "" {
				if len(drain.Mismatches) != 0 || !report.OK() || !strings.Contains(text, tc.action) {
					t.Errorf("want no mismatch and %q:\n%s", tc.action, text)
				}
				return
			}
			if report.OK() || len(drain.Mismatches) != 1 || !strings.Contains(drain.Mismatches[0], tc.mismatch) {
				t.Errorf("drain mismatches %q, want one containing %q", drain.Mismatches, tc.mismatch)
			}
			// The rest still runs: the given-up windows are reported, not a reason to keep data back.
			if h.w.S3.Calls("CopyObject") != 14 || len(report.Steps) != 7 {
				t.Errorf("%d copies, %d steps; the later steps must still run", h.w.S3.Calls("CopyObject"), len(report.Steps))
			}
		})
	}
}
