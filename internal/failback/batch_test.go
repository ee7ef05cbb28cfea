package failback_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3control"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/naming"
)

// batchInput copies n DR objects with S3 Batch Operations against an S3
// Control fake over the world's S3 store.
func (h *harness) batchInput(t *testing.T, n int) (failback.CopyInput, *drfake.S3Control, []string) {
	t.Helper()
	keys := h.seedObjects(t, n)
	control := h.w.Primary.S3Control
	control.TasksPerLook = 7
	results := h.names.Bucket(naming.AthenaResults, h.cfg.PrimaryRegion)
	in := h.copyInput(h.w.S3.URL())
	in.Engine, in.BatchThreshold = failback.EngineAuto, 10
	in.Batch = failback.BatchConfig{
		Control: s3control.NewFromConfig(awsfake.Config(control.URL(), h.cfg.PrimaryRegion), func(o *s3control.Options) { o.Retryer = aws.NopRetryer{} }),
		Account: account, RoleArn: h.names.FailbackCopyRoleArn(), Bucket: results,
		RunID: "us-west-2>us-east-1@" + failover.Format(time.RFC3339), Poll: 30 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error { h.w.Clock.Advance(d); return ctx.Err() },
	}
	return in, control, keys
}

// A failback above the threshold runs on Batch Operations, follows the job
// to its end, reads the failed tasks from the completion report and copies
// them again itself.
func TestLargeCopyRunsOnBatchOperationsAndRetriesFailedTasks(t *testing.T) {
	h := newHarness(t)
	in, control, keys := h.batchInput(t, 40)
	denied := map[string]bool{keys[3]: true, keys[17]: true}
	control.FailTask(func(key string) (int, string, string, bool) {
		return http.StatusForbidden, "AccessDenied", "Access Denied", denied[key]
	})
	res, err := failback.CopyObjects(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != failback.EngineBatch || !strings.Contains(res.EngineWhy, "40 objects to copy, at least the threshold of 10") {
		t.Errorf("engine %s (%s), want batch by the threshold", res.Engine, res.EngineWhy)
	}
	if len(res.Jobs) != 1 || control.Jobs() != 1 {
		t.Fatalf("jobs %+v, %d created; want one job for the streaming bucket", res.Jobs, control.Jobs())
	}
	job := res.Jobs[0]
	if job.Status != "Complete" || job.Total != 40 || job.Succeeded != 38 || job.Failed != 2 || job.Resumed {
		t.Errorf("job %+v; want Complete, 38 of 40 succeeded, 2 failed, created by this run", job)
	}
	if len(job.FailedTasks) != 2 || !strings.Contains(strings.Join(job.FailedTasks, "\n"), "s3://"+h.replicaStreaming()+"/"+keys[3]+": ") ||
		!strings.Contains(job.FailedTasks[0], "AccessDenied") {
		t.Errorf("failed tasks from the report: %q", job.FailedTasks)
	}
	if res.Copied != 40 || len(res.Failed) != 0 || len(res.Mismatches) != 0 || res.Verified != 40 {
		t.Errorf("copied %d, failed %q, mismatches %q, verified %d; want all 40", res.Copied, res.Failed, res.Mismatches, res.Verified)
	}
	if got := h.w.S3.Calls("CopyObject"); got != 2 {
		t.Errorf("%d CopyObject calls from this process, want the 2 failed tasks", got)
	}
	assertPrimaryHoldsReplica(t, h, keys)
}

// A rerun finds the job an earlier run started (same ClientRequestToken,
// same manifest) and follows it; it never starts a second one.
func TestRerunFollowsTheRunningJob(t *testing.T) {
	h := newHarness(t)
	in, control, keys := h.batchInput(t, 40)
	// The operator's session dies while the job runs.
	control.Fail("DescribeJob", drfake.Fault{Status: 503, Code: "ServiceUnavailable", Message: "connection lost"})
	if _, err := failback.CopyObjects(context.Background(), in); err == nil || !strings.Contains(err.Error(), "describe copy job") {
		t.Fatalf("err = %v, want the lost job", err)
	}
	control.Clear()
	// Firehose delivers one more object meanwhile: the earlier job's
	// manifest lacks it, so this run copies it itself.
	late := "raw/year=2026/month=11/day=25/hour=11/dr-analytics-raw-delivery-late.json.gz"
	h.w.Clock.Set(failover.Add(time.Hour))
	h.w.S3.PutObject(t, h.replicaStreaming(), late, []byte("a late delivery"))
	h.w.Clock.Set(now)
	keys = append(keys, late)
	res, err := failback.CopyObjects(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if control.Jobs() != 1 || len(res.Jobs) != 1 || !res.Jobs[0].Resumed || res.Jobs[0].Status != "Complete" || res.Jobs[0].Total != 40 {
		t.Fatalf("jobs created %d, result %+v; want the one job of 40, followed to Complete", control.Jobs(), res.Jobs)
	}
	if !strings.Contains(res.EngineWhy, "41 objects") || res.Verified != 41 {
		t.Errorf("engine %s, verified %d", res.EngineWhy, res.Verified)
	}
	assertPrimaryHoldsReplica(t, h, keys)
	// Once everything is there, a third run finds nothing to copy.
	again, err := failback.CopyObjects(context.Background(), in)
	if err != nil || again.Copied != 0 || again.AlreadyPresent != 41 || control.Jobs() != 1 {
		t.Errorf("third run copied %d, %d present, %d jobs: %v", again.Copied, again.AlreadyPresent, control.Jobs(), err)
	}
}

// A job whose tasks mostly fail is failed by S3 (more than half of at
// least 1,000 tasks); failback stops and says why, and a run after the fix
// starts a new job instead of following the failed one.
func TestFailedJobStopsAndTheNextRunStartsANewOne(t *testing.T) {
	h := newHarness(t)
	in, control, keys := h.batchInput(t, 1200)
	control.TasksPerLook = 500
	control.FailTask(func(string) (int, string, string, bool) {
		return http.StatusForbidden, "AccessDenied", "Access Denied", true
	})
	_, err := failback.CopyObjects(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "ended Failed") || !strings.Contains(err.Error(), "TaskFailureThresholdExceeded") || !strings.Contains(err.Error(), h.names.FailbackCopyRole()) {
		t.Fatalf("err = %v, want the failed job with its reason and the role to check", err)
	}
	control.FailTask(nil)
	res, err := failback.CopyObjects(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if control.Jobs() != 2 || len(res.Jobs) != 1 || res.Jobs[0].Status != "Complete" || res.Jobs[0].Succeeded != 1200 {
		t.Errorf("%d jobs created, result %+v; want a second job that copies all 1,200", control.Jobs(), res.Jobs)
	}
	assertPrimaryHoldsReplica(t, h, keys)
}

// -engine local never touches S3 Control, even above the threshold.
func TestEngineLocalCopiesInProcess(t *testing.T) {
	h := newHarness(t)
	in, control, keys := h.batchInput(t, 12)
	in.Engine = failback.EngineLocal
	res, err := failback.CopyObjects(context.Background(), in)
	if err != nil || res.Engine != failback.EngineLocal || control.Jobs() != 0 || res.Copied != len(keys) {
		t.Fatalf("engine %s, %d jobs, copied %d: %v", res.Engine, control.Jobs(), res.Copied, err)
	}
	if got := fmt.Sprint(h.w.S3.Calls("CopyObject")); got != "12" {
		t.Errorf("%s CopyObject calls, want 12", got)
	}
}
