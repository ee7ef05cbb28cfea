package readiness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/readiness"
)

// series is one published metric value by name and dimensions.
type series map[string]float64

func key(name string, dims map[string]string) string {
	var b strings.Builder
	b.WriteString(name)
	for _, d := range []string{drmetrics.DimPath, drmetrics.DimBucket} {
		if v, ok := dims[d]; ok {
			b.WriteString(" " + d + "=" + v)
		}
	}
	return b.String()
}

// parseEMF reads EMF lines the way CloudWatch Logs extracts them: every
// metric named in a directive, its value from the root member of that
// name, its dimensions from the root members the directive lists.
func parseEMF(t *testing.T, out string) series {
	t.Helper()
	got := series{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		meta := doc["_aws"].(map[string]any)
		if _, ok := meta["Timestamp"].(float64); !ok {
			t.Fatalf("no Timestamp: %q", line)
		}
		for _, d := range meta["CloudWatchMetrics"].([]any) {
			directive := d.(map[string]any)
			if directive["Namespace"] != drmetrics.ReadinessNamespace {
				t.Errorf("namespace %v", directive["Namespace"])
			}
			dims := map[string]string{}
			for _, set := range directive["Dimensions"].([]any) {
				for _, name := range set.([]any) {
					v, ok := doc[name.(string)].(string)
					if !ok {
						t.Fatalf("dimension %v has no string value in %q", name, line)
					}
					dims[name.(string)] = v
				}
			}
			if dims[drmetrics.DimPrefix] != "dr-analytics" {
				t.Errorf("metrics without the deployment prefix: %q", line)
			}
			for _, m := range directive["Metrics"].([]any) {
				name := m.(map[string]any)["Name"].(string)
				wantDims, listed := drmetrics.Published[drmetrics.ReadinessNamespace][name]
				if !listed || !sameSet(wantDims, keys(dims)) {
					t.Errorf("%s with dimensions %v is not in drmetrics.Published (%v)", name, keys(dims), wantDims)
				}
				v, ok := doc[name].(float64)
				if !ok {
					t.Fatalf("metric %s has no numeric value in %q", name, line)
				}
				got[key(name, dims)] = v
			}
		}
	}
	return got
}

func watch(t *testing.T, in readiness.Input) (series, readiness.Summary) {
	t.Helper()
	var metrics, logs bytes.Buffer
	w := &readiness.Watcher{Input: in, Metrics: &metrics, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	summary, err := w.Run(context.Background())
	if err != nil {
		t.Fatalf("the watcher must not fail: %v", err)
	}
	return parseEMF(t, metrics.String()), summary
}

func TestPublisherAllOK(t *testing.T) {
	cfg := testConfig(t)
	w := healthyWorld(t, cfg)
	got, summary := watch(t, input(cfg, w.Endpoint, seeded))
	want := series{
		drmetrics.ChecksFailing: 0, drmetrics.ChecksWarning: 0, drmetrics.PrimaryReachable: 1,
		drmetrics.RecoveryPointAgeMinutes: 37, drmetrics.HoursSinceRestoreTest: 50,
		drmetrics.EstimatedRPOMinutes + " Path=s3":                  71.0 / 60,
		drmetrics.EstimatedRPOMinutes + " Path=table-pitr":          252.0 / 60,
		drmetrics.EstimatedRPOMinutes + " Path=table-vault":         37,
		drmetrics.EstimatedRPOMinutes + " Path=worst":               252.0 / 60,
		drmetrics.ReplicationLatencySeconds + " Bucket=streaming":   11,
		drmetrics.ReplicationOperationsFailed + " Bucket=streaming": 0,
		drmetrics.ReplicationLatencySeconds + " Bucket=batch":       11,
		drmetrics.ReplicationOperationsFailed + " Bucket=batch":     0,
	}
	if summary.Fail != 0 || summary.Warn != 0 {
		t.Errorf("summary %+v", summary)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (published %v), want %v", k, g, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("published %d series, want %d: %v", len(got), len(want), got)
	}
}

func TestPublisherPrimaryDown(t *testing.T) {
	cfg := testConfig(t)
	w := healthyWorld(t, cfg)
	got, summary := watch(t, input(cfg, primaryDown(t, cfg, w), seeded))
	if got[drmetrics.PrimaryReachable] != 0 || summary.Fail == 0 || got[drmetrics.ChecksFailing] != float64(summary.Fail) {
		t.Errorf("primary down: reachable %v, failing %v, summary %+v", got[drmetrics.PrimaryReachable], got[drmetrics.ChecksFailing], summary)
	}
	// The backup region still answers: the vault path and the restore test are measured.
	if got[drmetrics.EstimatedRPOMinutes+" Path=table-vault"] != 37 || got[drmetrics.HoursSinceRestoreTest] != 50 {
		t.Errorf("backup-region figures missing with the primary down: %v", got)
	}
	// Nothing measured in the primary is published as if it were.
	for _, k := range []string{drmetrics.EstimatedRPOMinutes + " Path=table-pitr", drmetrics.ReplicationLatencySeconds + " Bucket=streaming"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s published although the primary did not answer", k)
		}
	}
	// The S3 path falls back to the RTC bound: 60 s buffer + 900 s.
	if got[drmetrics.EstimatedRPOMinutes+" Path=s3"] != 16 {
		t.Errorf("S3 RPO with the primary down = %v min, want 16 (buffer plus the RTC bound)", got[drmetrics.EstimatedRPOMinutes+" Path=s3"])
	}
}

func TestPublisherPrimarySlow(t *testing.T) {
	cfg := testConfig(t)
	w := healthyWorld(t, cfg)
	w.Primary.DynamoDB.Hang()
	in := input(cfg, w.Endpoint, seeded)
	in.CallTimeout = 300 * time.Millisecond
	got, summary := watch(t, in)
	if summary.Fail == 0 || got[drmetrics.ChecksFailing] == 0 {
		t.Errorf("a hanging primary DynamoDB must fail a check: %+v", summary)
	}
	// S3 in the primary still answered: the region is reachable, just slow in one service.
	if got[drmetrics.PrimaryReachable] != 1 {
		t.Errorf("PrimaryReachable = %v, want 1 (S3 answered)", got[drmetrics.PrimaryReachable])
	}
	if _, ok := got[drmetrics.EstimatedRPOMinutes+" Path=table-pitr"]; ok {
		t.Errorf("PITR RPO published although DescribeContinuousBackups timed out")
	}
}

func TestWatcherReadsTheDeployedConfiguration(t *testing.T) {
	ctx := map[string]any{"prefix": "ops-dr", "primaryRegion": "eu-west-1", "backupRegion": "eu-central-1", "account": "210987654321",
		"rpoTargetMinutes": "20", "rtoTargetMinutes": "45", "restoreTestSchedule": "off", "firehoseBufferSeconds": "300", "backupFrequencyHours": "4"}
	cfg, _, err := config.Load(func(k string) any { return ctx[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := readiness.NewWatcher(aws.Config{}, readiness.ContextJSON(cfg), &bytes.Buffer{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	got := w.Input.Config
	if got.Prefix != "ops-dr" || got.PrimaryRegion != "eu-west-1" || got.BackupRegion != "eu-central-1" || got.Account != "210987654321" ||
		got.RPOTargetMinutes != 20 || got.RTOTargetMinutes != 45 || got.RestoreTestEnabled() || got.FirehoseBufferSeconds != 300 ||
		got.BackupFrequencyHours != 4 || w.Input.Primary.Name != "eu-west-1" || w.Input.Backup.Name != "eu-central-1" ||
		w.Input.CallTimeout != readiness.WatchCallTimeout {
		t.Errorf("watcher config %+v", got)
	}
	for _, bad := range []string{"", "[]", `{"backupRegion":"eu-west-1","primaryRegion":"eu-west-1"}`} {
		if _, err := readiness.NewWatcher(aws.Config{}, bad, &bytes.Buffer{}, slog.Default()); err == nil || !strings.Contains(err.Error(), readiness.ContextVariable) {
			t.Errorf("context %q: error %v, want one naming %s", bad, err, readiness.ContextVariable)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// BenchmarkWatchRun is one scheduled run (every check, both regions, the
// metrics written) against the protocol fakes on loopback.
func BenchmarkWatchRun(b *testing.B) {
	ctx := map[string]any{"prefix": "dr-analytics", "primaryRegion": "us-east-1", "backupRegion": "us-west-2", "producerCidrs": "203.0.113.0/24"}
	cfg, _, err := config.Load(func(k string) any { return ctx[k] }, nil)
	if err != nil {
		b.Fatal(err)
	}
	w := drfake.NewWorld(b, cfg.Names(account), cfg.PrimaryRegion, cfg.BackupRegion, seeded)
	w.Healthy(b)
	watcher := &readiness.Watcher{Input: input(cfg, w.Endpoint, seeded), Metrics: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for b.Loop() {
		if _, err := watcher.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
