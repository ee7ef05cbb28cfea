package failback_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/naming"
)

func TestDRPrefixesCoverWhatDRCanHaveWritten(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name       string
		purpose    naming.Purpose
		since, now string
		want       []string
	}{
		{"streaming: every hour from the failover's, and the errors", naming.Streaming, "2026-11-25T22:40:00Z", "2026-11-26T00:05:00Z", []string{
			"raw/year=2026/month=11/day=25/hour=22/", "raw/year=2026/month=11/day=25/hour=23/", "raw/year=2026/month=11/day=26/hour=00/", "errors/"}},
		{"streaming: a failover in a non-UTC zone is still UTC hours", naming.Streaming, "2026-11-25T23:30:00+01:00", "2026-11-25T23:10:00Z", []string{
			"raw/year=2026/month=11/day=25/hour=22/", "raw/year=2026/month=11/day=25/hour=23/", "errors/"}},
		{"batch: the day before the failover (compacted that night) to today", naming.Batch, "2026-12-31T23:59:00Z", "2027-01-01T02:00:00Z", []string{
			"compacted/dt=2026-12-30/", "compacted/dt=2026-12-31/", "compacted/dt=2027-01-01/"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := failback.DRPrefixes(tc.purpose, at(tc.since), at(tc.now)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DRPrefixes = %q, want %q", got, tc.want)
			}
		})
	}
}

// A replica of an old primary object that arrives late (CRR backlog) is
// newer than the failover but outside DR's partitions: it is in the
// primary already, and the copy does not even list it.
func TestCopyListsOnlyDRPartitions(t *testing.T) {
	h := newHarness(t)
	keys := h.seedObjects(t, 4)
	h.w.Clock.Set(failover.Add(time.Minute))
	late := "raw/year=2026/month=11/day=20/hour=03/late-replica.gz"
	h.w.S3.PutObject(t, h.replicaStreaming(), late, []byte("old event, replicated late"))
	h.w.Clock.Set(now)
	res, err := failback.CopyObjects(context.Background(), h.copyInput(h.w.S3.URL()))
	if err != nil || res.Copied != len(keys) {
		t.Fatalf("copied %d, want %d: %v", res.Copied, len(keys), err)
	}
	if _, ok := h.w.S3.Objects(t, h.primaryStreaming())[late]; ok {
		t.Errorf("%s is outside the DR partitions and must not be copied", late)
	}
	assertPrimaryHoldsReplica(t, h, keys)
}
