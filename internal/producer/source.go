package producer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// eventTypes are the synthetic event types, so aggregates have a few keys.
var eventTypes = []string{"click", "view", "purchase", "signup", "scroll"}

// source yields events one at a time; ok is false when it has no more.
type source interface {
	next() (event []byte, inputLine int, ok bool, err error)
}

// syntheticSource makes events of the product's schema:
// {"id":"<uuid>","type":"click","source":"sensor-7","value":3.5,"event_time":"<RFC 3339>"}.
type syntheticSource struct {
	rand  *rand.Rand
	now   func() time.Time
	count int
}

func (s *syntheticSource) next() ([]byte, int, bool, error) {
	s.count++
	var id [16]byte
	for i := range id {
		id[i] = byte(s.rand.UintN(256))
	}
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	event := fmt.Sprintf(`{"id":"%x-%x-%x-%x-%x","type":"%s","source":"sensor-%d","value":%.2f,"event_time":"%s"}`,
		id[0:4], id[4:6], id[6:8], id[8:10], id[10:16],
		eventTypes[s.rand.IntN(len(eventTypes))],
		1+s.rand.IntN(20),
		s.rand.Float64()*100,
		s.now().UTC().Format("2006-01-02T15:04:05.000Z"))
	return []byte(event), s.count, true, nil
}

// lineSource reads one event per line, skipping blank lines and dropping
// line endings (\n or \r\n); lines may be of any length.
type lineSource struct {
	r    *bufio.Reader
	line int
	done bool
}

func newLineSource(r io.Reader) *lineSource { return &lineSource{r: bufio.NewReaderSize(r, 64<<10)} }

func (s *lineSource) next() ([]byte, int, bool, error) {
	for !s.done {
		text, err := s.r.ReadBytes('\n')
		if err != nil {
			s.done = true
			if !errors.Is(err, io.EOF) {
				return nil, 0, false, fmt.Errorf("read input after line %d: %w", s.line, err)
			}
		}
		if len(text) == 0 {
			continue
		}
		s.line++
		if text = bytes.TrimRight(text, "\r\n"); len(bytes.TrimSpace(text)) > 0 {
			return text, s.line, true, nil
		}
	}
	return nil, 0, false, nil
}
