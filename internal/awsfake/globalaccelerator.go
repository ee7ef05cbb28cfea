package awsfake

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// EndpointGroup is a Global Accelerator endpoint group on a listener.
type EndpointGroup struct {
	Arn    string
	Region string
	// Dial is TrafficDialPercentage; nil leaves it out of responses, which
	// the service documents as 100.
	Dial *float32
}

// GlobalAccelerator fakes the Global Accelerator control plane (awsJson1_1,
// X-Amz-Target GlobalAccelerator_V20180706.*): ListEndpointGroups and
// UpdateEndpointGroup (traffic dial).
type GlobalAccelerator struct {
	*server

	mu        sync.Mutex
	listeners map[string][]*EndpointGroup
	page      int
}

const globalAcceleratorContentType = "application/x-amz-json-1.1"

// NewGlobalAccelerator starts a fake; it stops when the test ends.
func NewGlobalAccelerator(tb testing.TB) *GlobalAccelerator {
	g := &GlobalAccelerator{listeners: map[string][]*EndpointGroup{}, page: 100}
	g.server = newServer(tb, g.serve)
	return g
}

// SetPageSize sets how many endpoint groups one list page holds at most.
func (g *GlobalAccelerator) SetPageSize(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.page = n
}

// PutListener creates or replaces a listener with its endpoint groups.
func (g *GlobalAccelerator) PutListener(listenerArn string, groups ...EndpointGroup) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var stored []*EndpointGroup
	for _, eg := range groups {
		stored = append(stored, &eg)
	}
	g.listeners[listenerArn] = stored
}

// EndpointGroup returns a copy of the group with that ARN.
func (g *GlobalAccelerator) EndpointGroup(arn string) (EndpointGroup, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if eg := g.find(arn); eg != nil {
		return *eg, true
	}
	return EndpointGroup{}, false
}

func (g *GlobalAccelerator) find(arn string) *EndpointGroup {
	for _, groups := range g.listeners {
		for _, eg := range groups {
			if eg.Arn == arn {
				return eg
			}
		}
	}
	return nil
}

func (g *GlobalAccelerator) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "GlobalAccelerator_V20180706.")
	if r.Method != http.MethodPost || !ok {
		op = "Unknown"
	}
	if f := g.record(Call{Op: op, Body: body, Path: r.URL.Path, Query: r.URL.Query()}); f != nil {
		if f.Hang {
			g.hang(r)
			return
		}
		g.fail(w, &apiError{Status: f.Status, Code: f.Code, Message: f.Message})
		return
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		g.fail(w, errorf("InvalidArgumentException", "request body is not JSON: %v", err))
		return
	}
	g.mu.Lock()
	var out any
	var apiErr *apiError
	switch op {
	case "ListEndpointGroups":
		out, apiErr = g.listEndpointGroups(in)
	case "UpdateEndpointGroup":
		out, apiErr = g.updateEndpointGroup(in)
	default:
		apiErr = errorf("UnknownOperationException", "operation %q is not served by awsfake.GlobalAccelerator", op)
	}
	g.mu.Unlock()
	if apiErr != nil {
		g.fail(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, globalAcceleratorContentType, out)
}

func (g *GlobalAccelerator) fail(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, globalAcceleratorContentType, map[string]string{"__type": e.Code, "Message": e.Message})
}

func describeEndpointGroup(eg *EndpointGroup) map[string]any {
	out := map[string]any{"EndpointGroupArn": eg.Arn, "EndpointGroupRegion": eg.Region, "EndpointDescriptions": []any{}}
	if eg.Dial != nil {
		out["TrafficDialPercentage"] = *eg.Dial
	}
	return out
}

func (g *GlobalAccelerator) listEndpointGroups(in map[string]any) (any, *apiError) {
	arn := str(in, "ListenerArn")
	groups, ok := g.listeners[arn]
	if !ok {
		return nil, errorf("ListenerNotFoundException", "Listener not found: %s", arn)
	}
	start := 0
	if token := str(in, "NextToken"); token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(groups) {
			return nil, errorf("InvalidNextTokenException", "invalid NextToken %q", token)
		}
		start = n
	}
	size := g.page
	if m, ok := in["MaxResults"].(float64); ok && int(m) > 0 && int(m) < size {
		size = int(m)
	}
	end := min(start+size, len(groups))
	page := []map[string]any{}
	for _, eg := range groups[start:end] {
		page = append(page, describeEndpointGroup(eg))
	}
	out := map[string]any{"EndpointGroups": page}
	if end < len(groups) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (g *GlobalAccelerator) updateEndpointGroup(in map[string]any) (any, *apiError) {
	arn := str(in, "EndpointGroupArn")
	eg := g.find(arn)
	if eg == nil {
		return nil, errorf("EndpointGroupNotFoundException", "Endpoint group not found: %s", arn)
	}
	if v, ok := in["TrafficDialPercentage"].(float64); ok {
		if v < 0 || v > 100 {
			return nil, errorf("InvalidArgumentException", "TrafficDialPercentage must be between 0 and 100, got %v", v)
		}
		dial := float32(v)
		eg.Dial = &dial
	}
	return map[string]any{"EndpointGroup": describeEndpointGroup(eg)}, nil
}
