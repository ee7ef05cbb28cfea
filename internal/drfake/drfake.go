// Package drfake runs in-memory AWS service fakes on loopback for the
// operator CLI's tests: STS and CloudFormation (awsQuery, XML answers),
// CloudWatch (smithy rpcv2Cbor, as aws-sdk-go-v2 sends it now), Lambda's
// event source mappings (restJson1), SQS queue depths and Step Functions
// executions (awsJson1_0), an S3 front for gofakes3 that adds replication
// configuration, UploadPartCopy, fault injection and call counts, and a
// DynamoDB router that makes dynalite and awsfake's DynamoDB control plane
// one endpoint. A World composes them with awsfake's fakes (SSM, DynamoDB's
// control plane, AWS Backup, Global Accelerator) into both regions of a
// deployment. Every fake decodes requests exactly as the SDK encodes them,
// so the code under test uses real SDK clients. Test support only.
package drfake

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Fault makes a fake answer one operation with an error.
type Fault struct {
	// Status is the HTTP status, 500 when zero.
	Status int
	// Code is the error code, e.g. "InternalError"; Message its text.
	Code, Message string
	// Times limits the fault to that many calls; 0 means every call.
	Times int
}

// recorder counts calls per operation and hands out injected faults. Every
// fake embeds one.
type recorder struct {
	mu     sync.Mutex
	calls  map[string]int
	faults map[string]*Fault
}

func newRecorder() recorder {
	return recorder{calls: map[string]int{}, faults: map[string]*Fault{}}
}

// Calls returns how many requests for op the fake received.
func (r *recorder) Calls(op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[op]
}

// Fail makes op answer with f (every operation when op is "*").
func (r *recorder) Fail(op string, f Fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.Code == "" {
		f.Code = "InternalFailure"
	}
	if f.Message == "" {
		f.Message = "injected fault"
	}
	r.faults[op] = &f
}

// Clear removes every injected fault.
func (r *recorder) Clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.faults)
}

// record counts a call and returns the fault to answer with, if any.
func (r *recorder) record(op string) *Fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[op]++
	for _, key := range []string{op, "*"} {
		f, ok := r.faults[key]
		if !ok {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				delete(r.faults, key)
			}
		}
		copied := *f
		return &copied
	}
	return nil
}

// serve starts an httptest server that reads the body before calling h;
// it stops when the test ends.
func serve(tb testing.TB, h func(w http.ResponseWriter, r *http.Request, body []byte)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h(w, r, body)
	}))
	tb.Cleanup(srv.Close)
	return srv
}
