package failback_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/failback"
)

// traffic is DR as the backup region saw it: producers from the failover
// until the dials move back (now), stragglers on open connections for
// `stay` longer, consumers caught up two minutes after the last record.
func traffic(stay time.Duration) drfake.Traffic {
	return drfake.Traffic{From: failover, Until: now.Add(stay), RequestsPerMinute: 40, RecordsPerMinute: 400,
		CaughtUp: now.Add(stay + 2*time.Minute), Buffer: time.Minute}
}

// The drain judges only metrics the services publish, and needs evidence:
// CloudWatch having nothing to say is not "drained".
func TestDrainWaitsForEvidenceOnPublishedMetrics(t *testing.T) {
	cases := []struct {
		name    string
		publish func(h *harness)
		// waited is how long the fake clock must have run when the drain
		// ends (-1: it times out with want in the error).
		waited time.Duration
		want   string
	}{
		{"producers leave when the dials move", func(h *harness) { h.w.PublishBackupPipeline(traffic(0)) },
			// quiet period 5m after the dials, read 5m late: 10m, polled every 30s.
			10 * time.Minute, "drained (measured) after 21 look(s)"},
		{"a producer keeps its connection open for 20 minutes", func(h *harness) { h.w.PublishBackupPipeline(traffic(20 * time.Minute)) },
			30 * time.Minute, "drained (measured)"},
		{"no data at all since failover (a wrong name, or a pipeline that never ran)", func(h *harness) {},
			-1, "waiting for CloudWatch has no datapoint for stream dr-analytics-events or delivery stream dr-analytics-raw-delivery since the failover"},
		{"datapoints under another stream's name", func(h *harness) {
			h.w.Backup.CloudWatch.Put(drfake.Metric{Namespace: "AWS/Kinesis", Name: "IncomingRecords", Dimensions: map[string]string{"StreamName": "dr-analytics-events-old"}},
				drfake.Point{Time: failover.Add(time.Minute), Value: 10})
		}, -1, "CloudWatch has no datapoint for stream dr-analytics-events"},
		{"a stream that never empties", func(h *harness) { h.w.PublishBackupPipeline(traffic(5 * time.Hour)) },
			-1, "producers still reach the backup load balancer"},
		{"consumers that stopped polling leave no iterator age: not a zero", func(h *harness) {
			tr := traffic(0)
			tr.PollUntil = now
			h.w.PublishBackupPipeline(tr)
		}, -1, "waiting for iterator-age datapoints of the stream's consumers"},
		{"Firehose lagging behind the stream", func(h *harness) {
			tr := traffic(0)
			tr.CaughtUp = now.Add(3 * time.Hour)
			h.w.PublishBackupPipeline(tr)
		}, -1, "waiting for the stream's consumers to catch up"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t).withTables(t)
			tc.publish(h)
			in := h.input()
			in.DrainTimeout = time.Hour
			report, err := failback.Run(context.Background(), in)
			waited := h.w.Clock.Now().Sub(now)
			if tc.waited < 0 {
				if err == nil || !strings.Contains(err.Error(), "has not drained after 1h0m0s") || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "-drained-at") {
					t.Fatalf("err = %v, want the drain timeout saying %q and naming -drained-at", err, tc.want)
				}
				if len(report.Steps) != 2 || h.w.S3.Calls("CopyObject") != 0 {
					t.Errorf("%d steps ran, %d copies; nothing may run after the drain", len(report.Steps), h.w.S3.Calls("CopyObject"))
				}
				return
			}
			if err != nil || !report.OK() {
				t.Fatalf("%v\n%s", err, reportText(t, report))
			}
			text := reportText(t, report)
			if !strings.Contains(text, tc.want) || waited < tc.waited || waited > tc.waited+2*time.Minute {
				t.Errorf("waited %s (want about %s), report:\n%s", waited, tc.waited, text)
			}
		})
	}
}

// -drained-at is the operator's way on when CloudWatch is down or the
// stream never empties; the report says it is their word.
func TestDrainedAtIsTheOperatorsWord(t *testing.T) {
	h := newHarness(t).withTables(t)
	h.seedAll(t)
	h.w.Backup.CloudWatch.Fail("GetMetricData", drfake.Fault{Status: 503, Code: "ServiceUnavailable", Message: "CloudWatch is down"})
	in := h.input()
	in.DrainedAt = now
	report, err := failback.Run(context.Background(), in)
	if err != nil || !report.OK() {
		t.Fatalf("%v\n%s", err, reportText(t, report))
	}
	text := reportText(t, report)
	for _, want := range []string{"drained at 2026-11-25T14:00:00Z on the operator's word (-drained-at), not measured; CloudWatch not read", "waited 1m0s so the last Firehose buffer"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if h.w.S3.Calls("CopyObject") == 0 {
		t.Error("nothing was copied after the operator's drain time")
	}
}

func TestWindowsTheAggregatorGaveUpOnAreAMismatch(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(h *harness)
		mismatch string // "" when none
		action   string
	}{
		{"messages in the on-failure queue", func(h *harness) { h.w.Backup.SQS.SetMessages(h.w.AggregatorFailures, 3) },
			"3 message(s) in the aggregator's on-failure queue arn:aws:sqs:us-west-2:123456789012:BackupStack-FoundationProcessingAggregatorFailures", ""},
		{"an empty queue", func(h *harness) {}, "", "the aggregator's on-failure queue arn:aws:sqs:us-west-2:123456789012:BackupStack-FoundationProcessingAggregatorFailures5C6C2A8E-Xq3vLd0bS1Ze is empty"},
		{"the queue cannot be read", func(h *harness) {
			h.w.Backup.SQS.Fail("GetQueueAttributes", drfake.Fault{Status: 400, Code: "AccessDenied", Message: "not authorized to perform sqs:GetQueueAttributes"})
		}, "cannot count the windows the aggregator gave up on in arn:aws:sqs:us-west-2:123456789012:BackupStack-FoundationProcessingAggregatorFailures5C6C2A8E-Xq3vLd0bS1Ze", ""},
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
