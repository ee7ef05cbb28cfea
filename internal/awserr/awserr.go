// Package awserr names the real cause of a failed AWS call for an operator.
// A network problem (no answer in time, a name that does not resolve, a
// refused connection) is not a credentials problem: only an error that is
// about credentials gets the hint to set them.
package awserr

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aws/smithy-go"
)

// Hints, by cause.
const (
	timeoutHint     = "no answer in time: check the network path to AWS (proxy, VPN, firewall), or raise -timeout"
	dnsHint         = "the endpoint's host name does not resolve: check the network, DNS and any AWS_ENDPOINT_URL settings"
	refusedHint     = "nothing accepts connections at the endpoint: check the network and any AWS_ENDPOINT_URL settings"
	expiredHint     = "the credentials have expired: refresh them (e.g. aws sso login) and run again"
	credentialsHint = "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for the DR account"
)

// Explain returns err's text followed by what to do about its cause.
func Explain(err error) string {
	return err.Error() + ": " + hint(err)
}

// Timeout reports whether err is a call that got no answer in time.
func Timeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout()
}

func hint(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &dns):
		return dnsHint
	case Timeout(err):
		return timeoutHint
	case errors.As(err, &op) && op.Op == "dial":
		return refusedHint
	case errors.As(err, &apiErr):
		// STS error codes: https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
		switch apiErr.ErrorCode() {
		case "ExpiredToken", "ExpiredTokenException", "RequestExpired":
			return expiredHint
		}
	}
	// Anything else failed to get or use credentials: no source had any,
	// or STS refused them (InvalidClientTokenId, SignatureDoesNotMatch, ...).
	return credentialsHint
}

// StackNotFound reports whether err is CloudFormation's answer for a stack
// that does not exist: DescribeStacks fails with ValidationError "Stack with
// id NAME does not exist" (CloudFormation API Reference, DescribeStacks).
func StackNotFound(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationError" && strings.Contains(apiErr.ErrorMessage(), "does not exist")
}
