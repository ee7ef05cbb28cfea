package producer

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/dr-analytics/drplan/internal/ingest"
)

// MaxBatch is the most events ingest takes in one request.
const MaxBatch = ingest.MaxBatchEvents

// defaultSyntheticDuration applies when synthetic events run without -duration.
const defaultSyntheticDuration = 10 * time.Second

// Config is one run of the producer.
type Config struct {
	// Endpoint is the ingest base URL, e.g. "http://ingest.example.com:8080";
	// events go to Endpoint + "/events".
	Endpoint string
	// Rate is events per second, e.g. 100.
	Rate float64
	// Duration bounds the run; 0 with File means until the input ends.
	Duration time.Duration
	// Batch is events per request, e.g. 10.
	Batch int
	// File is the input, one JSON event per line; "-" is stdin, "" synthetic events.
	File string
	// MaxRetries bounds resends of a batch's failed events, e.g. 5.
	MaxRetries int
	// Concurrency is how many requests may be in flight, e.g. 4.
	Concurrency int
	// Timeout bounds one HTTP request, e.g. 30s.
	Timeout time.Duration
	// Progress forces the progress line even when stderr is not a terminal.
	Progress bool
	// JSON prints the summary as JSON.
	JSON bool
}

// errVersion is ParseFlags' answer to -version.
var errVersion = errors.New("version requested")

// ParseFlags reads the command line. Errors name the flag and what is
// allowed, and print nothing (the caller prints them once); -h returns
// flag.ErrHelp after printing usage to help.
func ParseFlags(args []string, help io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("producer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	version := fs.Bool("version", false, "print the version and exit")
	fs.StringVar(&c.Endpoint, "endpoint", "", "ingest endpoint `URL`, http://host[:port] or https://host[:port]; events are posted to /events (required)")
	fs.Float64Var(&c.Rate, "rate", 100, "events per second")
	fs.DurationVar(&c.Duration, "duration", 0, "time limit: nothing is sent after it (default 10s for synthetic events; with -file, until the input ends)")
	fs.IntVar(&c.Batch, "batch", 10, fmt.Sprintf("events per request, 1 to %d", MaxBatch))
	fs.StringVar(&c.File, "file", "", "send the lines of this `path` (- for stdin) instead of synthetic events, one JSON event per line")
	fs.IntVar(&c.MaxRetries, "max-retries", 5, "resends of events the endpoint reports failed (503), per batch")
	fs.IntVar(&c.Concurrency, "concurrency", 4, "requests in flight at once")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "timeout of one request")
	fs.BoolVar(&c.Progress, "progress", false, "show the progress line on stderr even when it is not a terminal")
	fs.BoolVar(&c.JSON, "json", false, "print the summary as JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: producer -endpoint http://host[:port] [flags]\n\nSends events to the ingest endpoint at a steady rate and prints a summary.\nCtrl-C stops sending and waits for the answers in flight; a second Ctrl-C abandons them\n(their events are reported unknown).\nExit status: 0 all accepted, 1 some events rejected, failed or unknown, 2 bad usage or\ninput, 130 interrupted.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(help)
			fs.Usage()
		}
		return Config{}, err
	}
	if *version {
		return Config{}, errVersion
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: every option is a flag, e.g. -file %s", fs.Arg(0), fs.Arg(0))
	}
	durationSet := false
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	if !durationSet && c.File == "" {
		c.Duration = defaultSyntheticDuration
	}
	return c, c.validate()
}

func (c Config) validate() error {
	u, err := url.Parse(c.Endpoint)
	switch {
	case c.Endpoint == "":
		return errors.New("-endpoint is required: the ingest URL, e.g. -endpoint http://localhost:8080")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		return fmt.Errorf("-endpoint must be http://host[:port] or https://host[:port] with no path, got %q", c.Endpoint)
	case !(c.Rate > 0) || c.Rate > 1e6:
		return fmt.Errorf("-rate must be > 0 and at most 1000000 events per second, got %v", c.Rate)
	case c.Duration < 0:
		return fmt.Errorf("-duration must be >= 0, got %v", c.Duration)
	case c.Duration == 0 && c.File == "":
		return errors.New("-duration must be > 0 for synthetic events (or give -file to send until the input ends)")
	case c.Batch < 1 || c.Batch > MaxBatch:
		return fmt.Errorf("-batch must be from 1 to %d events per request, got %d", MaxBatch, c.Batch)
	case c.MaxRetries < 0 || c.MaxRetries > 100:
		return fmt.Errorf("-max-retries must be from 0 to 100, got %d", c.MaxRetries)
	case c.Concurrency < 1 || c.Concurrency > 256:
		return fmt.Errorf("-concurrency must be from 1 to 256, got %d", c.Concurrency)
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout must be > 0, got %v", c.Timeout)
	}
	return nil
}

// eventsURL is where batches are posted.
func (c Config) eventsURL() string {
	u, _ := url.Parse(c.Endpoint)
	u.Path = "/events"
	return u.String()
}
