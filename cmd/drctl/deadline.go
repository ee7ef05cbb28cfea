package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/dr-analytics/drplan/internal/awserr"
)

// copyCallTimeout is the least deadline of an S3 copy call: CopyObject and
// UploadPartCopy copy up to 5 GB inside S3 and answer only when done
// (CopyObject, Amazon S3 API Reference), so a deadline meant for a quick
// call would cancel copies that are working.
const copyCallTimeout = 30 * time.Minute

// resolveCredentials gets credentials once, within timeout, so a missing
// source (off EC2, the instance metadata service never answers) costs
// at most timeout and is named, instead of surfacing later as each
// check's failure.
func resolveCredentials(ctx context.Context, cfg aws.Config, timeout time.Duration) error {
	if cfg.Credentials == nil {
		return errors.New("get credentials: no credential source is configured: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for the DR account")
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := cfg.Credentials.Retrieve(cctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("get credentials: interrupted")
	case cctx.Err() != nil || awserr.Timeout(err):
		// Off EC2 the SDK's last source, the instance metadata service,
		// times out rather than refusing.
		return fmt.Errorf("get credentials: no credentials within %s: a credential source did not answer (off EC2 that is usually the instance metadata service: set AWS_EC2_METADATA_DISABLED=true); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for the DR account, or raise -timeout", timeout)
	}
	// Every other failure here is about credentials, whatever the source said.
	return fmt.Errorf("get credentials: %v: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for the DR account", err)
}

// callDeadline gives every AWS call, retries included, its own deadline:
// a region or endpoint that never answers fails that call after timeout
// instead of hanging the command. It runs in the Initialize step, after
// the operation's name is known and before the retry loop.
func callDeadline(timeout time.Duration) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("drctlCallDeadline",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				d := timeout
				if awsmiddleware.GetServiceID(ctx) == "S3" {
					switch awsmiddleware.GetOperationName(ctx) {
					case "CopyObject", "UploadPartCopy", "CompleteMultipartUpload":
						d = max(d, copyCallTimeout)
					}
				}
				ctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// waiting shows what drctl is waiting for on a terminal, with the seconds
// spent, until the returned function clears the line. Off a terminal it
// shows nothing, so pipes and logs get only the report.
func waiting(env environment, what string) func() {
	if !env.terminal {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	started := time.Now()
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			fmt.Fprintf(env.stderr, "\r\x1b[K%s ... %s", what, time.Since(started).Round(time.Second))
			select {
			case <-done:
				fmt.Fprint(env.stderr, "\r\x1b[K")
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
