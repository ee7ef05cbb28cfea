// Package awsfake runs small in-memory AWS control-plane servers on loopback
// for tests: the DynamoDB table and backup operations dynalite lacks, AWS
// Backup, Global Accelerator, SSM Parameter Store and the Firehose control
// plane (DescribeDeliveryStream). Each server speaks the
// wire protocol exactly as aws-sdk-go-v2 sends it (awsJson1_0, restJson1,
// awsJson1_1), records every request, and can be told to fail or hang per
// operation, so code under test uses real SDK clients and a dead region is a
// real network condition, not a mock.
//
// It is also where every fake in this module gets its protocol plumbing, so
// each idea has one implementation: Serve starts a fake's server, Recorder
// logs requests and hands out injected faults, JSONRPC serves an awsJson
// service (request checks, recording, faults, dispatch by operation), and
// WriteJSON, WriteRestJSONError and EpochSeconds encode answers. It is test
// support only.
package awsfake

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Serve starts h on a loopback port; it stops when the test ends. Every
// request's context ends when it stops, so a request held by a Hang fault
// never outlives the test.
func Serve(tb testing.TB, h http.Handler) *httptest.Server {
	ctx, stop := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(h)
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	tb.Cleanup(func() {
		stop()
		srv.Close()
	})
	return srv
}

// WithBody adapts a handler that takes the request body, read in full, to
// an http.Handler.
func WithBody(h func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h(w, r, body)
	})
}

// DeadEndpoint returns a loopback URL on which nothing listens: connections
// are refused at once, like a region whose endpoint is unreachable. It is
// port 1, outside the ephemeral range: a port borrowed from it and released
// could be handed straight to the next test server, which would then answer
// for the "dead" region (a flake seen in internal/tablerestore).
func DeadEndpoint(tb testing.TB) string {
	tb.Helper()
	return "http://127.0.0.1:1"
}

// server is what every fake of this package embeds: its request log and
// faults, and its endpoint.
type server struct {
	Recorder
	url string
}

// URL is the endpoint to give an SDK client as BaseEndpoint.
func (s *server) URL() string { return s.url }
