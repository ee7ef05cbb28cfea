package failback_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/naming"
)

func (h *harness) copyInput(dest string) failback.CopyInput {
	in := h.input()
	return failback.CopyInput{
		Source: s3Client(h.w.S3.URL(), h.cfg.BackupRegion),
		Dest:   s3Client(dest, h.cfg.PrimaryRegion),
		Pairs: []failback.BucketPair{
			{Source: h.names.Bucket(naming.Streaming, h.cfg.BackupRegion), Dest: h.names.Bucket(naming.Streaming, h.cfg.PrimaryRegion), Prefixes: failback.DRPrefixes(naming.Streaming, failover, now)},
			{Source: h.names.Bucket(naming.Batch, h.cfg.BackupRegion), Dest: h.names.Bucket(naming.Batch, h.cfg.PrimaryRegion), Prefixes: failback.DRPrefixes(naming.Batch, failover, now)},
		},
		Since: failover, Workers: 8, Retry: in.Retry,
	}
}

func (h *harness) primaryStreaming() string {
	return h.names.Bucket(naming.Streaming, h.cfg.PrimaryRegion)
}
func (h *harness) replicaStreaming() string {
	return h.names.Bucket(naming.Streaming, h.cfg.BackupRegion)
}

// assertPrimaryHoldsReplica checks that every replica object written since
// failover is in the primary with the same bytes.
func assertPrimaryHoldsReplica(t *testing.T, h *harness, keys []string) {
	t.Helper()
	replica := h.w.S3.Objects(t, h.replicaStreaming())
	primary := h.w.S3.Objects(t, h.primaryStreaming())
	for _, k := range keys {
		p, ok := primary[k]
		if !ok {
			t.Errorf("%s was not copied to the primary", k)
			continue
		}
		if !bytes.Equal(p.Body, replica[k].Body) || p.ETag != replica[k].ETag {
			t.Errorf("%s differs: primary %q (%s), replica %q (%s)", k, p.Body, p.ETag, replica[k].Body, replica[k].ETag)
		}
	}
}

func TestCopyCopiesReplicaOnlyObjectsAndSkipsPresentOnes(t *testing.T) {
	h := newHarness(t)
	keys := h.seedObjects(t, 20)
	// Five objects are in the primary already (copied by an earlier run),
	// one has a stale, older version there.
	h.w.Clock.Set(failover.Add(time.Hour))
	replica := h.w.S3.Objects(t, h.replicaStreaming())
	for _, k := range keys[:5] {
		h.w.S3.PutObject(t, h.primaryStreaming(), k, replica[k].Body)
	}
	h.w.Clock.Set(failover.Add(-time.Minute))
	h.w.S3.PutObject(t, h.primaryStreaming(), keys[5], []byte("stale"))
	oldPrimary := h.w.S3.Objects(t, h.primaryStreaming())

	res, err := failback.CopyObjects(context.Background(), h.copyInput(h.w.S3.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Listed != 20 || res.Copied != 15 || res.AlreadyPresent != 5 || res.KeptNewer != 0 || len(res.Failed) != 0 {
		t.Errorf("listed %d copied %d present %d kept %d failed %v; want 20, 15, 5, 0, none", res.Listed, res.Copied, res.AlreadyPresent, res.KeptNewer, res.Failed)
	}
	if got := h.w.S3.Calls("CopyObject"); got != 15 {
		t.Errorf("CopyObject calls = %d, want 15: present objects must not be copied again", got)
	}
	if res.Verified != 20 || len(res.Mismatches) != 0 || len(res.InWindow) != 20 {
		t.Errorf("final comparison: verified %d, mismatches %v, in window %d; want 20, none, 20", res.Verified, res.Mismatches, len(res.InWindow))
	}
	assertPrimaryHoldsReplica(t, h, keys)
	primary := h.w.S3.Objects(t, h.primaryStreaming())
	for k, o := range oldPrimary {
		if strings.Contains(k, "old-") && !bytes.Equal(primary[k].Body, o.Body) {
			t.Errorf("object %s from before failover was touched", k)
		}
	}
	if _, ok := primary["raw/year=2026/month=11/day=25/hour=10/old-0.json.gz"]; !ok {
		t.Error("pre-failover primary object disappeared")
	}
}

func TestCopyKeepsANewerPrimaryObject(t *testing.T) {
	h := newHarness(t)
	keys := h.seedObjects(t, 3)
	h.w.Clock.Set(now.Add(-time.Minute))
	h.w.S3.PutObject(t, h.primaryStreaming(), keys[0], []byte("written in the primary after failback began"))
	res, err := failback.CopyObjects(context.Background(), h.copyInput(h.w.S3.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if res.KeptNewer != 1 || res.Copied != 2 || len(res.Mismatches) != 0 {
		t.Errorf("kept %d copied %d mismatches %v; want 1, 2, none", res.KeptNewer, res.Copied, res.Mismatches)
	}
	if body := h.w.S3.Objects(t, h.primaryStreaming())[keys[0]].Body; string(body) != "written in the primary after failback began" {
		t.Errorf("the newer primary object was overwritten with %q", body)
	}
}

func TestCopyFailingOnceIsRetried(t *testing.T) {
	h := newHarness(t)
	keys := h.seedObjects(t, 10)
	h.w.S3.Fail("CopyObject", drfake.Fault{Status: 500, Code: "InternalError", Message: "We encountered an internal error. Please try again.", Times: 1})
	res, err := failback.CopyObjects(context.Background(), h.copyInput(h.w.S3.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 10 || res.Retries != 1 || len(res.Failed) != 0 {
		t.Errorf("copied %d retries %d failed %v; want 10, 1, none", res.Copied, res.Retries, res.Failed)
	}
	if got := h.w.S3.Calls("CopyObject"); got != 11 {
		t.Errorf("CopyObject calls = %d, want 11 (10 objects, one retried)", got)
	}
	assertPrimaryHoldsReplica(t, h, keys)
}

func TestCopyDoesNotRetryClientErrorsAndReportsThem(t *testing.T) {
	h := newHarness(t)
	h.seedObjects(t, 4)
	h.w.S3.Fail("CopyObject", drfake.Fault{Status: 403, Code: "AccessDenied", Message: "Access Denied"})
	res, err := failback.CopyObjects(context.Background(), h.copyInput(h.w.S3.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 4 || res.Copied != 0 || res.Retries != 0 {
		t.Errorf("failed %d copied %d retries %d; want 4, 0, 0", len(res.Failed), res.Copied, res.Retries)
	}
	if len(res.Mismatches) != 4 || !strings.Contains(res.Mismatches[0], "missing from") {
		t.Errorf("final comparison must name the 4 missing objects: %v", res.Mismatches)
	}
	if got := h.w.S3.Calls("CopyObject"); got != 4 {
		t.Errorf("CopyObject calls = %d, want 4: access denied is not retried", got)
	}
}

func TestInterruptedCopyResumesWithoutCopyingAnythingTwice(t *testing.T) {
	h := newHarness(t)
	const n = 60
	keys := h.seedObjects(t, n)

	// The first run talks to its own endpoint and is cancelled once ten
	// copies have been served, like an operator's Ctrl-C.
	endpoint, closeEndpoint := h.w.S3.Endpoint(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var served atomic.Int32
	h.w.S3.AfterServe(func(op string) {
		if op == "CopyObject" && served.Add(1) == 10 {
			cancel()
		}
	})
	first, err := failback.CopyObjects(ctx, h.copyInput(endpoint))
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	// Wait until every request the first run got through has been served.
	closeEndpoint()
	h.w.S3.AfterServe(nil)
	afterFirst := h.w.S3.Calls("CopyObject")
	if afterFirst < 10 || afterFirst >= n {
		t.Fatalf("first run reached %d copies; the test needs it interrupted part-way", afterFirst)
	}

	second, err := failback.CopyObjects(context.Background(), h.copyInput(h.w.S3.URL()))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.w.S3.Calls("CopyObject"); got != n {
		t.Errorf("CopyObject calls over both runs = %d, want exactly %d (first run %d, reported %d)", got, n, afterFirst, first.Copied)
	}
	if second.AlreadyPresent != afterFirst || second.Copied != n-afterFirst {
		t.Errorf("resumed run: present %d copied %d; want %d and %d", second.AlreadyPresent, second.Copied, afterFirst, n-afterFirst)
	}
	if second.Verified != n || len(second.Mismatches) != 0 {
		t.Errorf("resumed run verified %d, mismatches %v", second.Verified, second.Mismatches)
	}
	assertPrimaryHoldsReplica(t, h, keys)
}

func TestLargeObjectsAreCopiedInParts(t *testing.T) {
	h := newHarness(t)
	h.w.Clock.Set(failover.Add(time.Minute))
	big := bytes.Repeat([]byte("0123456789abcdefghij"), 125) // 2,500 bytes
	key := "compacted/dt=2026-11-25/part-00000.parquet"
	batchReplica, batchPrimary := h.names.Bucket(naming.Batch, h.cfg.BackupRegion), h.names.Bucket(naming.Batch, h.cfg.PrimaryRegion)
	h.w.S3.PutObject(t, batchReplica, key, big)
	h.w.Clock.Set(now)
	in := h.copyInput(h.w.S3.URL())
	in.MultipartThreshold, in.PartSize = 1000, 300

	res, err := failback.CopyObjects(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 1 || res.Multipart != 1 || res.BytesCopied != int64(len(big)) {
		t.Errorf("copied %d multipart %d bytes %d; want 1, 1, %d", res.Copied, res.Multipart, res.BytesCopied, len(big))
	}
	if got := h.w.S3.Calls("UploadPartCopy"); got != 9 {
		t.Errorf("UploadPartCopy calls = %d, want 9 parts of at most 300 bytes", got)
	}
	if got := h.w.S3.Objects(t, batchPrimary)[key].Body; !bytes.Equal(got, big) {
		t.Errorf("assembled object differs from the source (%d bytes, want %d)", len(got), len(big))
	}
	head, err := s3Client(h.w.S3.URL(), h.cfg.PrimaryRegion).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(batchPrimary), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if want := h.w.S3.Objects(t, batchReplica)[key].ETag; head.Metadata[failback.SourceETagKey] != want {
		t.Errorf("multipart copy carries source ETag %q, want %q", head.Metadata[failback.SourceETagKey], want)
	}

	again, err := failback.CopyObjects(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if again.Copied != 0 || again.AlreadyPresent != 1 || h.w.S3.Calls("UploadPartCopy") != 9 {
		t.Errorf("second run copied %d (present %d, part copies %d): the large object must not be copied again", again.Copied, again.AlreadyPresent, h.w.S3.Calls("UploadPartCopy"))
	}
}

func TestCopyDryRunChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.seedObjects(t, 7)
	before := fmt.Sprint(h.w.S3.Objects(t, h.primaryStreaming()))
	in := h.copyInput(h.w.S3.URL())
	in.DryRun = true
	res, err := failback.CopyObjects(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 7 {
		t.Errorf("dry run reports %d objects to copy, want 7", res.Copied)
	}
	if after := fmt.Sprint(h.w.S3.Objects(t, h.primaryStreaming())); after != before || h.w.S3.Calls("CopyObject") != 0 {
		t.Errorf("dry run changed the primary bucket (CopyObject calls %d)", h.w.S3.Calls("CopyObject"))
	}
}
