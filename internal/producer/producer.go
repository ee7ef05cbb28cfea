// Package producer sends events to the ingest endpoint at a steady rate and
// accounts for every one of them.
//
// Guarantees: each event read (synthetic or from the input) is counted exactly
// once in the summary as accepted, rejected, failed or unknown (abandoned in
// flight by a second interrupt: the endpoint may have taken it). Events the endpoint
// reports failed (503 with a "failed" list) are resent, exactly those, after
// Retry-After, at most MaxRetries times; a 503 or 5xx that lists nothing
// (e.g. the ALB with no healthy target) resends the whole batch. Sending is
// paced so that at any moment at most Rate×elapsed events have left: a batch
// leaves when its last event is due. -duration is a time limit: nothing
// leaves after it, and the summary says from which input line on nothing
// was sent. An endpoint that refuses connections stops the run after
// maxDialFailures batches in a row, with one line.
package producer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dr-analytics/drplan/internal/cli"
	"github.com/dr-analytics/drplan/internal/ingest"
)

// Exit statuses of the command.
const (
	ExitOK          = 0   // every event accepted
	ExitNotAllSent  = 1   // some events rejected, failed or unknown
	ExitUsage       = 2   // bad flags or unreadable input
	ExitInterrupted = 130 // stopped by Ctrl-C (128 + SIGINT), as shells report it
)

const (
	maxRetryAfter   = 5 * time.Minute
	baseRetryDelay  = 500 * time.Millisecond
	maxRetryDelay   = 30 * time.Second
	maxProblems     = 100
	maxResponseBody = 4 << 20
	// maxDialFailures batches in a row that cannot connect end the run:
	// nothing is listening, and resending cannot help.
	maxDialFailures = 3
)

// Clock paces the run. Tests use a fake one that jumps instead of waiting.
type Clock interface {
	Now() time.Time
	SleepUntil(ctx context.Context, t time.Time) error
}

// Env is what a run uses from the outside world; zero fields get real ones.
type Env struct {
	Stdin  io.Reader // input for -file -
	Stderr io.Writer // progress line
	// Terminal says stderr is a terminal, so the progress line is shown.
	Terminal bool
	// HTTPClient sends requests; nil uses one with Config.Timeout.
	HTTPClient *http.Client
	// Clock paces batches; nil is the wall clock.
	Clock Clock
	// Sleep waits before a resend (Retry-After); nil waits on a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand draws synthetic events; nil is randomly seeded.
	Rand *rand.Rand
	// Abort abandons the requests in flight when done (a second Ctrl-C);
	// their events count as unknown. nil never aborts. Cancelling Run's
	// ctx (the first Ctrl-C) only stops sending: answers in flight are
	// still awaited, each bounded by Config.Timeout.
	Abort context.Context
}

// Main runs the command line and returns the exit status. The first value
// on interrupts (Ctrl-C) stops sending and waits for the answers in flight;
// a second abandons them.
func Main(interrupts <-chan os.Signal, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := ParseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if errors.Is(err, errVersion) {
		fmt.Fprintln(stdout, "producer", cli.Version())
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "producer: %v (see producer -h)\n", err)
		return ExitUsage
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	abort, abandon := context.WithCancel(context.Background())
	defer abandon()
	go func() {
		select {
		case <-interrupts:
		case <-ctx.Done():
			return
		}
		stop()
		fmt.Fprintln(stderr, "\nproducer: interrupted: sending stopped, waiting for the answers in flight (Ctrl-C again to abandon them)")
		select {
		case <-interrupts:
			abandon()
		case <-abort.Done():
		}
	}()
	summary, err := Run(ctx, cfg, Env{Stdin: stdin, Stderr: stderr, Terminal: cli.IsTerminal(stderr), Abort: abort})
	interrupted := ctx.Err() != nil
	if summary.Sent > 0 || err == nil {
		if cfg.JSON {
			summary.WriteJSON(stdout)
		} else {
			summary.WriteText(stdout)
		}
	}
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "producer: %v\n", err)
		return ExitUsage
	case summary.Unreachable != "":
		fmt.Fprintf(stderr, "producer: %s\n", summary.Unreachable)
	}
	if interrupted {
		return ExitInterrupted
	}
	if summary.Rejected > 0 || summary.Failed > 0 || summary.Unknown > 0 {
		return ExitNotAllSent
	}
	return ExitOK
}

// item is one event and where it came from (input line or sequence number).
type item struct {
	data  []byte
	input int
}

type run struct {
	cfg Config
	env Env
	url string
	// stopSending ends scheduling (the endpoint is unreachable).
	stopSending context.CancelFunc
	// start is when sending began; deadline is start + Duration (zero
	// without a time limit): nothing is sent or resent after it.
	start, deadline time.Time

	mu           sync.Mutex
	totals       Summary
	dialFailures int // batches in a row that could not connect
	// requestSeq numbers request attempts for their Idempotency-Key.
	requestSeq atomic.Int64
}

// Run sends the events and returns the summary. The error is about the input
// (a file that cannot be opened or read); delivery problems are in the summary.
func Run(ctx context.Context, cfg Config, env Env) (Summary, error) {
	if err := cfg.validate(); err != nil {
		return Summary{}, err
	}
	if env.HTTPClient == nil {
		env.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	if env.Clock == nil {
		env.Clock = wallClock{}
	}
	if env.Sleep == nil {
		env.Sleep = func(ctx context.Context, d time.Duration) error {
			return wallClock{}.SleepUntil(ctx, time.Now().Add(d))
		}
	}
	if env.Rand == nil {
		env.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Abort == nil {
		env.Abort = context.Background()
	}

	var src source
	switch cfg.File {
	case "":
		src = &syntheticSource{rand: env.Rand, now: env.Clock.Now}
	case "-":
		if env.Stdin == nil {
			return Summary{}, errors.New("-file - reads stdin, but there is no stdin")
		}
		src = newLineSource(env.Stdin)
	default:
		f, err := os.Open(cfg.File)
		if err != nil {
			return Summary{}, fmt.Errorf("-file: %w", err)
		}
		defer f.Close()
		src = newLineSource(f)
	}

	sending, stopSending := context.WithCancel(ctx)
	defer stopSending()
	start := env.Clock.Now()
	r := &run{cfg: cfg, env: env, url: cfg.eventsURL(), stopSending: stopSending, start: start, totals: Summary{Reasons: map[string]int{}}}
	if cfg.Duration > 0 {
		r.deadline = start.Add(cfg.Duration)
	}
	stopProgress := r.showProgress(start)

	// A slot is held only while a request is in flight, not while a batch
	// waits to be resent, so Retry-After waits do not slow the pacing.
	slots := make(chan struct{}, cfg.Concurrency)
	var deliveries sync.WaitGroup
	err := r.schedule(sending, src, slots, func(batch []item) {
		deliveries.Go(func() { r.deliver(sending, batch, slots) })
	})
	deliveries.Wait()

	r.mu.Lock()
	r.totals.Elapsed = env.Clock.Now().Sub(start)
	if r.totals.Stop == "" && ctx.Err() != nil {
		r.totals.Stop = stopInterrupted
	}
	summary := r.totals
	r.mu.Unlock()
	stopProgress(summary)
	summary.finish()
	return summary, err
}

// Why a run stopped before its input or time ended.
const (
	stopInterrupted = "interrupted"
	stopUnreachable = "the endpoint is unreachable"
)

// schedule reads events into batches and hands each batch to the workers
// when its last event is due: event k is due at start + k/Rate. A batch
// leaves only while a slot is free and the -duration limit has not passed;
// with a limit, the run lasts until it, so rates are per real second.
func (r *run) schedule(ctx context.Context, src source, slots chan struct{}, send func([]item)) error {
	clock := r.env.Clock
	start, deadline := r.start, r.deadline
	limited := !deadline.IsZero()
	due := func(k int) time.Time { return start.Add(time.Duration(float64(k) * float64(time.Second) / r.cfg.Rate)) }
	inTime := func(t time.Time) bool { return !limited || t.Before(deadline) }

	var carried *item // read but did not fit the previous batch's body
	next := func() (item, bool, error) {
		if carried != nil {
			it := *carried
			carried = nil
			return it, true, nil
		}
		data, input, ok, err := src.next()
		return item{data: data, input: input}, ok, err
	}
	// stopped records why sending stopped with events left: the first
	// input line not sent (-file), or, for synthetic events, how many that
	// were due were not sent. A synthetic run that sent everything due
	// within its time limit ended normally.
	stopped := func(why string, k int) {
		it, ok, err := next()
		left := ok && err == nil
		due := k
		for limited && inTime(start.Add(time.Duration(float64(due)*float64(time.Second)/r.cfg.Rate))) {
			due++
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		switch {
		case r.cfg.File != "" && left:
			r.totals.NotSentFrom = it.input
		case r.cfg.File == "" && due > k:
			why = fmt.Sprintf("%s; %d synthetic events due were not sent", why, due-k)
		case why != stopInterrupted:
			return
		}
		if r.totals.Stop == "" {
			r.totals.Stop = why
		}
	}
	for k := 0; ; {
		n := 0
		for n < r.cfg.Batch && inTime(due(k+n)) {
			n++
		}
		if n == 0 {
			stopped("the -duration limit was reached", k)
			// A time limit is a time: wait it out, so the run (and its
			// rate) spans it even when the rate left nothing to send.
			_ = clock.SleepUntil(ctx, deadline)
			return nil
		}
		if err := clock.SleepUntil(ctx, due(k+n-1)); err != nil {
			stopped(stopInterrupted, k)
			return nil // what was sent is summarised
		}
		select {
		case slots <- struct{}{}: // back-pressure: at most Concurrency requests in flight
		case <-ctx.Done():
			stopped(stopInterrupted, k)
			return nil
		}
		if !inTime(clock.Now()) {
			<-slots
			stopped("the -duration limit passed while waiting for the endpoint", k)
			return nil
		}
		batch := make([]item, 0, n)
		size := 0
		for len(batch) < n {
			it, ok, err := next()
			if err != nil || !ok {
				if len(batch) == 0 {
					<-slots
				}
				r.dispatch(send, batch)
				return err
			}
			// A batch is cut short rather than sent over ingest's limit.
			if len(batch) > 0 && size+len(it.data)+1 > ingest.MaxBodyBytes {
				carried = &it
				break
			}
			size += len(it.data) + 1
			batch = append(batch, it)
		}
		r.dispatch(send, batch)
		k += len(batch)
	}
}

func (r *run) dispatch(send func([]item), batch []item) {
	if len(batch) == 0 {
		return
	}
	r.mu.Lock()
	r.totals.Sent += len(batch)
	r.mu.Unlock()
	send(batch)
}

// deliver posts one batch, resending the events the endpoint reports failed.
// It is called holding a slot, and holds one only while a request is in flight.
func (r *run) deliver(ctx context.Context, pending []item, slots chan struct{}) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			slots <- struct{}{}
		}
		status, header, ans, latency, reason, dialFailed := r.post(r.env.Abort, pending)
		<-slots
		r.mu.Lock()
		r.totals.Requests++
		r.totals.latencies = append(r.totals.latencies, latency)
		unreachable := r.noteConnection(dialFailed, reason)
		r.mu.Unlock()

		var retry []item
		switch {
		case status == 0 && r.env.Abort.Err() != nil:
			// Abandoned by a second interrupt: the endpoint may have
			// taken these; counting them failed would invite duplicates.
			for _, it := range pending {
				r.settle(it, "unknown", "abandoned in flight by the interrupt; the endpoint may have accepted it")
			}
			return
		case status == 0 && unreachable:
			for _, it := range pending {
				r.settle(it, "failed", reason)
			}
			return
		case ans != nil: // the endpoint said what became of each line
			accounted := ans.Accepted
			r.count(func(s *Summary) { s.Accepted += ans.Accepted })
			seen := make(map[int]bool, len(ans.Rejected)+len(ans.Failed))
			for _, l := range ans.Rejected {
				if l.Line >= 1 && l.Line <= len(pending) && !seen[l.Line] {
					seen[l.Line] = true
					accounted++
					r.settle(pending[l.Line-1], "rejected", l.Reason)
				}
			}
			for _, l := range ans.Failed {
				if l.Line >= 1 && l.Line <= len(pending) && !seen[l.Line] {
					seen[l.Line] = true
					accounted++
					retry = append(retry, pending[l.Line-1])
					reason = l.Reason
				}
			}
			if missing := len(pending) - accounted; missing > 0 {
				// Cannot tell which lines; resending could duplicate accepted ones.
				r.count(func(s *Summary) {
					s.Failed += missing
					s.Reasons[fmt.Sprintf("HTTP %d answer did not account for every event", status)] += missing
				})
			}
		case status == http.StatusRequestEntityTooLarge:
			for _, it := range pending {
				r.settle(it, "rejected", reason)
			}
		case status == 0 || (status >= 500 && status != http.StatusNotImplemented && status != http.StatusHTTPVersionNotSupported) ||
			status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
			retry = pending // no per-line answer: nothing known accepted
		case status >= 200 && status < 300:
			// Something answered, but not ingest: a wrong -endpoint.
			reason = fmt.Sprintf("unexpected answer from the endpoint (HTTP %d without ingest's JSON result); is -endpoint the ingest address?", status)
			for _, it := range pending {
				r.settle(it, "failed", reason)
			}
		default: // 404, 405, 403, ...: resending cannot help
			for _, it := range pending {
				r.settle(it, "failed", reason)
			}
		}

		if len(retry) == 0 {
			return
		}
		if attempt >= r.cfg.MaxRetries {
			for _, it := range retry {
				r.settle(it, "failed", reason)
			}
			return
		}
		delay := r.retryDelay(header, attempt)
		if !r.deadline.IsZero() && !r.env.Clock.Now().Add(delay).Before(r.deadline) {
			for _, it := range retry {
				r.settle(it, "failed", "not resent before the -duration limit: "+reason)
			}
			return
		}
		r.count(func(s *Summary) { s.Retried += len(retry) })
		if err := r.env.Sleep(ctx, delay); err != nil {
			r.mu.Lock()
			unreachable := r.totals.Unreachable != ""
			r.mu.Unlock()
			if !unreachable {
				reason = "not resent, sending stopped: " + reason
			}
			for _, it := range retry {
				r.settle(it, "failed", reason)
			}
			return
		}
		pending = retry
	}
}

// nextRequestKey names one request attempt, for the Idempotency-Key header.
func (r *run) nextRequestKey() string {
	return fmt.Sprintf("drplan-producer-%d-%d", r.start.UnixNano(), r.requestSeq.Add(1))
}

// noteConnection counts batches in a row that could not connect and
// reports whether the endpoint counts as unreachable; it then stops
// sending. The caller holds mu.
func (r *run) noteConnection(dialFailed bool, reason string) bool {
	if !dialFailed {
		r.dialFailures = 0
		return r.totals.Unreachable != ""
	}
	r.dialFailures++
	if r.dialFailures >= maxDialFailures && r.totals.Unreachable == "" {
		r.totals.Unreachable = fmt.Sprintf("cannot connect to %s (%d requests in a row): %s; check -endpoint and that ingest is deployed", r.cfg.Endpoint, r.dialFailures, reason)
		r.totals.Stop = stopUnreachable
		r.stopSending()
	}
	return r.totals.Unreachable != ""
}

// post sends one request. ans is nil when the body does not list lines;
// reason describes the failure for the summary; dialFailed says the
// request never reached a server.
func (r *run) post(ctx context.Context, batch []item) (status int, header http.Header, ans *ingest.Response, latency time.Duration, reason string, dialFailed bool) {
	var body bytes.Buffer
	for i, it := range batch {
		if i > 0 {
			body.WriteByte('\n')
		}
		body.Write(it.data)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, &body)
	if err != nil {
		return 0, nil, nil, 0, "build request: " + err.Error(), false
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("User-Agent", "drplan-producer")
	// The load balancer ends every client connection after its keep-alive
	// (60 s here, so dial changes reach busy producers). When it closes a
	// kept-alive connection just as a request goes out on it, Go's client
	// resends the request on a new connection only if it is replayable,
	// which for a POST takes an Idempotency-Key header (net/http,
	// Transport: "...or the request has an Idempotency-Key or
	// X-Idempotency-Key header"). Ingest is at-least-once anyway.
	req.Header.Set("Idempotency-Key", r.nextRequestKey())
	start := time.Now()
	resp, err := r.env.HTTPClient.Do(req)
	latency = time.Since(start)
	if err != nil {
		var op *net.OpError
		dial := errors.As(err, &op) && op.Op == "dial"
		return 0, nil, nil, latency, "request failed: " + err.Error(), dial
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	latency = time.Since(start)
	reason = "HTTP " + resp.Status
	if err != nil {
		return resp.StatusCode, resp.Header, nil, latency, reason + ": reading answer: " + err.Error(), false
	}
	var a ingest.Response
	if json.Unmarshal(raw, &a) != nil {
		return resp.StatusCode, resp.Header, nil, latency, reason, false
	}
	if a.Error != "" {
		reason += ": " + a.Error
	}
	if a.Rejected == nil && a.Failed == nil {
		return resp.StatusCode, resp.Header, nil, latency, reason, false
	}
	return resp.StatusCode, resp.Header, &a, latency, reason, false
}

// retryDelay honours Retry-After (seconds or an HTTP date), else backs off
// exponentially with jitter.
func (r *run) retryDelay(header http.Header, attempt int) time.Duration {
	if v := header.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
			return min(time.Duration(secs)*time.Second, maxRetryAfter)
		}
		if at, err := http.ParseTime(v); err == nil {
			return min(max(at.Sub(r.env.Clock.Now()), 0), maxRetryAfter)
		}
	}
	ceiling := min(maxRetryDelay, baseRetryDelay<<min(attempt, 10))
	return ceiling/2 + rand.N(ceiling/2+1)
}

// settle records an event's final outcome.
func (r *run) settle(it item, outcome, reason string) {
	r.count(func(s *Summary) {
		switch outcome {
		case "rejected":
			s.Rejected++
		case "unknown":
			s.Unknown++
		default:
			s.Failed++
		}
		s.Reasons[reason]++
		if len(s.Problems) < maxProblems {
			s.Problems = append(s.Problems, Problem{Input: it.input, Outcome: outcome, Reason: reason})
		}
	})
}

func (r *run) count(update func(*Summary)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	update(&r.totals)
}

// showProgress redraws one stderr line in place until the returned function
// is called with the final totals.
func (r *run) showProgress(start time.Time) func(Summary) {
	if !r.cfg.Progress && !r.env.Terminal {
		return func(Summary) {}
	}
	draw := func(s Summary) {
		elapsed := r.env.Clock.Now().Sub(start)
		fmt.Fprintf(r.env.Stderr, "\r\x1b[Ksent %d  accepted %d  rejected %d  failed %d  retried %d  %.1f events/s  %s",
			s.Sent, s.Accepted, s.Rejected, s.Failed, s.Retried, float64(s.Accepted)/max(elapsed.Seconds(), 1e-9), elapsed.Truncate(time.Second))
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				r.mu.Lock()
				s := r.totals
				r.mu.Unlock()
				draw(s)
			}
		}
	}()
	return func(final Summary) {
		close(done)
		<-stopped
		draw(final)
		fmt.Fprintln(r.env.Stderr)
	}
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
