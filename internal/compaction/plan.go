// Package compaction plans and publishes the nightly compaction of one UTC
// day of the raw table into Parquet under compacted/dt=YYYY-MM-DD/ in the
// batch bucket. A Step Functions state machine runs Plan, then Athena UNLOAD
// with the planned query, then Publish.
//
// Guarantee: a day's published files always have the same names
// (part-00000.snappy.parquet, part-00001…), so rerunning a day overwrites
// its files instead of adding to them, and overwrites replicate to the
// backup region. Deletes do not replicate (S3 replication does not copy
// delete markers): a rerun that yields fewer files than before removes the
// extra parts here but not in the replica, and Publish logs a warning when
// that happens.
//
// Nothing user-supplied reaches the SQL unvalidated: the date is parsed and
// re-formatted, the run id, database, table and bucket are checked against
// strict patterns, and identifiers and literals are quoted.
package compaction

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/schema"
)

var (
	runIDPattern      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)
	glueNamePattern   = regexp.MustCompile(`^[a-z0-9_]{1,255}$`)
	bucketNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// Request is the Lambda input from the state machine.
type Request struct {
	// Action is "plan" or "publish".
	Action string `json:"action"`
	// Date is the UTC day to compact, e.g. "2026-11-24"; plan defaults it to
	// yesterday, publish requires it.
	Date string `json:"date,omitempty"`
	// RunID names the run's staging prefix (plan), e.g. the execution name.
	RunID string `json:"runId,omitempty"`
	// StagingPrefix is plan's output (publish).
	StagingPrefix string `json:"stagingPrefix,omitempty"`
}

// Plan is the plan action's output; the state machine passes Query to
// Athena and Date and StagingPrefix to publish.
type Plan struct {
	Date          string `json:"date"`
	Year          string `json:"year"`
	Month         string `json:"month"`
	Day           string `json:"day"`
	StagingPrefix string `json:"stagingPrefix"`
	Query         string `json:"query"`
}

// Config names the catalog and buckets; ConfigFromEnv fills all but S3.
type Config struct {
	// Database is the Glue database, e.g. "dr_analytics".
	Database string
	// RawTable is the raw events table, e.g. "raw".
	RawTable string
	// ResultsBucket holds Athena results and the staging prefixes, e.g.
	// "dr-analytics-athena-results-123456789012-us-east-1".
	ResultsBucket string
	// BatchBucket receives compacted/dt=…/, e.g.
	// "dr-analytics-batch-123456789012-us-east-1".
	BatchBucket string
	// S3 copies, lists and deletes objects (publish only).
	S3 ObjectStore
	// Now is the clock that decides "yesterday"; nil means time.Now.
	Now func() time.Time
	// Logger receives one JSON line per notable event; nil means slog.Default().
	Logger *slog.Logger
	// CopyConcurrency bounds parallel CopyObject calls; 0 means 8.
	CopyConcurrency int
}

// ConfigFromEnv reads DATABASE, RAW_TABLE (default "raw"), RESULTS_BUCKET and
// BATCH_BUCKET.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Database:      strings.TrimSpace(getenv("DATABASE")),
		RawTable:      strings.TrimSpace(getenv("RAW_TABLE")),
		ResultsBucket: strings.TrimSpace(getenv("RESULTS_BUCKET")),
		BatchBucket:   strings.TrimSpace(getenv("BATCH_BUCKET")),
	}
	if c.RawTable == "" {
		c.RawTable = naming.RawTable
	}
	return c, c.validate()
}

func (c Config) validate() error {
	switch {
	case !glueNamePattern.MatchString(c.Database):
		return fmt.Errorf("compaction config: DATABASE=%q: want a Glue database name (lowercase letters, digits, _), e.g. dr_analytics", c.Database)
	case !glueNamePattern.MatchString(c.RawTable):
		return fmt.Errorf("compaction config: RAW_TABLE=%q: want a Glue table name (lowercase letters, digits, _), e.g. raw", c.RawTable)
	case !bucketNamePattern.MatchString(c.ResultsBucket):
		return fmt.Errorf("compaction config: RESULTS_BUCKET=%q: want an S3 bucket name, e.g. dr-analytics-athena-results-123456789012-us-east-1", c.ResultsBucket)
	case !bucketNamePattern.MatchString(c.BatchBucket):
		return fmt.Errorf("compaction config: BATCH_BUCKET=%q: want an S3 bucket name, e.g. dr-analytics-batch-123456789012-us-east-1", c.BatchBucket)
	}
	return nil
}

// Job runs the plan and publish actions.
type Job struct {
	cfg    Config
	now    func() time.Time
	logger *slog.Logger
}

// New checks cfg and returns a job. S3 may be nil when only Plan is called.
func New(cfg Config) (*Job, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.CopyConcurrency <= 0 {
		cfg.CopyConcurrency = 8
	}
	j := &Job{cfg: cfg, now: cfg.Now, logger: cfg.Logger}
	if j.now == nil {
		j.now = time.Now
	}
	if j.logger == nil {
		j.logger = slog.Default()
	}
	return j, nil
}

// Handle dispatches on req.Action and returns a Plan or a Published.
func (j *Job) Handle(ctx context.Context, req Request) (any, error) {
	switch req.Action {
	case "plan":
		return j.Plan(req)
	case "publish":
		return j.Publish(ctx, req)
	default:
		return nil, fmt.Errorf("compaction: action %q is unknown: want \"plan\" or \"publish\"", req.Action)
	}
}

// Plan validates the day and run id and returns the UNLOAD query that writes
// the day's rows as Snappy Parquet into a staging prefix of its own.
func (j *Job) Plan(req Request) (Plan, error) {
	dateText := req.Date
	if dateText == "" {
		dateText = j.now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	}
	day, err := j.pastDay(dateText)
	if err != nil {
		return Plan{}, err
	}
	if !runIDPattern.MatchString(req.RunID) {
		return Plan{}, fmt.Errorf("compaction plan: runId %q is invalid: want 1-80 of A-Z a-z 0-9 _ -, e.g. the Step Functions execution name", req.RunID)
	}
	p := Plan{
		Date:          day.Format(time.DateOnly),
		Year:          day.Format("2006"),
		Month:         day.Format("01"),
		Day:           day.Format("02"),
		StagingPrefix: stagingPrefix(day.Format(time.DateOnly), req.RunID),
	}
	selected := make([]string, len(schema.EventColumns))
	for i, c := range schema.EventColumns {
		selected[i] = quoteIdentifier(c.Name)
	}
	p.Query = fmt.Sprintf("UNLOAD (SELECT %s FROM %s.%s WHERE %s = %s AND %s = %s AND %s = %s) TO %s WITH (format = 'PARQUET', compression = 'SNAPPY')",
		strings.Join(selected, ", "),
		quoteIdentifier(j.cfg.Database), quoteIdentifier(j.cfg.RawTable),
		quoteIdentifier("year"), quoteLiteral(p.Year),
		quoteIdentifier("month"), quoteLiteral(p.Month),
		quoteIdentifier("day"), quoteLiteral(p.Day),
		quoteLiteral("s3://"+j.cfg.ResultsBucket+"/"+p.StagingPrefix))
	j.logger.Info("compaction planned", "date", p.Date, "staging_prefix", p.StagingPrefix, "defaulted_date", req.Date == "")
	return p, nil
}

// pastDay parses a YYYY-MM-DD day and accepts it only when it is over:
// today's partitions are still being written.
func (j *Job) pastDay(text string) (time.Time, error) {
	day, err := time.Parse(time.DateOnly, text)
	if err != nil || day.Format(time.DateOnly) != text {
		return time.Time{}, fmt.Errorf("compaction: date %q is not a calendar day in YYYY-MM-DD form, e.g. 2026-11-24", text)
	}
	now := j.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch {
	case day.After(today):
		return time.Time{}, fmt.Errorf("compaction: date %s is in the future (today is %s UTC): pass a day that has ended", text, today.Format(time.DateOnly))
	case day.Equal(today):
		return time.Time{}, fmt.Errorf("compaction: date %s is today (UTC) and still receiving data: compact it after midnight UTC, or pass an earlier day", text)
	}
	return day, nil
}

// stagingPrefix is where one run's UNLOAD writes in the results bucket:
// each run gets its own empty prefix, because UNLOAD refuses a non-empty one.
func stagingPrefix(date, runID string) string {
	return naming.CompactionStagingPrefix + "dt=" + date + "/" + runID + "/"
}

// quoteIdentifier double-quotes a SQL identifier, doubling embedded quotes.
func quoteIdentifier(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// quoteLiteral single-quotes a SQL string literal, doubling embedded quotes.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
