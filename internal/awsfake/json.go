package awsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// JSONRPC serves one awsJson1_0 or awsJson1_1 service as aws-sdk-go-v2
// sends it: a SigV4-signed POST / whose X-Amz-Target is TargetPrefix plus
// the operation, with the protocol's Content-Type and a JSON body. A request
// that is not one is refused with a protocol error and not recorded; any
// other is recorded, answered with an injected fault if one applies, and
// otherwise by its operation (an operation the fake does not serve is
// UnknownOperationException). Errors are the awsJson error document.
type JSONRPC struct {
	// Service names the fake in errors, e.g. "awsfake.SSM".
	Service string
	// TargetPrefix is X-Amz-Target up to the operation, e.g. "AmazonSSM.".
	TargetPrefix string
	// ContentType is "application/x-amz-json-1.0" or "application/x-amz-json-1.1".
	ContentType string
	// ErrorTypePrefix goes before the code in an error's __type, for the
	// services that namespace it (DynamoDB); the SDK strips it.
	ErrorTypePrefix string
	// Recorder logs requests and holds injected faults.
	Recorder *Recorder
	// Lock, when set, is held while an operation runs, so operations may
	// use the fake's state without locking it themselves.
	Lock sync.Locker
	// Operations answers each served operation by name.
	Operations map[string]Operation
}

// Operation answers a request body with the response, which is encoded as
// JSON, or with an error.
type Operation func(body []byte) (any, *APIError)

// Decoding adapts h, which takes the decoded request, to an Operation; a
// body that does not decode into In is SerializationException.
func Decoding[In any](h func(In) (any, *APIError)) Operation {
	return func(body []byte) (any, *APIError) {
		var in In
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, Errorf("SerializationException", "request body is not the operation's input: %v", err)
		}
		return h(in)
	}
}

// APIError is a modelled service error an Operation answers with.
type APIError struct {
	Status  int
	Code    string
	Message string
	// QueryError, when set, is sent as X-Amzn-Query-Error: the awsQuery
	// error code that services moved from awsQuery to awsJson (SQS) keep.
	QueryError string
}

func (e *APIError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf is a client error (400) with code and a formatted message.
func Errorf(code, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ServeHTTP serves one request; see JSONRPC.
func (j *JSONRPC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	WithBody(j.serve).ServeHTTP(w, r)
}

func (j *JSONRPC) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op, apiErr := j.operation(r)
	if apiErr == nil {
		if f := j.Recorder.Record(r, op, body); f != nil {
			apiErr = &APIError{Status: f.Status, Code: f.Code, Message: f.Message}
		}
	}
	var out any
	if apiErr == nil {
		out, apiErr = j.answer(op, body)
	}
	if apiErr != nil {
		if apiErr.QueryError != "" {
			w.Header().Set("X-Amzn-Query-Error", apiErr.QueryError)
		}
		writeJSONError(w, apiErr.Status, j.ContentType, j.ErrorTypePrefix+apiErr.Code, apiErr.Message)
		return
	}
	WriteJSON(w, http.StatusOK, j.ContentType, out)
}

// operation checks that r is an awsJson request as the SDK sends it and
// names its operation.
func (j *JSONRPC) operation(r *http.Request) (string, *APIError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return "", &APIError{Status: http.StatusNotFound, Code: "UnknownOperationException", Message: "expected POST /"}
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), j.TargetPrefix)
	if !ok {
		return "", Errorf("UnknownOperationException", "X-Amz-Target must start with %s", j.TargetPrefix)
	}
	if ct := r.Header.Get("Content-Type"); ct != j.ContentType {
		return "", Errorf("SerializationException", "Content-Type %q, want %s", ct, j.ContentType)
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		return "", Errorf("MissingAuthenticationTokenException", "request is not signed with SigV4")
	}
	return op, nil
}

func (j *JSONRPC) answer(op string, body []byte) (any, *APIError) {
	handle, ok := j.Operations[op]
	if !ok {
		return nil, Errorf("UnknownOperationException", "%s does not serve %s", j.Service, op)
	}
	if j.Lock != nil {
		j.Lock.Lock()
		defer j.Lock.Unlock()
	}
	return handle(body)
}

// WriteJSON answers with status and v encoded as JSON under contentType.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSONError answers with the JSON error document, whose __type the SDK
// reads as the error code.
func writeJSONError(w http.ResponseWriter, status int, contentType, code, message string) {
	WriteJSON(w, status, contentType, map[string]string{"__type": code, "message": message})
}

// WriteRestJSONError answers with restJson1's error: the code in
// X-Amzn-Errortype, which the SDK reads first, and the JSON error document.
func WriteRestJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("X-Amzn-Errortype", code)
	writeJSONError(w, status, "application/json", code, message)
}

// EpochSeconds encodes a time the way the JSON protocols do: seconds since
// the epoch as a number, with fractions.
func EpochSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
