package recoverytime_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/recoverytime"
)

const parameter = "/dr-analytics/failover/last"

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func at(minutes int) *time.Time {
	t := t0.Add(time.Duration(minutes) * time.Minute)
	return &t
}

func TestFailoverRecordMergesWhatEachHandlerObserved(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		writes  []recoverytime.Failover
		want    recoverytime.Failover
		traffic string // TrafficRTO, "" when unknown
	}{
		{
			name: "start, dial and ready each add their moments",
			writes: []recoverytime.Failover{
				{StartedAt: at(0), RestoreSource: "pitr", RestorePointInTime: at(-3)},
				{EndpointHealthyAt: at(6), TrafficMovedAt: at(7)},
				{TableActiveAt: at(25), RestoreSource: "pitr", RestorePointInTime: at(-3)},
			},
			want:    recoverytime.Failover{StartedAt: at(0), EndpointHealthyAt: at(6), TrafficMovedAt: at(7), TableActiveAt: at(25), RestoreSource: "pitr", RestorePointInTime: at(-3)},
			traffic: "7m0s",
		},
		{
			name: "a deploy run again keeps the first observation of each moment",
			writes: []recoverytime.Failover{
				{StartedAt: at(0)}, {TrafficMovedAt: at(7)}, {StartedAt: at(0), TrafficMovedAt: at(90)},
			},
			want:    recoverytime.Failover{StartedAt: at(0), TrafficMovedAt: at(7)},
			traffic: "7m0s",
		},
		{
			name: "a restore repaired in place changes the source and point in time",
			writes: []recoverytime.Failover{
				{StartedAt: at(0), RestoreSource: "pitr", RestorePointInTime: at(-1)},
				{TableActiveAt: at(40), RestoreSource: "backup", RestorePointInTime: at(-300)},
			},
			want: recoverytime.Failover{StartedAt: at(0), TableActiveAt: at(40), RestoreSource: "backup", RestorePointInTime: at(-300)},
		},
		{
			name: "a new failover's start replaces the last failover's record",
			writes: []recoverytime.Failover{
				{StartedAt: at(0), TrafficMovedAt: at(7), TableActiveAt: at(25), RestoreSource: "pitr"},
				{StartedAt: at(60 * 24 * 30), RestoreSource: "backup"},
			},
			want: recoverytime.Failover{StartedAt: at(60 * 24 * 30), RestoreSource: "backup"},
		},
		{
			name:   "a moment without a start has no RTO",
			writes: []recoverytime.Failover{{TrafficMovedAt: at(7)}},
			want:   recoverytime.Failover{TrafficMovedAt: at(7)},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := awsfake.NewSSM(t, "us-west-2").Client()
			for _, w := range c.writes {
				if _, err := recoverytime.RecordFailover(ctx, client, parameter, w); err != nil {
					t.Fatal(err)
				}
			}
			got, err := recoverytime.ReadFailover(ctx, client, parameter)
			if err != nil || got == nil {
				t.Fatalf("ReadFailover = %v, %v", got, err)
			}
			if fmt.Sprint(describe(*got)) != fmt.Sprint(describe(c.want)) {
				t.Errorf("record = %v\nwant     %v", describe(*got), describe(c.want))
			}
			rto, ok := got.TrafficRTO()
			if gotRTO := map[bool]string{true: rto.String()}[ok]; gotRTO != c.traffic {
				t.Errorf("TrafficRTO = %q, want %q", gotRTO, c.traffic)
			}
		})
	}
}

func describe(f recoverytime.Failover) []string {
	var out []string
	for _, m := range []struct {
		name string
		t    *time.Time
	}{{"started", f.StartedAt}, {"healthy", f.EndpointHealthyAt}, {"moved", f.TrafficMovedAt}, {"active", f.TableActiveAt}, {"point", f.RestorePointInTime}} {
		if m.t != nil {
			out = append(out, m.name+"="+m.t.Format(time.RFC3339))
		}
	}
	return append(out, "source="+f.RestoreSource)
}

// interleaved runs a hook once, after the first GetParameter it forwards:
// another writer acting between this writer's read and its write.
type interleaved struct {
	*ssm.Client
	once  sync.Once
	after func()
}

func (c *interleaved) GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	out, err := c.Client.GetParameter(ctx, in, opts...)
	c.once.Do(c.after)
	return out, err
}

func TestConcurrentWritersKeepEachOthersFields(t *testing.T) {
	ctx := context.Background()
	start := recoverytime.Failover{StartedAt: at(0), RestoreSource: "backup", RestorePointInTime: at(-30)}
	dial := recoverytime.Failover{EndpointHealthyAt: at(6), TrafficMovedAt: at(7)}
	ready := recoverytime.Failover{TableActiveAt: at(25)}
	want := fmt.Sprint(describe(recoverytime.Failover{StartedAt: at(0), EndpointHealthyAt: at(6), TrafficMovedAt: at(7), TableActiveAt: at(25), RestoreSource: "backup", RestorePointInTime: at(-30)}))

	t.Run("a write landing between another writer's read and write is merged back", func(t *testing.T) {
		fake := awsfake.NewSSM(t, "us-west-2")
		if _, err := recoverytime.RecordFailover(ctx, fake.Client(), parameter, start); err != nil {
			t.Fatal(err)
		}
		// The dial reads version 1; the ready resource then reads version 1
		// and writes version 2; the dial's write (version 3, from its read
		// of version 1) would drop the table's moment without the merge.
		client := &interleaved{Client: fake.Client(), after: func() {
			if _, err := recoverytime.RecordFailover(ctx, fake.Client(), parameter, ready); err != nil {
				t.Error(err)
			}
		}}
		if _, err := recoverytime.RecordFailover(ctx, client, parameter, dial); err != nil {
			t.Fatal(err)
		}
		got, err := recoverytime.ReadFailover(ctx, fake.Client(), parameter)
		if err != nil || fmt.Sprint(describe(*got)) != want {
			t.Errorf("record = %v, %v\nwant     %v", describe(*got), err, want)
		}
		if p, _ := fake.Parameter(parameter); p.Version != 4 {
			t.Errorf("version %d, want 4: start, ready, the dial's write from a stale read, the dial's merged write", p.Version)
		}
	})
	t.Run("writers running at once all land, whatever the interleaving", func(t *testing.T) {
		for round := range 20 {
			fake := awsfake.NewSSM(t, "us-west-2")
			var wg sync.WaitGroup
			for _, w := range []recoverytime.Failover{start, dial, ready} {
				wg.Go(func() {
					if _, err := recoverytime.RecordFailover(ctx, fake.Client(), parameter, w); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			got, err := recoverytime.ReadFailover(ctx, fake.Client(), parameter)
			if err != nil || fmt.Sprint(describe(*got)) != want {
				t.Fatalf("round %d: record = %v, %v\nwant     %v", round, describe(*got), err, want)
			}
		}
	})
	t.Run("a write that changes nothing is skipped", func(t *testing.T) {
		fake := awsfake.NewSSM(t, "us-west-2")
		for range 3 {
			if _, err := recoverytime.RecordFailover(ctx, fake.Client(), parameter, start); err != nil {
				t.Fatal(err)
			}
		}
		if p, _ := fake.Parameter(parameter); p.Version != 1 {
			t.Errorf("version %d after the same write three times, want 1", p.Version)
		}
	})
}

func TestFailbackRecord(t *testing.T) {
	ctx := context.Background()
	fake := awsfake.NewSSM(t, "us-west-2")
	const name = "/dr-analytics/failback/last"

	t.Run("no failback yet reads as nil", func(t *testing.T) {
		if got, err := recoverytime.ReadFailback(ctx, fake.Client(), name); got != nil || err != nil {
			t.Errorf("ReadFailback = %v, %v; want nil, nil", got, err)
		}
	})
	t.Run("each write replaces the run's record and the total runs to the finish", func(t *testing.T) {
		rec := recoverytime.Failback{FailoverStartedAt: t0, StartedAt: *at(600),
			Steps: []recoverytime.FailbackStep{{Name: "traffic dials", FinishedAt: *at(601), Seconds: 60, Status: "done"}}}
		if err := recoverytime.RecordFailback(ctx, fake.Client(), name, rec); err != nil {
			t.Fatal(err)
		}
		got, err := recoverytime.ReadFailback(ctx, fake.Client(), name)
		if err != nil || got.Total() != time.Minute || got.FinishedAt != nil {
			t.Fatalf("after one step: %+v, %v; want a running record of 1m", got, err)
		}
		rec.Steps = append(rec.Steps, recoverytime.FailbackStep{Name: "copy objects", FinishedAt: *at(640), Seconds: 2340, Status: "done"})
		rec.FinishedAt, rec.Complete = at(641), true
		if err := recoverytime.RecordFailback(ctx, fake.Client(), name, rec); err != nil {
			t.Fatal(err)
		}
		got, err = recoverytime.ReadFailback(ctx, fake.Client(), name)
		if err != nil || got.Total() != 41*time.Minute || len(got.Steps) != 2 || !got.Complete {
			t.Errorf("finished: %+v, %v; want 2 steps, complete, total 41m", got, err)
		}
	})
	t.Run("a parameter that is not a record says how to clear it", func(t *testing.T) {
		fake.PutParameter(awsfake.Parameter{Name: name, Value: "2026-11-25T08:00:00Z"})
		_, err := recoverytime.ReadFailback(ctx, fake.Client(), name)
		if err == nil || !strings.Contains(err.Error(), "aws ssm delete-parameter --name "+name) {
			t.Errorf("ReadFailback: %v, want a line that says to delete the parameter", err)
		}
	})
}

// busyOnce answers the first PutParameter with TooManyUpdates, as
// Parameter Store does to concurrent updates of one parameter ("There are
// concurrent updates for a resource that supports one update at a time",
// PutParameter errors), after letting another writer's update land.
type busyOnce struct {
	*ssm.Client
	once    sync.Once
	instead func()
}

func (c *busyOnce) PutParameter(ctx context.Context, in *ssm.PutParameterInput, opts ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	busy := false
	c.once.Do(func() { c.instead(); busy = true })
	if busy {
		return nil, &ssmtypes.TooManyUpdates{Message: aws.String("There are concurrent updates for a resource that supports one update at a time.")}
	}
	return c.Client.PutParameter(ctx, in, opts...)
}

func TestAThrottledWriteIsRetriedWithTheOtherWritersFields(t *testing.T) {
	ctx := context.Background()
	fake := awsfake.NewSSM(t, "us-west-2")
	if _, err := recoverytime.RecordFailover(ctx, fake.Client(), parameter, recoverytime.Failover{StartedAt: at(0)}); err != nil {
		t.Fatal(err)
	}
	client := &busyOnce{Client: fake.Client(), instead: func() {
		if _, err := recoverytime.RecordFailover(ctx, fake.Client(), parameter, recoverytime.Failover{TableActiveAt: at(25)}); err != nil {
			t.Error(err)
		}
	}}
	if _, err := recoverytime.RecordFailover(ctx, client, parameter, recoverytime.Failover{TrafficMovedAt: at(7)}); err != nil {
		t.Fatal(err)
	}
	got, err := recoverytime.ReadFailover(ctx, fake.Client(), parameter)
	want := fmt.Sprint(describe(recoverytime.Failover{StartedAt: at(0), TrafficMovedAt: at(7), TableActiveAt: at(25)}))
	if err != nil || fmt.Sprint(describe(*got)) != want {
		t.Errorf("record = %v, %v\nwant     %v", describe(*got), err, want)
	}
}
