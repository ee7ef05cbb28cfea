package drdashboard

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/naming"
)

func input() Input {
	return Input{
		Names: naming.Names{Prefix: "dr-analytics", Account: "123456789012"}, PrimaryRegion: "eu-west-1", BackupRegion: "eu-central-1",
		RPOTargetMinutes: 30, RTOTargetMinutes: 45, RestoreTestMaxAgeHours: 174.25,
		AcceleratorID: "1234abcd-abcd-1234-abcd-1234abcdefgh", AggregatorFailuresQueue: "BackupStack-Failures-X", AlarmArns: []string{"arn:aws:cloudwatch:eu-central-1:123456789012:alarm:a"},
	}
}

func TestEveryMetricNamesItsRegion(t *testing.T) {
	in := input()
	for _, w := range Widgets(in) {
		if w.Kind == "metric" && w.Region == "" {
			t.Errorf("widget %q has no region", w.Title)
		}
		for _, m := range w.Metrics {
			switch {
			case m.Region == "":
				t.Errorf("widget %q: %s %s has no region", w.Title, m.Name, m.Expression)
			case strings.Contains(m.Expression, "AWS/GlobalAccelerator") && m.Region != GlobalAcceleratorMetricsRegion:
				t.Errorf("Global Accelerator metrics read in %s, want %s", m.Region, GlobalAcceleratorMetricsRegion)
			case m.Namespace == drmetrics.ReadinessNamespace || m.Namespace == drmetrics.RestoreTestNamespace:
				if m.Region != in.BackupRegion {
					t.Errorf("%s read in %s, but the watchers publish in the backup region %s", m.Name, m.Region, in.BackupRegion)
				}
				if _, ok := drmetrics.Published[m.Namespace][m.Name]; !ok {
					t.Errorf("%s is not published", m.Name)
				}
			case m.Namespace == "AWS/S3" && m.Region != in.PrimaryRegion:
				t.Errorf("S3 replication metrics are in the source bucket's region, not %s", m.Region)
			}
		}
	}
}

func TestBodyIsADashboardBody(t *testing.T) {
	body, err := Body(input())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Widgets []struct {
			Type                string
			X, Y, Width, Height int
			Properties          map[string]any
		}
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	occupied := map[[2]int]bool{}
	for _, w := range doc.Widgets {
		if w.X+w.Width > 24 || w.Width <= 0 || w.Height <= 0 {
			t.Errorf("widget %v at x %d width %d does not fit the 24-column grid", w.Properties["title"], w.X, w.Width)
		}
		for x := w.X; x < w.X+w.Width; x++ {
			for y := w.Y; y < w.Y+w.Height; y++ {
				if occupied[[2]int{x, y}] {
					t.Errorf("widget %v overlaps another at %d,%d", w.Properties["title"], x, y)
				}
				occupied[[2]int{x, y}] = true
			}
		}
	}
	for _, want := range []string{`"value":30`, `"value":45`, `"value":174.25`, "BackupStack-Failures-X", "1234abcd-abcd-1234-abcd-1234abcdefgh"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s", want)
		}
	}
}

func TestNoRestoreTestThresholdWhenTestsAreOff(t *testing.T) {
	in := input()
	in.RestoreTestMaxAgeHours = 0
	body, err := Body(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "restore test overdue") {
		t.Error("overdue threshold drawn although restore tests are off")
	}
}

func TestTheLastFailoverAndFailbackAreDrawnAgainstTheirTargets(t *testing.T) {
	in := input()
	want := map[string]Threshold{
		drmetrics.LastFailoverRTOMinutes:      {Value: 45, Label: "rtoTargetMinutes"},
		drmetrics.LastFailoverTableRTOMinutes: {Value: 45, Label: "rtoTargetMinutes"},
		drmetrics.LastFailoverRPOMinutes:      {Value: 30, Label: "rpoTargetMinutes"},
		drmetrics.LastFailbackMinutes:         {Value: 45, Label: "rtoTargetMinutes"},
	}
	found := map[string]bool{}
	for _, w := range Widgets(in) {
		for _, m := range w.Metrics {
			threshold, ok := want[m.Name]
			if !ok || m.Namespace != drmetrics.ReadinessNamespace {
				continue
			}
			found[m.Name] = true
			if len(w.Thresholds) != 1 || w.Thresholds[0] != threshold {
				t.Errorf("widget %q draws %s against %v, want only %v", w.Title, m.Name, w.Thresholds, threshold)
			}
		}
	}
	for name := range want {
		if !found[name] {
			t.Errorf("no widget shows %s", name)
		}
	}
}
