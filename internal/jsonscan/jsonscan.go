// Package jsonscan reads one top-level field of a JSON object without
// decoding the rest. The ingest path and the aggregator look at one field of
// every event; walking the top level of already-validated JSON is several
// times cheaper than encoding/json decoding every field.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Field returns the raw value of the top-level member name of doc, which
// must be valid JSON (check with json.Valid first). isObject is false when
// doc is not an object; raw is nil when the member is absent. Names compare
// after unescaping ("\u005f" is "_"), and a repeated member yields its last
// value, as encoding/json would decode it.
func Field(doc []byte, name string) (raw []byte, isObject bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, false
	}
	i = skipSpace(doc, i+1)
	for i < len(doc) && doc[i] == '"' {
		keyEnd := skipString(doc, i)
		key := doc[i:keyEnd]
		valueStart := skipSpace(doc, skipSpace(doc, keyEnd)+1) // past the colon
		valueEnd := skipValue(doc, valueStart)
		if keyEquals(key, name) {
			raw = doc[valueStart:valueEnd]
		}
		i = skipSpace(doc, valueEnd)
		if i < len(doc) && doc[i] == ',' {
			i = skipSpace(doc, i+1)
		}
	}
	return raw, true
}

// Unquote decodes a raw JSON string as encoding/json would, without
// allocating a decoder when it has no escapes. Invalid input yields "".
func Unquote(raw []byte) string {
	if len(raw) < 2 {
		return ""
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return ""
	}
	return s
}

func keyEquals(quoted []byte, name string) bool {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return len(quoted) == len(name)+2 && string(quoted[1:len(quoted)-1]) == name
	}
	return Unquote(quoted) == name
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i
			}
		}
		return i
	}
}
