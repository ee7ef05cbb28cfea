package awserr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
)

func TestExplainNamesTheRealCause(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"deadline", fmt.Errorf("operation error STS: GetCallerIdentity: %w", context.DeadlineExceeded), timeoutHint},
		{"dns", fmt.Errorf("send request: %w", &net.DNSError{Err: "no such host", Name: "sts.us-west-2.amazonaws.com", IsNotFound: true}), dnsHint},
		{"refused", fmt.Errorf("send request: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}), refusedHint},
		{"expired token", &smithy.GenericAPIError{Code: "ExpiredToken", Message: "The security token included in the request is expired"}, expiredHint},
		{"invalid token", &smithy.GenericAPIError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid"}, credentialsHint},
		{"no credentials", errors.New("failed to refresh cached credentials, no EC2 IMDS role found"), credentialsHint},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain(tc.err)
			if !strings.HasPrefix(got, tc.err.Error()+": ") || !strings.HasSuffix(got, tc.want) {
				t.Errorf("Explain = %q, want the error then %q", got, tc.want)
			}
		})
	}
}

func TestStackNotFound(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{&smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id dr-analytics-backup-failover does not exist"}, true},
		{&smithy.GenericAPIError{Code: "ValidationError", Message: "1 validation error detected"}, false},
		{&smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform cloudformation:DescribeStacks"}, false},
		{nil, false},
	}
	for _, tc := range cases {
		if got := StackNotFound(tc.err); got != tc.want {
			t.Errorf("StackNotFound(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
