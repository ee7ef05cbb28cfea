package drfake

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

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
	data, control := newProxy(tb, dataPlane), newProxy(tb, controlPlaneURL)
	d := &DynamoDBRouter{}
	d.url = awsfake.Serve(tb, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		if controlPlane[op] {
			control.ServeHTTP(w, r)
			return
		}
		data.ServeHTTP(w, r)
	})).URL
	return d
}

// URL is the endpoint for an SDK client.
func (d *DynamoDBRouter) URL() string { return d.url }

// newProxy forwards to one upstream server.
func newProxy(tb testing.TB, upstream string) *httputil.ReverseProxy {
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
	return proxy
}
