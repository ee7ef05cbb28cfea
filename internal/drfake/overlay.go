package drfake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// newProxy forwards to the upstream fake (an awsfake server), optionally
// rewriting its JSON answers.
func newProxy(tb testing.TB, upstream string, rewrite func(r *http.Request, body map[string]any)) *httputil.ReverseProxy {
	tb.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		tb.Fatalf("drfake: upstream %q: %v", upstream, err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	// A client that gives up (a cancelled run) is not news; answer the
	// rest with 502 like a gateway would, without logging.
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	if rewrite != nil {
		proxy.ModifyResponse = func(resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				return nil
			}
			raw, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				return err
			}
			var body map[string]any
			if json.Unmarshal(raw, &body) == nil {
				rewrite(resp.Request, body)
				if changed, err := json.Marshal(body); err == nil {
					raw = changed
				}
			}
			resp.Body = io.NopCloser(bytes.NewReader(raw))
			resp.ContentLength = int64(len(raw))
			resp.Header.Set("Content-Length", strconv.Itoa(len(raw)))
			return nil
		}
	}
	return proxy
}

// BackupOverlay stands in front of an awsfake.Backup and adds
// DescribeRegionSettings (restJson1, GET /account-settings), which drctl
// status reads; every other request goes to the awsfake server.
type BackupOverlay struct {
	recorder
	url string

	mu         sync.Mutex
	management map[string]bool
	optIn      map[string]bool
}

// NewBackupOverlay starts an overlay for the awsfake.Backup at upstream;
// DynamoDB advanced features start enabled.
func NewBackupOverlay(tb testing.TB, upstream string) *BackupOverlay {
	b := &BackupOverlay{recorder: newRecorder(),
		management: map[string]bool{"DynamoDB": true}, optIn: map[string]bool{"DynamoDB": true}}
	proxy := newProxy(tb, upstream, nil)
	b.url = serve(tb, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Method != http.MethodGet || r.URL.Path != "/account-settings" {
			r.Body = io.NopCloser(bytes.NewReader(body))
			proxy.ServeHTTP(w, r)
			return
		}
		if f := b.record("DescribeRegionSettings"); f != nil {
			w.Header().Set("X-Amzn-ErrorType", f.Code)
			writeJSON(w, f.Status, map[string]string{"Code": f.Code, "Message": f.Message})
			return
		}
		b.mu.Lock()
		out := map[string]any{"ResourceTypeManagementPreference": b.management, "ResourceTypeOptInPreference": b.optIn}
		body, _ = json.Marshal(out)
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}).URL
	return b
}

// URL is the endpoint for an SDK client.
func (b *BackupOverlay) URL() string { return b.url }

// SetDynamoDBAdvancedFeatures sets the DynamoDB management preference.
func (b *BackupOverlay) SetDynamoDBAdvancedFeatures(on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.management = map[string]bool{"DynamoDB": on}
}

// Accelerator is a Global Accelerator as DescribeAccelerator returns it.
type Accelerator struct {
	Arn, Name, DNSName string
	Status             string // DEPLOYED or IN_PROGRESS
	Enabled            bool
}

// Endpoint is one endpoint of a group with its health.
type Endpoint struct {
	ID     string
	Health string // HEALTHY, UNHEALTHY, INITIAL, UNAVAILABLE
}

// GlobalAcceleratorOverlay stands in front of an awsfake.GlobalAccelerator
// (which keeps the endpoint groups and their dials) and adds
// DescribeAccelerator plus endpoint health in ListEndpointGroups answers.
type GlobalAcceleratorOverlay struct {
	recorder
	url string

	mu           sync.Mutex
	accelerators map[string]Accelerator
	endpoints    map[string][]Endpoint
}

// NewGlobalAcceleratorOverlay starts an overlay for the awsfake server at
// upstream; it stops when the test ends.
func NewGlobalAcceleratorOverlay(tb testing.TB, upstream string) *GlobalAcceleratorOverlay {
	g := &GlobalAcceleratorOverlay{recorder: newRecorder(), accelerators: map[string]Accelerator{}, endpoints: map[string][]Endpoint{}}
	proxy := newProxy(tb, upstream, g.addHealth)
	g.url = serve(tb, func(w http.ResponseWriter, r *http.Request, body []byte) {
		op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "GlobalAccelerator_V20180706.")
		if op != "DescribeAccelerator" {
			r.Body = io.NopCloser(bytes.NewReader(body))
			proxy.ServeHTTP(w, r)
			return
		}
		if f := g.record(op); f != nil {
			writeJSONError(w, f.Status, f.Code, f.Message)
			return
		}
		var in struct{ AcceleratorArn string }
		_ = json.Unmarshal(body, &in)
		g.mu.Lock()
		a, ok := g.accelerators[in.AcceleratorArn]
		g.mu.Unlock()
		if !ok {
			writeJSONError(w, http.StatusBadRequest, "AcceleratorNotFoundException", "Accelerator not found: "+in.AcceleratorArn)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"Accelerator": map[string]any{
			"AcceleratorArn": a.Arn, "Name": a.Name, "DnsName": a.DNSName, "Status": a.Status, "Enabled": a.Enabled,
			"IpAddressType": "IPV4",
		}})
	}).URL
	return g
}

// URL is the endpoint for an SDK client.
func (g *GlobalAcceleratorOverlay) URL() string { return g.url }

// PutAccelerator creates or replaces an accelerator.
func (g *GlobalAcceleratorOverlay) PutAccelerator(a Accelerator) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.accelerators[a.Arn] = a
}

// SetEndpoints sets the endpoints (and their health) of a group.
func (g *GlobalAcceleratorOverlay) SetEndpoints(groupArn string, endpoints ...Endpoint) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.endpoints[groupArn] = endpoints
}

func (g *GlobalAcceleratorOverlay) addHealth(_ *http.Request, body map[string]any) {
	groups, _ := body["EndpointGroups"].([]any)
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, item := range groups {
		group, _ := item.(map[string]any)
		arn, _ := group["EndpointGroupArn"].(string)
		descriptions := []any{}
		for _, e := range g.endpoints[arn] {
			descriptions = append(descriptions, map[string]any{"EndpointId": e.ID, "HealthState": e.Health, "Weight": 128})
		}
		group["EndpointDescriptions"] = descriptions
	}
}

// DynamoDBRouter is one DynamoDB endpoint in front of two servers: the
// control-plane operations dynalite lacks (continuous backups, restores,
// tags) go to an awsfake.DynamoDB, everything else (tables and items) to
// dynalite. A region then looks like one DynamoDB to drctl.
type DynamoDBRouter struct {
	url string
}

// controlPlane are the operations routed to the control-plane fake.
var controlPlane = map[string]bool{
	"DescribeContinuousBackups": true, "UpdateContinuousBackups": true, "RestoreTableToPointInTime": true,
	"TagResource": true, "ListTagsOfResource": true,
}

// NewDynamoDBRouter starts a router; it stops when the test ends.
func NewDynamoDBRouter(tb testing.TB, dataPlane, controlPlaneURL string) *DynamoDBRouter {
	data, control := newProxy(tb, dataPlane, nil), newProxy(tb, controlPlaneURL, nil)
	d := &DynamoDBRouter{}
	d.url = serve(tb, func(w http.ResponseWriter, r *http.Request, body []byte) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		if controlPlane[op] {
			control.ServeHTTP(w, r)
			return
		}
		data.ServeHTTP(w, r)
	}).URL
	return d
}

// URL is the endpoint for an SDK client.
func (d *DynamoDBRouter) URL() string { return d.url }
