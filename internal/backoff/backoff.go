// Package backoff is capped exponential backoff with jitter, for every retry
// loop in the product (the aggregator's table writes, the partition
// registrar's Glue calls, failback's copies and merges).
//
// Guarantees: the delay before retry n lies in [d/2, d], where d is Initial
// doubled n-1 times and capped at Max (the default jitter; a Jitter func
// replaces it); a Retry never makes more than Attempts tries, never waits
// more than Budget in total (the last delay is shortened to fit), and never
// sleeps past its context's deadline less Margin: it gives up instead, so
// the caller still has time to report. Sleep is injectable, so tests wait
// on a fake clock or not at all.
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Policy is a retry policy. The zero value retries without delay and
// without limit; callers set their own budgets.
type Policy struct {
	// Attempts is the most tries of one operation, e.g. 6; 0 means no
	// limit (bound it with Budget or the context).
	Attempts int
	// Initial is the first delay, e.g. 200ms; delays double up to Max.
	Initial time.Duration
	// Max caps one delay, e.g. 5s; 0 means no cap.
	Max time.Duration
	// Budget caps the total wait of one Retry, e.g. 20s; 0 means no cap.
	Budget time.Duration
	// Margin is kept free before the context's deadline, e.g. 3s, so the
	// caller can still return its error in time.
	Margin time.Duration
	// Jitter picks the actual delay for a nominal one; nil draws it from
	// [d/2, d] so concurrent callers do not retry in step.
	Jitter func(d time.Duration) time.Duration
	// Sleep waits d or until ctx ends; nil uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Or fills p's zero fields (Attempts, Initial, Max, Budget, Margin,
// Jitter, Sleep) from defaults: callers keep their defaults in one Policy
// literal, and tests override only what they need.
func (p Policy) Or(defaults Policy) Policy {
	if p.Attempts <= 0 {
		p.Attempts = defaults.Attempts
	}
	if p.Initial <= 0 {
		p.Initial = defaults.Initial
	}
	if p.Max <= 0 {
		p.Max = defaults.Max
	}
	if p.Budget <= 0 {
		p.Budget = defaults.Budget
	}
	if p.Margin <= 0 {
		p.Margin = defaults.Margin
	}
	if p.Jitter == nil {
		p.Jitter = defaults.Jitter
	}
	if p.Sleep == nil {
		p.Sleep = defaults.Sleep
	}
	return p
}

// Nominal is the delay before retry n (1-based) before jitter:
// Initial·2^(n-1), capped at Max.
func (p Policy) Nominal(n int) time.Duration {
	ceiling := p.Max
	if ceiling <= 0 {
		ceiling = math.MaxInt64
	}
	d := max(p.Initial, 0)
	if d == 0 {
		return 0
	}
	for i := 1; i < n && d < ceiling; i++ {
		if d > ceiling/2 {
			d = ceiling
			break
		}
		d *= 2
	}
	return min(d, ceiling)
}

// Delay is the jittered delay before retry n (1-based).
func (p Policy) Delay(n int) time.Duration {
	d := p.Nominal(n)
	if p.Jitter != nil {
		return p.Jitter(d)
	}
	return EqualJitter(d)
}

// EqualJitter draws a delay uniformly from [d/2, d].
func EqualJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Sleep waits d or until ctx ends, whichever is first.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Start begins one operation's retries under p.
func (p Policy) Start() *Retry { return &Retry{policy: p, tries: 1} }

// Retry tracks one operation's tries and waits. It is not safe for
// concurrent use; start one per operation (or per worker).
type Retry struct {
	policy Policy
	tries  int // tries made so far, counting the first
	step   int // retries since the last Reset, for the delay's exponent
	waited time.Duration
}

// Wait sleeps before the next try and reports whether to make it: false
// once the attempts or the budget are spent, when the delay would run past
// the context's deadline less Margin, or when the context ends.
func (r *Retry) Wait(ctx context.Context) bool {
	p := r.policy
	if ctx.Err() != nil || p.Attempts > 0 && r.tries >= p.Attempts {
		return false
	}
	d := p.Delay(r.step + 1)
	if p.Budget > 0 {
		left := p.Budget - r.waited
		if left <= 0 {
			return false
		}
		d = min(d, left)
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline)-p.Margin <= d {
		return false
	}
	sleep := p.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	if err := sleep(ctx, d); err != nil || ctx.Err() != nil {
		return false
	}
	r.waited += d
	r.tries++
	r.step++
	return true
}

// Reset starts the delays over from Initial after a success within a
// longer operation (e.g. one batch of many); tries and the time waited
// still count against Attempts and Budget.
func (r *Retry) Reset() { r.step = 0 }

// Retries is how many times Wait said to try again.
func (r *Retry) Retries() int { return r.tries - 1 }

// Waited is the total time Wait slept.
func (r *Retry) Waited() time.Duration { return r.waited }

// Do runs f until it succeeds, fails with an error retryable rejects, or
// Wait says to stop; it returns the retries it made and f's last error.
func (p Policy) Do(ctx context.Context, retryable func(error) bool, f func(context.Context) error) (retries int, err error) {
	r := p.Start()
	for {
		err = f(ctx)
		if err == nil || !retryable(err) || !r.Wait(ctx) {
			return r.Retries(), err
		}
	}
}
