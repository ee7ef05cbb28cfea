package awsfake

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sync"
)

// Call is one request a fake received.
type Call struct {
	// Op is the operation name, e.g. "RestoreTableToPointInTime".
	Op string
	// Body is the raw request body (JSON for every JSON protocol; empty
	// where a fake leaves the body to its backend, as drfake's S3 does).
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
	// Message is the error message; Status the HTTP status (Inject makes
	// it 400 when zero).
	Message string
	Status  int
	// Hang blocks the request until the client gives up or the server
	// stops, like a region that accepts connections but never answers.
	Hang bool
	// Times limits the fault to that many calls; 0 means every call.
	Times int
}

// AnyOp is the operation name that makes a fault apply to every operation.
const AnyOp = "*"

// Recorder logs the requests a fake receives and hands out the faults a
// test injected. The zero value is ready; it is safe for concurrent use.
// Every fake in awsfake embeds one, and the other fakes keep one behind
// their own methods.
type Recorder struct {
	mu     sync.Mutex
	calls  []Call
	faults []pendingFault
}

type pendingFault struct {
	op    string
	fault Fault
}

// Calls returns every request received so far, in order.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// CallsTo returns the requests received for one operation.
func (r *Recorder) CallsTo(op string) []Call {
	var out []Call
	for _, c := range r.Calls() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Ops returns the operation names received so far, in order.
func (r *Recorder) Ops() []string {
	var out []string
	for _, c := range r.Calls() {
		out = append(out, c.Op)
	}
	return out
}

// Inject makes op (or every operation, with op AnyOp) answer with f until
// Clear is called or f.Times calls have used it up. Faults queue in the
// order they were injected: a call takes the first one that is for its
// operation or for every operation.
func (r *Recorder) Inject(op string, f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.Status == 0 {
		f.Status = http.StatusBadRequest
	}
	r.faults = append(r.faults, pendingFault{op: op, fault: f})
}

// Hang makes every operation hang, like a region that answers nothing.
func (r *Recorder) Hang() { r.Inject(AnyOp, Fault{Hang: true}) }

// Clear removes every injected fault.
func (r *Recorder) Clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = nil
}

// Record logs a request for op and returns the fault to answer it with, or
// nil. A fault with Hang holds the request first, until the client gives
// up or the server stops (Serve ends held requests when the test ends), so
// whatever the caller answers then reaches no one.
func (r *Recorder) Record(req *http.Request, op string, body []byte) *Fault {
	f := r.record(Call{Op: op, Body: body, Path: req.URL.Path, Query: req.URL.Query()})
	if f != nil && f.Hang {
		<-req.Context().Done()
	}
	return f
}

func (r *Recorder) record(c Call) *Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	for i := range r.faults {
		p := &r.faults[i]
		if p.op != c.Op && p.op != AnyOp {
			continue
		}
		f := p.fault
		if p.fault.Times > 0 {
			p.fault.Times--
			if p.fault.Times == 0 {
				r.faults = slices.Delete(r.faults, i, i+1)
			}
		}
		return &f
	}
	return nil
}
