package ingest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestSplitBody(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		numbers []int
		raws    []string
	}{
		{"one compact object", `{"a":1}`, []int{1}, []string{`{"a":1}`}},
		{"one object after blank lines keeps its line", "\n\n  {\"a\":\n1}\n", []int{3}, []string{"{\"a\":\n1}"}},
		{"NDJSON with blank lines and CRLF", "{\"a\":1}\r\n\r\n{\"b\":2}\n \t\n{\"c\":3}", []int{1, 3, 5}, []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}},
		{"invalid lines are kept for rejection", "x\n{}", []int{1, 2}, []string{"x", "{}"}},
		{"whitespace only", " \r\n\t", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var numbers []int
			var raws []string
			for _, l := range splitBody([]byte(tc.body)) {
				numbers = append(numbers, l.number)
				raws = append(raws, string(l.raw))
			}
			if !reflect.DeepEqual(numbers, tc.numbers) || !reflect.DeepEqual(raws, tc.raws) {
				t.Fatalf("lines %v %q, want %v %q", numbers, raws, tc.numbers, tc.raws)
			}
		})
	}
}

// FuzzStampEvent checks the splice against encoding/json: every object
// encoding/json reads without a top-level ingested_at is accepted, and its
// record is one line of JSON holding exactly the producer's fields plus
// ingested_at.
func FuzzStampEvent(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{ }`, `{"a":1}`, `{"a": [1, {"b": "}"}], "c": "\"}"}`, `{"ingested_at":1}`,
		`{"x":{"ingested_at":1}}`, `{"ingested\u005fat":1}`, "{\n\"a\":\r\n1\n}", `[]`, `"s"`, `{"a":1`,
		`{"n":1e400,"m":-0.0000000000000000000001}`, `{"a":"ingested_at","ingested_at":2}`, `{"a":true,"b":null}`,
	} {
		f.Add([]byte(seed))
	}
	const at = "2026-11-25T10:00:00.123Z"
	f.Fuzz(func(t *testing.T, raw []byte) {
		raw = bytes.Trim(raw, jsonSpace)
		record, err := stampEvent(raw, 1<<20, at)

		var fields map[string]json.RawMessage
		isObject := utf8.Valid(raw) && len(raw) > 0 && raw[0] == '{' && json.Unmarshal(raw, &fields) == nil
		_, reserved := fields[IngestedAtField]
		if isObject && !reserved && err != nil {
			t.Fatalf("valid object %q rejected: %v", raw, err)
		}
		if (!isObject || reserved) && err == nil {
			t.Fatalf("%q accepted; it is not an object without ingested_at", raw)
		}
		if err != nil {
			return
		}
		if !bytes.HasSuffix(record, []byte("}\n")) || bytes.ContainsAny(record[:len(record)-1], "\r\n") {
			t.Fatalf("record %q is not one line", record)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(record, &got); err != nil {
			t.Fatalf("record %q is not JSON: %v", record, err)
		}
		if string(got[IngestedAtField]) != `"`+at+`"` {
			t.Fatalf("record %q has ingested_at %s", record, got[IngestedAtField])
		}
		delete(got, IngestedAtField)
		if len(got) != len(fields) {
			t.Fatalf("record %q has fields %v, want %v", record, got, fields)
		}
		for k, v := range fields {
			if !bytes.Equal(compact(v), compact(got[k])) {
				t.Fatalf("field %q changed from %s to %s", k, v, got[k])
			}
		}
	})
}

func compact(b []byte) []byte {
	var out bytes.Buffer
	_ = json.Compact(&out, b)
	return out.Bytes()
}
