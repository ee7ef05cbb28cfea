package partition

import (
	"reflect"
	"strings"
	"testing"
)

var (
	rawRoute       = Route{Bucket: "streaming", Prefix: "raw/", Database: "dr_analytics", Table: "raw"}
	rawKeys        = []string{"year", "month", "day", "hour"}
	compactedRoute = Route{Bucket: "batch", Prefix: "compacted/", Database: "dr_analytics", Table: "compacted"}
)

func TestPartitionOf(t *testing.T) {
	type want struct {
		values   []string
		location string
		skip     SkipReason
	}
	cases := []struct {
		name  string
		route Route
		keys  []string
		key   string
		want  want
	}{
		{"Firehose object maps to its hour", rawRoute, rawKeys,
			"raw/year=2026/month=01/day=02/hour=03/dr-analytics-raw-delivery-1-2026-01-02-03-00-00-abc.gz",
			want{values: []string{"2026", "01", "02", "03"}, location: "s3://streaming/raw/year=2026/month=01/day=02/hour=03/"}},
		{"compacted object maps to its day", compactedRoute, []string{"dt"},
			"compacted/dt=2026-01-02/part-00000.parquet",
			want{values: []string{"2026-01-02"}, location: "s3://batch/compacted/dt=2026-01-02/"}},
		{"folders after the partition path stay inside the partition", rawRoute, rawKeys,
			"raw/year=2026/month=01/day=02/hour=03/sub/dir/file",
			want{values: []string{"2026", "01", "02", "03"}, location: "s3://streaming/raw/year=2026/month=01/day=02/hour=03/"}},
		{"extra key=value folders stay inside the partition", rawRoute, rawKeys,
			"raw/year=2026/month=01/day=02/hour=03/minute=04/file",
			want{values: []string{"2026", "01", "02", "03"}, location: "s3://streaming/raw/year=2026/month=01/day=02/hour=03/"}},
		{"a value keeps every = after the first", compactedRoute, []string{"dt"},
			"compacted/dt=a=b==/file",
			want{values: []string{"a=b=="}, location: "s3://batch/compacted/dt=a=b==/"}},
		{"a value keeps spaces", compactedRoute, []string{"dt"},
			"compacted/dt=red flower/file",
			want{values: []string{"red flower"}, location: "s3://batch/compacted/dt=red flower/"}},
		{"Hive path escapes in a value are decoded, location keeps them", compactedRoute, []string{"dt"},
			"compacted/dt=a%2Fb%3Dc%25/file",
			want{values: []string{"a/b=c%"}, location: "s3://batch/compacted/dt=a%2Fb%3Dc%25/"}},
		{"a % that starts no escape stays as it is", compactedRoute, []string{"dt"},
			"compacted/dt=100%zz%4/file",
			want{values: []string{"100%zz%4"}, location: "s3://batch/compacted/dt=100%zz%4/"}},
		{"an escape that decodes to invalid UTF-8 keeps the raw value", compactedRoute, []string{"dt"},
			"compacted/dt=%FF/file",
			want{values: []string{"%FF"}, location: "s3://batch/compacted/dt=%FF/"}},
		{"key names compare case-insensitively", compactedRoute, []string{"dt"},
			"compacted/DT=2026-01-02/file",
			want{values: []string{"2026-01-02"}, location: "s3://batch/compacted/DT=2026-01-02/"}},
		{"an empty prefix routes the whole bucket", Route{Bucket: "b", Database: "d", Table: "t"}, []string{"dt"},
			"dt=2026-01-02/file",
			want{values: []string{"2026-01-02"}, location: "s3://b/dt=2026-01-02/"}},

		{"a key under another prefix is outside the route", rawRoute, rawKeys,
			"compacted/dt=2026-01-02/file", want{skip: SkipOutsideRoutes}},
		{"Firehose errors at the bucket root are error output", Route{Bucket: "b", Database: "d", Table: "t"}, []string{"dt"},
			"errors/dt=2026-01-02/file", want{skip: SkipErrorOutput}},
		{"Firehose errors after the prefix are error output", rawRoute, rawKeys,
			"raw/errors/year=2026/month=01/day=02/hour=03/file", want{skip: SkipErrorOutput}},
		{"a folder marker is skipped", rawRoute, rawKeys,
			"raw/year=2026/month=01/day=02/hour=03/", want{skip: SkipFolderMarker}},
		{"a Hadoop $folder$ marker is skipped", rawRoute, rawKeys,
			"raw/year=2026/month=01/day=02/hour=03_$folder$", want{skip: SkipFolderMarker}},
		{"a _temporary folder is skipped", compactedRoute, []string{"dt"},
			"compacted/dt=2026-01-02/_temporary/0/part-0", want{skip: SkipTemporary}},
		{"a .tmp file is skipped", compactedRoute, []string{"dt"},
			"compacted/dt=2026-01-02/part-0.tmp", want{skip: SkipTemporary}},
		{"_SUCCESS is hidden", compactedRoute, []string{"dt"},
			"compacted/dt=2026-01-02/_SUCCESS", want{skip: SkipHidden}},
		{"a dot file is hidden", compactedRoute, []string{"dt"},
			"compacted/dt=2026-01-02/.part-0.crc", want{skip: SkipHidden}},
		{"a file in a hidden folder is hidden", compactedRoute, []string{"dt"},
			"compacted/dt=2026-01-02/.staging/part-0", want{skip: SkipHidden}},
		{"keys in the wrong order have no partition path", rawRoute, rawKeys,
			"raw/month=01/year=2026/day=02/hour=03/file", want{skip: SkipNoPartitionPath}},
		{"a missing key has no partition path", rawRoute, rawKeys,
			"raw/year=2026/month=01/hour=03/file", want{skip: SkipNoPartitionPath}},
		{"a folder without = has no partition path", rawRoute, rawKeys,
			"raw/2026/01/02/03/file", want{skip: SkipNoPartitionPath}},
		{"an empty value has no partition path", rawRoute, rawKeys,
			"raw/year=/month=01/day=02/hour=03/file", want{skip: SkipNoPartitionPath}},
		{"a file directly under the prefix has no partition path", rawRoute, rawKeys,
			"raw/file.gz", want{skip: SkipNoPartitionPath}},
		{"partition folders with no file after them have no partition path", rawRoute, rawKeys,
			"raw/year=2026/month=01/day=02/hour=03", want{skip: SkipNoPartitionPath}},
		{"an empty folder has no partition path", compactedRoute, []string{"dt"},
			"compacted//dt=2026-01-02/file", want{skip: SkipNoPartitionPath}},
		{"a table without partition keys is unpartitioned", compactedRoute, nil,
			"compacted/dt=2026-01-02/file", want{skip: SkipUnpartitionedTable}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, skip, ok := PartitionOf(c.route, c.keys, c.key)
			if c.want.skip != "" {
				if ok || skip != c.want.skip {
					t.Fatalf("PartitionOf(%q) = %+v, %q, %v; want skip %q", c.key, p, skip, ok, c.want.skip)
				}
				return
			}
			want := Partition{Database: c.route.Database, Table: c.route.Table, Values: c.want.values, Location: c.want.location}
			if !ok || skip != "" || !reflect.DeepEqual(p, want) {
				t.Fatalf("PartitionOf(%q) = %+v, %q, %v; want %+v", c.key, p, skip, ok, want)
			}
		})
	}
}

func FuzzPartitionOf(f *testing.F) {
	f.Add("raw/", "year,month,day,hour", "raw/year=2026/month=01/day=02/hour=03/file.gz")
	f.Add("compacted/", "dt", "compacted/dt=2026-01-02/part-00000.parquet")
	f.Add("", "dt", "dt=a%2Fb=c/x/y")
	f.Add("raw/", "year", "raw/year=%FF%zz/_SUCCESS")
	f.Add("raw/", "year,month", "raw/YEAR=2026/Month=1 2/.hidden/file.tmp")
	f.Fuzz(func(t *testing.T, prefix, keyList, key string) {
		route := Route{Bucket: "bucket", Prefix: prefix, Database: "db", Table: "t"}
		var keys []string
		if keyList != "" {
			keys = strings.Split(keyList, ",")
		}
		p, skip, ok := PartitionOf(route, keys, key)
		if !ok {
			if skip == "" {
				t.Fatalf("PartitionOf(%q) rejected the key without a reason", key)
			}
			return
		}
		if skip != "" || len(p.Values) != len(keys) {
			t.Fatalf("PartitionOf(%q) = %+v, skip %q", key, p, skip)
		}
		objectURL := "s3://bucket/" + key
		if !strings.HasPrefix(objectURL, p.Location) || !strings.HasSuffix(p.Location, "/") {
			t.Fatalf("location %q is not a folder prefix of %q", p.Location, objectURL)
		}
		again, skip, ok := PartitionOf(route, keys, strings.TrimPrefix(p.Location, "s3://bucket/")+"file")
		if !ok || !reflect.DeepEqual(again, p) {
			t.Fatalf("re-parsing %q gave %+v, %q, %v; want %+v", p.Location+"file", again, skip, ok, p)
		}
	})
}
