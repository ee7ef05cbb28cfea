package drmetrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWriteFollowsTheEMFSpecification(t *testing.T) {
	var b bytes.Buffer
	at := time.Date(2026, 11, 29, 6, 0, 0, 123e6, time.UTC)
	err := Write(&b, at,
		Document{Namespace: ReadinessNamespace, Dimensions: map[string]string{DimPrefix: "dr", DimPath: PathS3},
			Values: []Value{{Name: EstimatedRPOMinutes, Unit: UnitNone, Value: 1.5}}, Fields: map[string]any{"note": "x"}},
		Document{Namespace: ReadinessNamespace, Dimensions: map[string]string{DimPrefix: "dr"}}, // no values: no line
	)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line (documents without values are skipped), got %q", b.String())
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &doc); err != nil {
		t.Fatal(err)
	}
	meta := doc["_aws"].(map[string]any)
	directive := meta["CloudWatchMetrics"].([]any)[0].(map[string]any)
	cases := []struct {
		name      string
		got, want any
	}{
		{"timestamp in epoch milliseconds", meta["Timestamp"], float64(at.UnixMilli())},
		{"namespace", directive["Namespace"], ReadinessNamespace},
		{"one dimension set naming root members, sorted", directive["Dimensions"], []any{[]any{DimPath, DimPrefix}}},
		{"metric definition", directive["Metrics"], []any{map[string]any{"Name": EstimatedRPOMinutes, "Unit": UnitNone}}},
		{"value is a root member", doc[EstimatedRPOMinutes], 1.5},
		{"dimension values are root members", doc[DimPath], PathS3},
		{"extra fields are kept for readers", doc["note"], "x"},
	}
	for _, c := range cases {
		if g, w := mustJSON(c.got), mustJSON(c.want); g != w {
			t.Errorf("%s: got %s, want %s", c.name, g, w)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWriteReportsAFailedWrite(t *testing.T) {
	err := Write(failingWriter{}, time.Now(), Document{Namespace: RestoreTestNamespace, Values: []Value{{Name: RestoreMinutes, Unit: UnitNone, Value: 1}}})
	if err == nil || !strings.Contains(err.Error(), RestoreTestNamespace) {
		t.Errorf("error %v, want one naming the namespace", err)
	}
}

func TestDashboardURLOpensTheBackupRegion(t *testing.T) {
	if got, want := DashboardURL("dr", "eu-central-1"), "https://eu-central-1.console.aws.amazon.com/cloudwatch/home?region=eu-central-1#dashboards/dashboard/dr-dr"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestEveryPublishedMetricCarriesThePrefix(t *testing.T) {
	for ns, metrics := range Published {
		if Emitter[ns] == "" {
			t.Errorf("namespace %s has no emitter", ns)
		}
		for name, dims := range metrics {
			if len(dims) == 0 || dims[0] != DimPrefix {
				t.Errorf("%s %s: dimensions %v must start with %s", ns, name, dims, DimPrefix)
			}
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
