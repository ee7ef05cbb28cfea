package drfake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// EventSourceMapping is a Lambda event source mapping as the fake keeps it.
type EventSourceMapping struct {
	UUID string
	// Function is the function's name.
	Function       string
	EventSourceArn string
	// OnFailure is the on-failure destination's ARN, e.g. an SQS queue's.
	OnFailure string
	State     string // e.g. Enabled
}

// Lambda fakes one region's ListEventSourceMappings (restJson1, GET
// /2015-03-31/event-source-mappings with FunctionName, Marker and MaxItems
// in the query). A FunctionName that names no function answers 404
// ResourceNotFoundException, as Lambda does.
type Lambda struct {
	base
	region, account string

	mu        sync.Mutex
	functions map[string]bool
	mappings  []EventSourceMapping
}

// NewLambda starts a fake; it stops when the test ends.
func NewLambda(tb testing.TB, region, account string) *Lambda {
	l := &Lambda{region: region, account: account, functions: map[string]bool{}}
	l.url = awsfake.Serve(tb, awsfake.WithBody(l.serve)).URL
	return l
}

// PutFunction makes a function exist.
func (l *Lambda) PutFunction(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.functions[name] = true
}

// PutEventSourceMapping adds a mapping (and its function).
func (l *Lambda) PutEventSourceMapping(m EventSourceMapping) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m.State == "" {
		m.State = "Enabled"
	}
	if m.UUID == "" {
		m.UUID = fmt.Sprintf("00000000-0000-0000-0000-%012d", len(l.mappings)+1)
	}
	l.functions[m.Function] = true
	l.mappings = append(l.mappings, m)
}

func (l *Lambda) functionArn(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", l.region, l.account, name)
}

const eventSourceMappingsPath = "/2015-03-31/event-source-mappings"

func (l *Lambda) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op := "Unknown"
	if r.Method == http.MethodGet && strings.TrimSuffix(r.URL.Path, "/") == eventSourceMappingsPath {
		op = "ListEventSourceMappings"
	}
	if f := l.recorder.Record(r, op, body); f != nil {
		awsfake.WriteRestJSONError(w, f.Status, f.Code, f.Message)
		return
	}
	if op == "Unknown" {
		awsfake.WriteRestJSONError(w, http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("drfake.Lambda does not serve %s %s", r.Method, r.URL.Path))
		return
	}
	q := r.URL.Query()
	function := q.Get("FunctionName")
	// FunctionName may be a name or an ARN.
	if i := strings.LastIndex(function, ":function:"); i >= 0 {
		function = function[i+len(":function:"):]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if function != "" && !l.functions[function] {
		awsfake.WriteRestJSONError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+l.functionArn(function))
		return
	}
	var matched []EventSourceMapping
	for _, m := range l.mappings {
		if (function == "" || m.Function == function) && (q.Get("EventSourceArn") == "" || m.EventSourceArn == q.Get("EventSourceArn")) {
			matched = append(matched, m)
		}
	}
	start, _ := strconv.Atoi(q.Get("Marker"))
	size, err := strconv.Atoi(q.Get("MaxItems"))
	if err != nil || size <= 0 || size > 100 {
		size = 100
	}
	start = min(max(start, 0), len(matched))
	end := min(start+size, len(matched))
	page := []any{}
	for _, m := range matched[start:end] {
		item := map[string]any{
			"UUID": m.UUID, "FunctionArn": l.functionArn(m.Function), "EventSourceArn": m.EventSourceArn, "State": m.State,
		}
		if m.OnFailure != "" {
			item["DestinationConfig"] = map[string]any{"OnFailure": map[string]string{"Destination": m.OnFailure}}
		}
		page = append(page, item)
	}
	out := map[string]any{"EventSourceMappings": page}
	if end < len(matched) {
		out["NextMarker"] = strconv.Itoa(end)
	}
	awsfake.WriteJSON(w, http.StatusOK, "application/json", out)
}
