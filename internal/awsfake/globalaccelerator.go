package awsfake

import (
	"slices"
	"strconv"
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

// Endpoint is one endpoint of a group with its health.
type Endpoint struct {
	ID string
	// Health is the HealthState: INITIAL, HEALTHY or UNHEALTHY (the
	// HealthState enum of the Global Accelerator API Reference).
	Health string
	// Weight is the endpoint's weight; nil answers 128, the default weight
	// ("Endpoint weights", Global Accelerator Developer Guide).
	Weight *int32
	// ClientIPPreservation is EndpointDescription.ClientIPPreservationEnabled.
	ClientIPPreservation bool
}

// Accelerator is a Global Accelerator as DescribeAccelerator returns it.
type Accelerator struct {
	Arn, Name, DNSName string
	Status             string // DEPLOYED or IN_PROGRESS
	Enabled            bool
}

// GlobalAccelerator fakes the Global Accelerator control plane (awsJson1_1,
// X-Amz-Target GlobalAccelerator_V20180706.*): DescribeAccelerator,
// ListEndpointGroups, DescribeEndpointGroup and UpdateEndpointGroup (traffic
// dial, and EndpointConfigurations, which replace the group's whole endpoint
// list: AddEndpoints is documented as the way to add endpoints "without
// specify[ing] the current endpoints", API_AddEndpoints; each Weight 0-255,
// at most 10 endpoints, API_EndpointConfiguration). Endpoint groups are
// answered with their endpoints' health; an endpoint kept by an update keeps
// its health, a new one starts INITIAL.
type GlobalAccelerator struct {
	server

	mu           sync.Mutex
	accelerators map[string]Accelerator
	listeners    map[string][]*EndpointGroup
	// endpoints are by group ARN, apart from the groups, so that replacing
	// a listener's groups (a dial change) keeps their endpoints.
	endpoints map[string][]Endpoint
	page      int
}

// NewGlobalAccelerator starts a fake; it stops when the test ends.
func NewGlobalAccelerator(tb testing.TB) *GlobalAccelerator {
	g := &GlobalAccelerator{accelerators: map[string]Accelerator{}, listeners: map[string][]*EndpointGroup{},
		endpoints: map[string][]Endpoint{}, page: 100}
	g.url = Serve(tb, &JSONRPC{
		Service:      "awsfake.GlobalAccelerator",
		TargetPrefix: "GlobalAccelerator_V20180706.",
		ContentType:  "application/x-amz-json-1.1",
		Recorder:     &g.Recorder,
		Lock:         &g.mu,
		Operations: map[string]Operation{
			"DescribeAccelerator":   Decoding(g.describeAccelerator),
			"ListEndpointGroups":    Decoding(g.listEndpointGroups),
			"DescribeEndpointGroup": Decoding(g.describeEndpointGroup),
			"UpdateEndpointGroup":   Decoding(g.updateEndpointGroup),
		},
	}).URL
	return g
}

// SetPageSize sets how many endpoint groups one list page holds at most.
func (g *GlobalAccelerator) SetPageSize(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.page = n
}

// PutAccelerator creates or replaces an accelerator.
func (g *GlobalAccelerator) PutAccelerator(a Accelerator) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.accelerators[a.Arn] = a
}

// SetEndpoints sets the endpoints (and their health) of the group with
// that ARN; the group need not exist yet.
func (g *GlobalAccelerator) SetEndpoints(groupArn string, endpoints ...Endpoint) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.endpoints[groupArn] = slices.Clone(endpoints)
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

// Endpoints returns a group's endpoints as the fake keeps them.
func (g *GlobalAccelerator) Endpoints(groupArn string) ([]Endpoint, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.endpoints[groupArn]
	return slices.Clone(e), ok
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

func (g *GlobalAccelerator) describeAccelerator(in map[string]any) (any, *APIError) {
	arn := str(in, "AcceleratorArn")
	a, ok := g.accelerators[arn]
	if !ok {
		return nil, Errorf("AcceleratorNotFoundException", "Accelerator not found: %s", arn)
	}
	return map[string]any{"Accelerator": map[string]any{
		"AcceleratorArn": a.Arn, "Name": a.Name, "DnsName": a.DNSName, "Status": a.Status, "Enabled": a.Enabled,
		"IpAddressType": "IPV4",
	}}, nil
}

// group is an endpoint group as the service answers it, with health. The
// API Reference documents EndpointDescription.HealthReason as "Returns a
// null result", so it is left out.
func (g *GlobalAccelerator) group(eg *EndpointGroup) map[string]any {
	descriptions := []any{}
	for _, e := range g.endpoints[eg.Arn] {
		weight := int32(128)
		if e.Weight != nil {
			weight = *e.Weight
		}
		descriptions = append(descriptions, map[string]any{"EndpointId": e.ID, "HealthState": e.Health, "Weight": weight,
			"ClientIPPreservationEnabled": e.ClientIPPreservation})
	}
	out := map[string]any{"EndpointGroupArn": eg.Arn, "EndpointGroupRegion": eg.Region, "EndpointDescriptions": descriptions}
	if eg.Dial != nil {
		out["TrafficDialPercentage"] = *eg.Dial
	}
	return out
}

func (g *GlobalAccelerator) describeEndpointGroup(in map[string]any) (any, *APIError) {
	arn := str(in, "EndpointGroupArn")
	eg := g.find(arn)
	if eg == nil {
		return nil, Errorf("EndpointGroupNotFoundException", "Endpoint group not found: %s", arn)
	}
	return map[string]any{"EndpointGroup": g.group(eg)}, nil
}

func (g *GlobalAccelerator) listEndpointGroups(in map[string]any) (any, *APIError) {
	arn := str(in, "ListenerArn")
	groups, ok := g.listeners[arn]
	if !ok {
		return nil, Errorf("ListenerNotFoundException", "Listener not found: %s", arn)
	}
	start := 0
	if token := str(in, "NextToken"); token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(groups) {
			return nil, Errorf("InvalidNextTokenException", "invalid NextToken %q", token)
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
		page = append(page, g.group(eg))
	}
	out := map[string]any{"EndpointGroups": page}
	if end < len(groups) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (g *GlobalAccelerator) updateEndpointGroup(in map[string]any) (any, *APIError) {
	arn := str(in, "EndpointGroupArn")
	eg := g.find(arn)
	if eg == nil {
		return nil, Errorf("EndpointGroupNotFoundException", "Endpoint group not found: %s", arn)
	}
	if v, ok := in["TrafficDialPercentage"].(float64); ok {
		if v < 0 || v > 100 {
			return nil, Errorf("InvalidArgumentException", "TrafficDialPercentage must be between 0 and 100, got %v", v)
		}
		dial := float32(v)
		eg.Dial = &dial
	}
	if raw, ok := in["EndpointConfigurations"].([]any); ok {
		if len(raw) > 10 {
			return nil, Errorf("InvalidArgumentException", "at most 10 endpoint configurations, got %d", len(raw))
		}
		health := map[string]string{}
		for _, e := range g.endpoints[arn] {
			health[e.ID] = e.Health
		}
		var endpoints []Endpoint
		for _, item := range raw {
			c, _ := item.(map[string]any)
			id := str(c, "EndpointId")
			if id == "" {
				return nil, Errorf("InvalidArgumentException", "EndpointId is required")
			}
			e := Endpoint{ID: id, Health: "INITIAL"}
			e.ClientIPPreservation, _ = c["ClientIPPreservationEnabled"].(bool)
			if h, ok := health[id]; ok {
				e.Health = h
			}
			if w, ok := c["Weight"].(float64); ok {
				if w < 0 || w > 255 {
					return nil, Errorf("InvalidArgumentException", "Weight must be between 0 and 255, got %v", w)
				}
				weight := int32(w)
				e.Weight = &weight
			}
			endpoints = append(endpoints, e)
		}
		g.endpoints[arn] = endpoints
	}
	return map[string]any{"EndpointGroup": g.group(eg)}, nil
}
