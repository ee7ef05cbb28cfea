package failback

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Backoff is the retry policy for copies, batch writes and their
// unprocessed remainders: exponential delays with jitter, a bounded number
// of attempts.
type Backoff struct {
	// Attempts is the most tries of one operation, e.g. 6.
	Attempts int
	// Initial is the first delay, e.g. 200ms; delays double up to Max.
	Initial, Max time.Duration
	// Sleep waits d or until ctx ends; tests replace it to run instantly.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (b Backoff) withDefaults() Backoff {
	if b.Attempts <= 0 {
		b.Attempts = 6
	}
	if b.Initial <= 0 {
		b.Initial = 200 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 10 * time.Second
	}
	if b.Sleep == nil {
		b.Sleep = sleep
	}
	return b
}

// delay is the wait before retry number n (1-based), jittered over
// [d/2, d) so parallel workers do not retry in step.
func (b Backoff) delay(n int) time.Duration {
	d := b.Initial << min(n-1, 20)
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryable says whether an error is worth another try: throttling, 5xx,
// timeouts and broken connections are; client errors (access denied, no
// such key) and a cancelled run are not.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// do runs f until it succeeds, fails for good, or runs out of attempts; it
// returns how many retries it took.
func (b Backoff) do(ctx context.Context, f func(context.Context) error) (retries int, err error) {
	for attempt := 1; ; attempt++ {
		err = f(ctx)
		if err == nil || attempt >= b.Attempts || !retryable(ctx, err) {
			return attempt - 1, err
		}
		if serr := b.Sleep(ctx, b.delay(attempt)); serr != nil {
			return attempt - 1, err
		}
	}
}
