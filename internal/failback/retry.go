package failback

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/dr-analytics/drplan/internal/backoff"
)

// defaultRetry is for copies, batch reads and writes, their unprocessed
// remainders and Glue calls: 6 tries, 200ms doubling to 10s, jittered. Its
// Sleep also waits between drain polls, so tests can run a drain on a fake
// clock by passing their own.
var defaultRetry = backoff.Policy{
	Attempts: 6,
	Initial:  200 * time.Millisecond,
	Max:      10 * time.Second,
	Sleep:    backoff.Sleep,
}

// retryPolicy fills the zero fields of p with failback's defaults.
func retryPolicy(p backoff.Policy) backoff.Policy { return p.Or(defaultRetry) }

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
