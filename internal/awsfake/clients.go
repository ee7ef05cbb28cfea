package awsfake

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
)

// Config is an SDK config for a fake at endpoint: static credentials and the
// SDK's standard retries without backoff delay, so tests of retried faults
// run fast and still exercise the real retry path.
func Config(endpoint, region string) aws.Config {
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   HTTPClient(),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "fake-secret", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				o.RateLimiter = ratelimit.None
			})
		},
	}
}

// DynamoDBClient is a DynamoDB client for any endpoint, e.g. DeadEndpoint.
func DynamoDBClient(endpoint, region string) *dynamodb.Client {
	return dynamodb.NewFromConfig(Config(endpoint, region))
}

// Client is an SDK client for this fake.
func (d *DynamoDB) Client() *dynamodb.Client { return DynamoDBClient(d.URL(), d.region) }

// Client is an SDK client for this fake.
func (b *Backup) Client() *backup.Client { return backup.NewFromConfig(Config(b.URL(), b.region)) }

// Client is an SDK client for this fake, in the control plane region.
func (g *GlobalAccelerator) Client() *globalaccelerator.Client {
	return globalaccelerator.NewFromConfig(Config(g.URL(), "us-west-2"))
}

// HTTPClient reaches a loopback fake under any host name ending in
// ".127.0.0.1": S3 Control's endpoint rules put the account id in front of
// a custom endpoint's host ("123456789012.127.0.0.1:PORT"), which no
// resolver knows. One client is shared, like the SDK's default.
var HTTPClient = sync.OnceValue(func() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && strings.HasSuffix(host, ".127.0.0.1") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: transport}
})
