package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/dr-analytics/drplan/internal/jsonscan"
)

// IngestedAtField is the field ingest adds to every event; producers may not send it.
const IngestedAtField = "ingested_at"

// ingestedAtLayout is RFC 3339 with milliseconds, always UTC.
const ingestedAtLayout = "2006-01-02T15:04:05.000Z"

const jsonSpace = " \t\r\n"

// line is one event of a request body as the producer sent it.
type line struct {
	number int    // 1-based line number in the body, blank lines counted
	raw    []byte // the event without surrounding whitespace or line ending
}

// splitBody turns a request body into events. A body that is one JSON value
// (possibly pretty-printed over several lines) is one event; anything else is
// newline-delimited JSON, one event per non-blank line (\n or \r\n endings).
func splitBody(body []byte) []line {
	trimmed := bytes.Trim(body, jsonSpace)
	if len(trimmed) == 0 {
		return nil
	}
	if json.Valid(trimmed) {
		start := len(body) - len(bytes.TrimLeft(body, jsonSpace))
		return []line{{number: 1 + bytes.Count(body[:start], []byte{'\n'}), raw: trimmed}}
	}
	var lines []line
	number := 0
	for rest := body; len(rest) > 0; {
		number++
		var text []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			text, rest = rest[:i], rest[i+1:]
		} else {
			text, rest = rest, nil
		}
		if text = bytes.Trim(text, jsonSpace); len(text) > 0 {
			lines = append(lines, line{number: number, raw: text})
		}
	}
	return lines
}

// stampEvent validates one event and returns the Kinesis record for it: the
// producer's object with `"ingested_at":"<receivedAt>"` spliced in before its
// closing brace, followed by a newline. The producer's bytes are kept as they
// are; only an event that spans several lines (a pretty-printed single event)
// is compacted first, because each record must be one line for JSON Lines.
// The error is the reason to give the producer.
func stampEvent(raw []byte, maxBytes int, receivedAt string) ([]byte, error) {
	if len(raw) > maxBytes {
		return nil, fmt.Errorf("event is %d bytes; the limit is %d bytes (MAX_EVENT_BYTES)", len(raw), maxBytes)
	}
	if !utf8.Valid(raw) {
		return nil, errors.New("event is not valid UTF-8")
	}
	if !json.Valid(raw) {
		return nil, syntaxReason(raw)
	}
	if raw[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	if hasTopLevelKey(raw, IngestedAtField) {
		return nil, errors.New("field " + IngestedAtField + " is reserved")
	}
	if bytes.IndexByte(raw, '\n') >= 0 || bytes.IndexByte(raw, '\r') >= 0 {
		// Only insignificant whitespace can hold raw line breaks in valid JSON,
		// so compacting changes no value; Athena would split the record otherwise.
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return nil, syntaxReason(raw)
		}
		raw = compact.Bytes()
	}

	body := raw[:len(raw)-1] // without the closing brace
	record := make([]byte, 0, len(raw)+len(IngestedAtField)+len(ingestedAtLayout)+8)
	record = append(record, body...)
	if trimmed := bytes.TrimRight(body, jsonSpace); trimmed[len(trimmed)-1] != '{' {
		record = append(record, ',')
	}
	record = append(record, `"`+IngestedAtField+`":"`...)
	record = append(record, receivedAt...)
	record = append(record, "\"}\n"...)
	return record, nil
}

// syntaxReason explains why raw is not JSON, with the byte offset, without
// echoing more than one character of the producer's data.
func syntaxReason(raw []byte) error {
	var v json.RawMessage
	err := json.Unmarshal(raw, &v)
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("invalid JSON at byte %d: %s", syntax.Offset, syntax.Error())
	}
	if err != nil {
		return fmt.Errorf("invalid JSON: %s", err.Error())
	}
	return errors.New("invalid JSON")
}

// hasTopLevelKey reports whether the valid JSON object obj has a member named
// key at its top level. Keys are compared after unescaping, so "ingested\u005fat"
// counts as ingested_at.
func hasTopLevelKey(obj []byte, key string) bool {
	raw, _ := jsonscan.Field(obj, key)
	return raw != nil
}
