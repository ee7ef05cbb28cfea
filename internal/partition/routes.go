package partition

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Route sends objects created under Prefix in Bucket to a Glue table. The
// table's partition keys and storage descriptor come from the table itself.
type Route struct {
	// Bucket is the bucket's name, e.g. "dr-analytics-streaming-123456789012-us-east-1".
	Bucket string `json:"bucket"`
	// Prefix is where the table's data starts, e.g. "raw/"; "" is the whole bucket.
	Prefix string `json:"prefix"`
	// Database and Table name the Glue table, e.g. "dr_analytics" and "raw".
	Database string `json:"database"`
	Table    string `json:"table"`
}

const routesExample = `[{"bucket":"my-bucket","prefix":"raw/","database":"my_db","table":"raw"}]`

// ParseRoutes reads routes from JSON (the PARTITION_ROUTES format): a
// non-empty array of routes, each with every field set except prefix, which
// ends with "/" or is "", and no two routes for the same bucket and prefix.
// Unknown fields are refused, so a misspelt field is not silently ignored.
func ParseRoutes(jsonText string) ([]Route, error) {
	if strings.TrimSpace(jsonText) == "" {
		return nil, fmt.Errorf("routes are empty: set them to a JSON array such as %s", routesExample)
	}
	dec := json.NewDecoder(strings.NewReader(jsonText))
	dec.DisallowUnknownFields()
	var routes []Route
	if err := dec.Decode(&routes); err != nil {
		return nil, fmt.Errorf("routes are not a JSON array of routes such as %s: %w", routesExample, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("routes have text after the JSON array: remove it")
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("routes are an empty array: add at least one route such as %s", routesExample)
	}
	seen := map[[2]string]int{}
	for i, r := range routes {
		var missing []string
		for _, f := range []struct{ name, value string }{{"bucket", r.Bucket}, {"database", r.Database}, {"table", r.Table}} {
			if strings.TrimSpace(f.value) == "" {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("route %d %s: set %s", i, describe(r), strings.Join(missing, ", "))
		}
		if r.Prefix != "" && !strings.HasSuffix(r.Prefix, "/") {
			return nil, fmt.Errorf("route %d %s: prefix %q must end with \"/\" (write %q), or be \"\" for the whole bucket", i, describe(r), r.Prefix, r.Prefix+"/")
		}
		if strings.HasPrefix(r.Prefix, "/") {
			return nil, fmt.Errorf("route %d %s: prefix %q must not start with \"/\": S3 keys have no leading slash", i, describe(r), r.Prefix)
		}
		id := [2]string{r.Bucket, r.Prefix}
		if first, dup := seen[id]; dup {
			return nil, fmt.Errorf("routes %d and %d both route bucket %q prefix %q: keep one", first, i, r.Bucket, r.Prefix)
		}
		seen[id] = i
	}
	return routes, nil
}

func describe(r Route) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(r)
	return strings.TrimSpace(b.String())
}

// routeTable finds the route of an object: same bucket, longest matching prefix.
type routeTable []Route

func newRouteTable(routes []Route) routeTable {
	t := slices.Clone(routes)
	slices.SortStableFunc(t, func(a, b Route) int { return len(b.Prefix) - len(a.Prefix) })
	return t
}

func (t routeTable) find(obj Object) (Route, bool) {
	for _, r := range t {
		if r.Bucket == obj.Bucket && strings.HasPrefix(obj.Key, r.Prefix) {
			return r, true
		}
	}
	return Route{}, false
}
