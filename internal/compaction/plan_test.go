package compaction

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// now is 2026-11-25 in the morning, UTC.
var now = time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)

func testConfig() Config {
	return Config{
		Database:      "dr_analytics",
		RawTable:      "raw",
		ResultsBucket: "dr-analytics-athena-results-123456789012-us-east-1",
		BatchBucket:   "dr-analytics-batch-123456789012-us-east-1",
		Now:           func() time.Time { return now },
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
}

func newJob(t *testing.T, cfg Config) *Job {
	t.Helper()
	j, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestPlanBuildsTheExactQuery(t *testing.T) {
	j := newJob(t, testConfig())
	got, err := j.Plan(Request{Action: "plan", Date: "2026-11-24", RunID: "nightly-2026-11-25_0130"})
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{
		Date: "2026-11-24", Year: "2026", Month: "11", Day: "24",
		StagingPrefix: "compaction-staging/dt=2026-11-24/nightly-2026-11-25_0130/",
		Query: `UNLOAD (SELECT "id", "type", "source", "value", "event_time", "ingested_at" FROM "dr_analytics"."raw" ` +
			`WHERE "year" = '2026' AND "month" = '11' AND "day" = '24') ` +
			`TO 's3://dr-analytics-athena-results-123456789012-us-east-1/compaction-staging/dt=2026-11-24/nightly-2026-11-25_0130/' ` +
			`WITH (format = 'PARQUET', compression = 'SNAPPY')`,
	}
	if got != want {
		t.Errorf("plan =\n%+v\nwant\n%+v", got, want)
	}
}

func TestPlanOutputJSONShape(t *testing.T) {
	j := newJob(t, testConfig())
	out, err := j.Handle(context.Background(), Request{Action: "plan", Date: "2026-01-05", RunID: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]string
	if err := json.Unmarshal(encoded, &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"date": "2026-01-05", "year": "2026", "month": "01", "day": "05", "stagingPrefix": "compaction-staging/dt=2026-01-05/r1/"}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("%s = %q, want %q", k, fields[k], v)
		}
	}
	if !strings.HasPrefix(fields["query"], "UNLOAD (") || len(fields) != 6 {
		t.Errorf("output fields = %v", fields)
	}
}

func TestPlanDefaultsToThePreviousUTCDay(t *testing.T) {
	cases := []struct {
		name string
		now  time.Time
		want string
	}{
		{"same month", time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC), "2026-11-24"},
		{"just after midnight", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), "2026-11-24"},
		{"just before midnight", time.Date(2026, 11, 25, 23, 59, 59, 999, time.UTC), "2026-11-24"},
		{"across a month", time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC), "2026-11-30"},
		{"across a year", time.Date(2027, 1, 1, 1, 0, 0, 0, time.UTC), "2026-12-31"},
		{"into February", time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC), "2026-02-28"},
		{"into a leap day", time.Date(2028, 3, 1, 1, 0, 0, 0, time.UTC), "2028-02-29"},
		// 20:00 on Nov 30 in New York is already Dec 1 in UTC.
		{"clock in another zone", time.Date(2026, 11, 30, 20, 0, 0, 0, time.FixedZone("EST", -5*3600)), "2026-11-30"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Now = func() time.Time { return c.now }
			p, err := newJob(t, cfg).Plan(Request{RunID: "r"})
			if err != nil {
				t.Fatal(err)
			}
			if p.Date != c.want || p.StagingPrefix != "compaction-staging/dt="+c.want+"/r/" {
				t.Errorf("date = %s, prefix = %s, want %s", p.Date, p.StagingPrefix, c.want)
			}
		})
	}
}

func TestPlanRejectsBadInput(t *testing.T) {
	cases := []struct {
		name    string
		req     Request
		wantErr string
	}{
		{"today", Request{Date: "2026-11-25", RunID: "r"}, "is today"},
		{"future", Request{Date: "2026-11-26", RunID: "r"}, "in the future"},
		{"far future", Request{Date: "2099-01-01", RunID: "r"}, "in the future"},
		{"month 13", Request{Date: "2026-13-01", RunID: "r"}, "YYYY-MM-DD"},
		{"February 30", Request{Date: "2026-02-30", RunID: "r"}, "YYYY-MM-DD"},
		{"single-digit month", Request{Date: "2026-2-01", RunID: "r"}, "YYYY-MM-DD"},
		{"SQL in the date", Request{Date: "2026-11-24' OR '1'='1", RunID: "r"}, "YYYY-MM-DD"},
		{"word", Request{Date: "yesterday", RunID: "r"}, "YYYY-MM-DD"},
		{"missing run id", Request{Date: "2026-11-24"}, "runId"},
		{"quote in run id", Request{Date: "2026-11-24", RunID: "a'b"}, "runId"},
		{"slash in run id", Request{Date: "2026-11-24", RunID: "../x"}, "runId"},
		{"run id too long", Request{Date: "2026-11-24", RunID: strings.Repeat("a", 81)}, "runId"},
	}
	j := newJob(t, testConfig())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.Action = "plan"
			_, err := j.Handle(context.Background(), c.req)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
	t.Run("unknown action", func(t *testing.T) {
		if _, err := j.Handle(context.Background(), Request{Action: "compact"}); err == nil || !strings.Contains(err.Error(), `"plan" or "publish"`) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{
		"DATABASE": "dr_analytics", "RESULTS_BUCKET": "dr-analytics-athena-results-123456789012-us-east-1",
		"BATCH_BUCKET": "dr-analytics-batch-123456789012-us-east-1",
	}
	with := func(k, v string) map[string]string {
		env := map[string]string{}
		for key, value := range base {
			env[key] = value
		}
		env[k] = v
		return env
	}
	t.Run("defaults the raw table", func(t *testing.T) {
		c, err := ConfigFromEnv(func(k string) string { return base[k] })
		if err != nil || c.RawTable != "raw" || c.Database != "dr_analytics" {
			t.Errorf("config = %+v, err = %v", c, err)
		}
	})
	bad := []struct{ key, value string }{
		{"DATABASE", ""},
		{"DATABASE", `x"; DROP TABLE raw; --`},
		{"DATABASE", "dr-analytics"},
		{"RAW_TABLE", "Raw"},
		{"RESULTS_BUCKET", ""},
		{"RESULTS_BUCKET", "bucket' x"},
		{"BATCH_BUCKET", "B"},
	}
	for _, b := range bad {
		t.Run("rejects "+b.key+"="+b.value, func(t *testing.T) {
			env := with(b.key, b.value)
			if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), b.key) {
				t.Errorf("err = %v, want one naming %s", err, b.key)
			}
		})
	}
}
