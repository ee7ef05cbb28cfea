package backoff_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/backoff"
)

func TestNominalDoublesFromInitialUpToMax(t *testing.T) {
	cases := []struct {
		name   string
		policy backoff.Policy
		want   []time.Duration // retries 1, 2, ...
	}{
		{"doubles, then stays at the cap", backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second},
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}},
		{"a cap below Initial wins", backoff.Policy{Initial: time.Second, Max: 300 * time.Millisecond},
			[]time.Duration{300 * time.Millisecond, 300 * time.Millisecond}},
		{"no Initial means no delay", backoff.Policy{Max: time.Second}, []time.Duration{0, 0, 0}},
		{"no cap keeps doubling", backoff.Policy{Initial: time.Hour},
			[]time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i, want := range tc.want {
				if got := tc.policy.Nominal(i + 1); got != want {
					t.Errorf("retry %d: %v, want %v", i+1, got, want)
				}
			}
		})
	}
	t.Run("a far retry without a cap saturates instead of overflowing", func(t *testing.T) {
		if got := (backoff.Policy{Initial: time.Second}).Nominal(200); got != math.MaxInt64 {
			t.Errorf("retry 200: %v, want the largest duration", got)
		}
	})
}

func TestDelayIsJitteredWithinTheUpperHalf(t *testing.T) {
	p := backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second}
	for retry, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.Delay(retry)
			if d < ceiling/2 || d > ceiling {
				t.Fatalf("retry %d waits %v, want within [%v, %v]", retry, d, ceiling/2, ceiling)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("retry %d always waits %v: no jitter", retry, seen)
		}
	}
	fixed := backoff.Policy{Initial: time.Second, Jitter: func(d time.Duration) time.Duration { return d / 4 }}
	if got := fixed.Delay(2); got != 500*time.Millisecond {
		t.Errorf("custom jitter: %v, want a quarter of 2s", got)
	}
}

// sleeps records the delays a Retry asks for and never blocks.
type sleeps []time.Duration

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	*s = append(*s, d)
	return ctx.Err()
}

func TestRetryStopsAtItsLimits(t *testing.T) {
	exact := func(d time.Duration) time.Duration { return d }
	cases := []struct {
		name    string
		policy  backoff.Policy
		ctx     func() (context.Context, context.CancelFunc)
		reset   int // Reset after this many waits (0: never)
		want    []time.Duration
		retries int
	}{
		{"attempts bound the tries", backoff.Policy{Attempts: 3, Initial: time.Second, Max: time.Minute},
			nil, 0, []time.Duration{time.Second, 2 * time.Second}, 2},
		{"one attempt never waits", backoff.Policy{Attempts: 1, Initial: time.Second}, nil, 0, nil, 0},
		{"the budget shortens the last delay and then stops", backoff.Policy{Initial: time.Second, Max: 10 * time.Second, Budget: 4 * time.Second},
			nil, 0, []time.Duration{time.Second, 2 * time.Second, time.Second}, 3},
		{"reset restarts the delays but not the budget", backoff.Policy{Initial: time.Second, Max: 10 * time.Second, Budget: 5 * time.Second},
			nil, 2, []time.Duration{time.Second, 2 * time.Second, time.Second, time.Second}, 4},
		{"a delay past the deadline less the margin is not slept", backoff.Policy{Initial: time.Minute, Margin: 3 * time.Second},
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), time.Minute)
			}, 0, nil, 0},
		{"a cancelled context stops at once", backoff.Policy{Initial: time.Second},
			func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			}, 0, nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			var got sleeps
			p := tc.policy
			p.Jitter, p.Sleep = exact, got.sleep
			r := p.Start()
			for i := 0; i < 100 && r.Wait(ctx); i++ {
				if tc.reset > 0 && i+1 == tc.reset {
					r.Reset()
				}
			}
			if fmt.Sprint([]time.Duration(got)) != fmt.Sprint(tc.want) || r.Retries() != tc.retries {
				t.Errorf("slept %v with %d retries, want %v with %d", got, r.Retries(), tc.want, tc.retries)
			}
			var total time.Duration
			for i, d := range got {
				if i < tc.retries {
					total += d
				}
			}
			if r.Waited() != total {
				t.Errorf("Waited() = %v, want %v", r.Waited(), total)
			}
		})
	}
}

func TestSleepWaitsOrStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := backoff.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if err := backoff.Sleep(context.Background(), time.Nanosecond); err != nil {
		t.Errorf("Sleep(1ns) = %v", err)
	}
}

func TestDoRetriesOnlyWhatIsRetryable(t *testing.T) {
	errAgain, errFinal := errors.New("throttled"), errors.New("access denied")
	cases := []struct {
		name    string
		results []error
		calls   int
		retries int
		want    error
	}{
		{"success first time", []error{nil}, 1, 0, nil},
		{"retryable errors, then success", []error{errAgain, errAgain, nil}, 3, 2, nil},
		{"a final error is not retried", []error{errAgain, errFinal, nil}, 2, 1, errFinal},
		{"attempts run out", []error{errAgain, errAgain, errAgain, errAgain, nil}, 4, 3, errAgain},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var slept sleeps
			p := backoff.Policy{Attempts: 4, Initial: time.Millisecond, Sleep: slept.sleep}
			calls := 0
			retries, err := p.Do(context.Background(), func(err error) bool { return errors.Is(err, errAgain) }, func(context.Context) error {
				calls++
				return tc.results[calls-1]
			})
			if calls != tc.calls || retries != tc.retries || !errors.Is(err, tc.want) && err != tc.want || len(slept) != tc.retries {
				t.Errorf("%d calls, %d retries, %d sleeps, err %v; want %d calls, %d retries, err %v", calls, retries, len(slept), err, tc.calls, tc.retries, tc.want)
			}
		})
	}
}

func TestOrFillsOnlyZeroFields(t *testing.T) {
	defaults := backoff.Policy{Attempts: 6, Initial: time.Second, Max: time.Minute, Budget: time.Hour, Margin: 3 * time.Second}
	got := backoff.Policy{Initial: time.Millisecond}.Or(defaults)
	want := backoff.Policy{Attempts: 6, Initial: time.Millisecond, Max: time.Minute, Budget: time.Hour, Margin: 3 * time.Second}
	if got.Attempts != want.Attempts || got.Initial != want.Initial || got.Max != want.Max || got.Budget != want.Budget || got.Margin != want.Margin {
		t.Errorf("Or = %+v, want %+v", got, want)
	}
	if got.Sleep != nil || got.Jitter != nil {
		t.Error("nil defaults must stay nil")
	}
}
