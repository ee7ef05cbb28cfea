package aggregate

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/dr-analytics/drplan/internal/jsonscan"
)

// Buckets for events that have no usable key value. They are ordinary key
// values in the table, so a dashboard shows bad data next to good data; an
// event whose key value is literally one of these names counts with them.
const (
	// InvalidJSONKey counts records (or lines) that are not a JSON object.
	InvalidJSONKey = "_invalid_json"
	// MissingKey counts events whose key field is missing, null, an empty
	// string (DynamoDB rejects empty key attributes), an object or an array.
	MissingKey = "_missing_key"
	// OverflowKey counts events whose key value arrived after the window
	// already held MaxKeys distinct values (or its state byte budget).
	OverflowKey = "_overflow"
)

// Limits that keep the tumbling-window state well under Lambda's 1 MB cap;
// above it Lambda ends the window early and a continuation would overwrite
// the items written for the first part.
const (
	// MaxKeyBytes truncates longer key values to their longest valid UTF-8
	// prefix of at most this many bytes; values sharing that prefix count
	// together.
	MaxKeyBytes = 128
	// MaxKeys is the number of distinct key values per window and shard,
	// not counting the three reserved buckets.
	MaxKeys = 5000
	// maxStateBytes bounds the JSON size of the state. 5,000 plain keys of
	// 128 bytes need about 770 kB; the byte budget only bites for keys that
	// JSON-escape to several times their length.
	maxStateBytes = 800_000
)

func reserved(key string) bool {
	return key == InvalidJSONKey || key == MissingKey || key == OverflowKey
}

// windowCounts is one shard's counts for one window, as carried in the
// tumbling-window state between invocations.
type windowCounts struct {
	counts     map[string]int64
	distinct   int // keys other than the reserved buckets
	stateBytes int // upper bound of the state's JSON size
}

// tally says what one invocation added, for the log line.
type tally struct {
	events, invalidJSON, missingKey, overflow int
}

// countsFromState restores the counts Lambda passes back. An entry that is
// not a count can only come from a bug or an incompatible older version; it
// is logged and dropped, because failing would stall the shard for good.
func countsFromState(state map[string]string, logger *slog.Logger) windowCounts {
	w := windowCounts{counts: make(map[string]int64, len(state)+3)}
	for key, value := range state {
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			logger.Error("dropping unreadable window state entry", "key", key, "value", value)
			continue
		}
		w.counts[key] = n
		w.stateBytes += entryBytes(key)
		if !reserved(key) {
			w.distinct++
		}
	}
	return w
}

// state renders the counts for Lambda to carry to the next invocation.
func (w *windowCounts) state() map[string]string {
	state := make(map[string]string, len(w.counts))
	for key, n := range w.counts {
		state[key] = strconv.FormatInt(n, 10)
	}
	return state
}

// keys returns the key values in sorted order, so writes are deterministic.
func (w *windowCounts) keys() []string {
	keys := make([]string, 0, len(w.counts))
	for key := range w.counts {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

// add counts one event under key, diverting new keys to OverflowKey once the
// window is full.
func (w *windowCounts) add(key string, t *tally) {
	t.events++
	switch key {
	case InvalidJSONKey:
		t.invalidJSON++
	case MissingKey:
		t.missingKey++
	}
	if _, ok := w.counts[key]; ok {
		w.counts[key]++
		return
	}
	size := entryBytes(key)
	if !reserved(key) {
		if w.distinct >= MaxKeys || w.stateBytes+size > maxStateBytes {
			t.overflow++
			key, size = OverflowKey, entryBytes(OverflowKey)
			if _, ok := w.counts[key]; ok {
				w.counts[key]++
				return
			}
		} else {
			w.distinct++
		}
	}
	w.counts[key] = 1
	w.stateBytes += size
}

// addRecord counts every event in one Kinesis record's data: JSON Lines,
// normally exactly one newline-terminated object. Data with no non-blank line
// counts once as invalid, so every record is accounted for.
func (w *windowCounts) addRecord(data []byte, field string, t *tally) {
	seen := false
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		seen = true
		w.add(keyValue(line, field), t)
	}
	if !seen {
		w.add(InvalidJSONKey, t)
	}
}

// keyValue extracts the aggregation key value from one JSON event. It
// checks the line with json.Valid and then walks only the top level, which
// is several times cheaper than decoding every field; a duplicated field
// counts by its last value, as encoding/json would decode it.
func keyValue(line []byte, field string) string {
	if !json.Valid(line) {
		return InvalidJSONKey
	}
	raw, isObject := jsonscan.Field(line, field)
	if !isObject {
		return InvalidJSONKey
	}
	if len(raw) == 0 {
		return MissingKey
	}
	switch raw[0] {
	case '"':
		s := jsonscan.Unquote(raw)
		if s == "" {
			return MissingKey
		}
		return truncate(s)
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n', '{', '[':
		return MissingKey
	default:
		return truncate(numberKey(raw))
	}
}

// numberKey spells a JSON number canonically, so 7, 7.0 and 7e0 count
// together: integer literals stay as written (no float rounding of large
// ids), other numbers take encoding/json's float64 form.
func numberKey(raw []byte) string {
	literal := string(raw)
	if isIntegerLiteral(literal) {
		return literal
	}
	f, err := strconv.ParseFloat(literal, 64)
	if err != nil {
		return literal
	}
	canonical, err := json.Marshal(f)
	if err != nil {
		return literal
	}
	return string(canonical)
}

func isIntegerLiteral(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// truncate cuts s to at most MaxKeyBytes without splitting a UTF-8 sequence.
func truncate(s string) string {
	if len(s) <= MaxKeyBytes {
		return s
	}
	cut := MaxKeyBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// entryBytes bounds one state entry's JSON size: the escaped key, a colon,
// the largest quoted int64 and a comma.
func entryBytes(key string) int {
	return jsonStringBytes(key) + 1 + 22 + 1
}

// jsonStringBytes is an upper bound of the encoded size of s as the Lambda
// runtime sends the state: aws-lambda-go encodes the response with
// SetEscapeHTML(false) unless told otherwise (lambda/handler.go,
// jsonResponseEscapeHTML: false), so <, > and & travel as one byte.
// encoding/json still escapes quotes and backslashes to two bytes, and
// control characters, U+2028, U+2029 and invalid bytes to at most six.
func jsonStringBytes(s string) int {
	n := 2
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			n += 2
		case r < 0x20 || r == '\u2028' || r == '\u2029':
			n += 6
		case r == utf8.RuneError && size == 1:
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}
