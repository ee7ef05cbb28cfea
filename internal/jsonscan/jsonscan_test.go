package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestField(t *testing.T) {
	cases := []struct {
		name, doc, field string
		want             string // "" with found=false means absent
		found, isObject  bool
	}{
		{"string member", `{"type":"click","id":"1"}`, "type", `"click"`, true, true},
		{"number member", `{"a":1, "type": 7.5 }`, "type", `7.5`, true, true},
		{"nested values are skipped whole", `{"x":{"type":"no"},"y":["type"],"type":"yes"}`, "type", `"yes"`, true, true},
		{"object value", `{"type":{"k":[1,{"z":"}"}]}}`, "type", `{"k":[1,{"z":"}"}]}`, true, true},
		{"escaped name", `{"ty\u0070e":"click"}`, "type", `"click"`, true, true},
		{"escaped quote in a string", `{"a":"x\"type\":1","type":true}`, "type", `true`, true, true},
		{"last duplicate wins", `{"type":"a","type":"b"}`, "type", `"b"`, true, true},
		{"absent", `{"kind":"click"}`, "type", "", false, true},
		{"empty object", ` { } `, "type", "", false, true},
		{"array is not an object", `["type"]`, "type", "", false, false},
		{"string is not an object", `"type"`, "type", "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, isObject := Field([]byte(c.doc), c.field)
			if isObject != c.isObject || (raw != nil) != c.found || string(raw) != c.want {
				t.Errorf("Field(%s, %q) = %q, %v; want %q, %v", c.doc, c.field, raw, isObject, c.want, c.isObject)
			}
		})
	}
}

func TestUnquote(t *testing.T) {
	for raw, want := range map[string]string{`"plain"`: "plain", `"a\nb"`: "a\nb", `"\u00e9"`: "é", `"bad\x"`: "", `"`: ""} {
		if got := Unquote([]byte(raw)); got != want {
			t.Errorf("Unquote(%s) = %q, want %q", raw, got, want)
		}
	}
}

// FuzzFieldMatchesDecoding: for any valid JSON object, Field finds exactly
// the value encoding/json decodes for that member.
func FuzzFieldMatchesDecoding(f *testing.F) {
	for _, seed := range []string{`{"type":"click"}`, `{"a":[1,{"type":2}],"type":null}`, `{"t\u0079pe":"x","type":"y"}`, `{}`} {
		f.Add([]byte(seed), "type")
	}
	f.Fuzz(func(t *testing.T, doc []byte, name string) {
		if !json.Valid(doc) {
			return
		}
		var decoded map[string]json.RawMessage
		isObject := json.Unmarshal(doc, &decoded) == nil && decoded != nil // null decodes into a nil map
		raw, gotObject := Field(doc, name)
		if gotObject != isObject {
			t.Fatalf("isObject %v, decoding says %v for %s", gotObject, isObject, doc)
		}
		want, ok := decoded[name]
		if (raw != nil) != ok {
			t.Fatalf("found %v, decoding says %v for %q in %s", raw != nil, ok, name, doc)
		}
		if ok {
			var a, b any
			if json.Unmarshal(raw, &a) != nil || json.Unmarshal(want, &b) != nil || show(a) != show(b) {
				t.Fatalf("value %s, decoding gives %s", raw, want)
			}
		}
	})
}

func show(v any) string { b, _ := json.Marshal(v); return string(b) }
