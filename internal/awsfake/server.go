// Package awsfake runs small in-memory AWS control-plane servers on loopback
// for tests: the DynamoDB table and backup operations dynalite lacks, AWS
// Backup, and Global Accelerator. Each server speaks the wire protocol exactly
// as aws-sdk-go-v2 sends it (awsJson1_0, restJson1, awsJson1_1), records every
// request, and can be told to fail or hang per operation, so code under test
// uses real SDK clients and a dead region is a real network condition, not a
// mock. It is test support only.
package awsfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// Call is one request a fake received.
type Call struct {
	// Op is the operation name, e.g. "RestoreTableToPointInTime".
	Op string
	// Body is the raw request body (JSON for every protocol here).
	Body []byte
	// Path and Query are the request path and query (restJson1 inputs live there).
	Path  string
	Query url.Values
}

// Decode unmarshals the call's JSON body into v.
func (c Call) Decode(v any) error { return json.Unmarshal(c.Body, v) }

// Fault makes a fake answer an operation with an error, or not at all.
type Fault struct {
	// Code is the error code, e.g. "AccessDeniedException".
	Code string
	// Message is the error message; Status the HTTP status (default 400).
	Message string
	Status  int
	// Hang blocks the request until the client gives up or the server closes,
	// like a region that accepts connections but never answers.
	Hang bool
	// Times limits the fault to that many calls; 0 means every call.
	Times int
}

// server is what every fake shares: the HTTP server, the call log and the
// injected faults.
type server struct {
	srv     *httptest.Server
	closing chan struct{}

	mu     sync.Mutex
	calls  []Call
	faults map[string]*Fault // by operation; "*" applies to all
}

// anyOp is the Inject key that applies a fault to every operation.
const anyOp = "*"

func newServer(tb testing.TB, serve func(w http.ResponseWriter, r *http.Request, body []byte)) *server {
	s := &server{closing: make(chan struct{}), faults: map[string]*Fault{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		serve(w, r, body)
	}))
	tb.Cleanup(s.close)
	return s
}

// URL is the endpoint to give an SDK client as BaseEndpoint.
func (s *server) URL() string { return s.srv.URL }

// Calls returns every request received so far, in order.
func (s *server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsTo returns the requests received for one operation.
func (s *server) CallsTo(op string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Ops returns the operation names received so far, in order.
func (s *server) Ops() []string {
	var out []string
	for _, c := range s.Calls() {
		out = append(out, c.Op)
	}
	return out
}

// Inject makes op (or every operation, with op "*") answer with f until
// Clear is called or f.Times calls have used it up.
func (s *server) Inject(op string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Status == 0 {
		f.Status = http.StatusBadRequest
	}
	s.faults[op] = &f
}

// Hang makes every operation hang, like a region that answers nothing.
func (s *server) Hang() { s.Inject(anyOp, Fault{Hang: true}) }

// Clear removes every injected fault.
func (s *server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// record logs the call and returns the fault to apply, if any.
func (s *server) record(c Call) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	for _, key := range []string{c.Op, anyOp} {
		f, ok := s.faults[key]
		if !ok {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				delete(s.faults, key)
			}
		}
		copied := *f
		return &copied
	}
	return nil
}

// hang blocks until the client cancels the request or the server closes, so
// a hanging fake never outlives its test.
func (s *server) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closing:
	}
}

func (s *server) close() {
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	s.srv.Close()
}

// DeadEndpoint returns a loopback URL on which nothing listens: connections
// are refused at once, like a region whose endpoint is unreachable.
func DeadEndpoint(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("awsfake: reserve a port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		tb.Fatalf("awsfake: release port: %v", err)
	}
	return "http://" + addr
}

// writeJSON answers with status and v encoded as JSON under contentType.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// epoch encodes a time the way the JSON protocols do: seconds since the
// epoch as a number, with fractions.
func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// apiError is a modelled service error a handler returns.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

func errorf(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}
