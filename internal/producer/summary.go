package producer

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Summary accounts for a run: Sent = Accepted + Rejected + Failed + Unknown.
type Summary struct {
	Sent     int // distinct events read and posted
	Accepted int // written to the stream
	Rejected int // refused as invalid; resending cannot help
	Failed   int // not accepted after the allowed resends, or unanswerable
	// Unknown events were in flight when a second interrupt abandoned
	// them: the endpoint may have accepted them.
	Unknown int
	// Stop says why sending stopped early ("" when the input or the
	// synthetic run ended), e.g. "the -duration limit was reached".
	Stop string
	// NotSentFrom is the first input line not sent when sending stopped
	// early with input left (-file only), else 0.
	NotSentFrom int
	// Unreachable is the one-line reason a refused connection ended the run.
	Unreachable string
	Retried     int // event resends (one event resent twice counts 2)
	Requests    int // HTTP requests made
	Elapsed     time.Duration
	Latency     Latency
	// Reasons counts the reasons of rejected and failed events.
	Reasons map[string]int
	// Problems lists the first rejected or failed events with their input line
	// (or, for synthetic events, their sequence number).
	Problems []Problem

	latencies []time.Duration
}

// Latency holds request latency percentiles (nearest rank).
type Latency struct {
	P50, P90, P99, Max time.Duration
}

// Problem is one event that was not accepted.
type Problem struct {
	Input   int    `json:"input"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
}

func (s *Summary) finish() {
	s.Latency = latencyOf(s.latencies)
	s.latencies = nil
	sort.SliceStable(s.Problems, func(i, j int) bool { return s.Problems[i].Input < s.Problems[j].Input })
}

func latencyOf(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	rank := func(p float64) time.Duration {
		return sorted[max(int(math.Ceil(p/100*float64(len(sorted))))-1, 0)]
	}
	return Latency{P50: rank(50), P90: rank(90), P99: rank(99), Max: sorted[len(sorted)-1]}
}

// EventsPerSecond is the accepted rate over the run.
func (s Summary) EventsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Accepted) / s.Elapsed.Seconds()
}

// WriteText prints the summary for a person.
func (s Summary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "sent      %d events in %d requests, %s (%.1f accepted events/s)\n", s.Sent, s.Requests, s.Elapsed.Round(time.Millisecond), s.EventsPerSecond())
	fmt.Fprintf(w, "accepted  %d\n", s.Accepted)
	fmt.Fprintf(w, "rejected  %d\n", s.Rejected)
	fmt.Fprintf(w, "retried   %d\n", s.Retried)
	fmt.Fprintf(w, "failed    %d\n", s.Failed)
	if s.Unknown > 0 {
		fmt.Fprintf(w, "unknown   %d (abandoned in flight; the endpoint may have accepted them)\n", s.Unknown)
	}
	if s.NotSentFrom > 0 {
		fmt.Fprintf(w, "not sent  input from line %d on (%s)\n", s.NotSentFrom, s.Stop)
	} else if s.Stop != "" {
		fmt.Fprintf(w, "stopped   %s\n", s.Stop)
	}
	fmt.Fprintf(w, "latency   p50 %s  p90 %s  p99 %s  max %s\n", ms(s.Latency.P50), ms(s.Latency.P90), ms(s.Latency.P99), ms(s.Latency.Max))
	reasons := make([]string, 0, len(s.Reasons))
	for r := range s.Reasons {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if s.Reasons[reasons[i]] != s.Reasons[reasons[j]] {
			return s.Reasons[reasons[i]] > s.Reasons[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	for i, r := range reasons {
		if i == 5 {
			fmt.Fprintf(w, "          ... %d more reasons (see -json)\n", len(reasons)-i)
			break
		}
		fmt.Fprintf(w, "reason    %d × %s\n", s.Reasons[r], r)
	}
	// One line per outcome and reason, with the inputs as ranges, so a
	// dead endpoint reads as one line, not one per event.
	type group struct{ outcome, reason string }
	var order []group
	inputs := map[group][]int{}
	for _, p := range s.Problems {
		g := group{p.Outcome, p.Reason}
		if inputs[g] == nil {
			order = append(order, g)
		}
		inputs[g] = append(inputs[g], p.Input)
	}
	for i, g := range order {
		if i == 5 {
			fmt.Fprintf(w, "          ... more in -json\n")
			break
		}
		fmt.Fprintf(w, "%-9s input %s: %s\n", g.outcome, ranges(inputs[g]), g.reason)
	}
}

// ranges writes sorted numbers as "1-10, 15".
func ranges(numbers []int) string {
	var parts []string
	for i := 0; i < len(numbers); {
		j := i
		for j+1 < len(numbers) && numbers[j+1] == numbers[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(numbers[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", numbers[i], numbers[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// WriteJSON prints the summary for machines.
func (s Summary) WriteJSON(w io.Writer) {
	millis := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	problems := s.Problems
	if problems == nil {
		problems = []Problem{}
	}
	reasons := s.Reasons
	if reasons == nil {
		reasons = map[string]int{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{
		"sent":              s.Sent,
		"accepted":          s.Accepted,
		"rejected":          s.Rejected,
		"retried":           s.Retried,
		"failed":            s.Failed,
		"unknown":           s.Unknown,
		"stop":              s.Stop,
		"not_sent_from":     s.NotSentFrom,
		"requests":          s.Requests,
		"elapsed_seconds":   s.Elapsed.Seconds(),
		"events_per_second": s.EventsPerSecond(),
		"latency_ms":        map[string]float64{"p50": millis(s.Latency.P50), "p90": millis(s.Latency.P90), "p99": millis(s.Latency.P99), "max": millis(s.Latency.Max)},
		"reasons":           reasons,
		"problems":          problems,
	})
}
