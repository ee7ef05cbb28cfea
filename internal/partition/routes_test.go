package partition

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRoutes(t *testing.T) {
	t.Run("reads every field", func(t *testing.T) {
		got, err := ParseRoutes(`[
			{"bucket":"streaming","prefix":"raw/","database":"dr_analytics","table":"raw"},
			{"bucket":"batch","prefix":"","database":"dr_analytics","table":"compacted"}]`)
		want := []Route{
			{Bucket: "streaming", Prefix: "raw/", Database: "dr_analytics", Table: "raw"},
			{Bucket: "batch", Prefix: "", Database: "dr_analytics", Table: "compacted"},
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseRoutes = %+v, %v; want %+v", got, err, want)
		}
	})
	bad := []struct {
		name, json, mention string
	}{
		{"empty text", "  ", "JSON array"},
		{"not JSON", "raw/", "JSON array"},
		{"an object instead of an array", `{"bucket":"b"}`, "JSON array"},
		{"an empty array", `[]`, "at least one route"},
		{"text after the array", `[{"bucket":"b","prefix":"p/","database":"d","table":"t"}] x`, "after the JSON array"},
		{"a misspelt field", `[{"bucket":"b","prefix":"p/","database":"d","tabel":"t"}]`, "tabel"},
		{"a missing bucket", `[{"prefix":"p/","database":"d","table":"t"}]`, "set bucket"},
		{"blank database and table", `[{"bucket":"b","prefix":"p/","database":" ","table":""}]`, "set database, table"},
		{"a prefix without a trailing slash", `[{"bucket":"b","prefix":"raw","database":"d","table":"t"}]`, `write "raw/"`},
		{"a prefix with a leading slash", `[{"bucket":"b","prefix":"/raw/","database":"d","table":"t"}]`, "must not start"},
		{"two routes for one bucket and prefix", `[{"bucket":"b","prefix":"p/","database":"d","table":"t"},{"bucket":"b","prefix":"p/","database":"d","table":"u"}]`, "routes 0 and 1"},
	}
	for _, c := range bad {
		t.Run("refuses "+c.name+" saying what to change", func(t *testing.T) {
			_, err := ParseRoutes(c.json)
			if err == nil || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("ParseRoutes(%s) error %v, want one mentioning %q", c.json, err, c.mention)
			}
		})
	}
}

func TestRouteTableFindsLongestPrefixInSameBucket(t *testing.T) {
	routes := newRouteTable([]Route{
		{Bucket: "b", Prefix: "", Table: "all"},
		{Bucket: "b", Prefix: "raw/", Table: "raw"},
		{Bucket: "b", Prefix: "raw/special/", Table: "special"},
		{Bucket: "other", Prefix: "raw/", Table: "other"},
	})
	for key, want := range map[Object]string{
		{Bucket: "b", Key: "raw/special/x=1/f"}: "special",
		{Bucket: "b", Key: "raw/x=1/f"}:         "raw",
		{Bucket: "b", Key: "compacted/f"}:       "all",
		{Bucket: "other", Key: "raw/f"}:         "other",
		{Bucket: "none", Key: "raw/f"}:          "",
	} {
		got, ok := routes.find(key)
		if got.Table != want || ok != (want != "") {
			t.Errorf("find(%+v) = %q, %v; want %q", key, got.Table, ok, want)
		}
	}
}
