package failback

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/dr-analytics/drplan/internal/backoff"
)

// Retry defaults for copies, batch reads and writes, their unprocessed
// remainders and Glue calls: 6 tries, 200ms doubling to 10s, jittered.
const (
	defaultAttempts = 6
	defaultInitial  = 200 * time.Millisecond
	defaultMax      = 10 * time.Second
)

// retryPolicy fills the zero fields of p with failback's defaults. Sleep
// also waits between drain polls, so tests can run a drain on a fake clock.
func retryPolicy(p backoff.Policy) backoff.Policy {
	if p.Attempts <= 0 {
		p.Attempts = defaultAttempts
	}
	if p.Initial <= 0 {
		p.Initial = defaultInitial
	}
	if p.Max <= 0 {
		p.Max = defaultMax
	}
	if p.Sleep == nil {
		p.Sleep = backoff.Sleep
	}
	return p
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

// do runs f under p until it succeeds, fails for good, or runs out of
// attempts; it returns how many retries it took.
func do(ctx context.Context, p backoff.Policy, f func(context.Context) error) (retries int, err error) {
	return p.Do(ctx, func(err error) bool { return retryable(ctx, err) }, f)
}
