package writerhour_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
)

func TestEveryValueIsAmongTheHoursValues(t *testing.T) {
	at := time.Date(2026, 11, 25, 13, 59, 59, 0, time.FixedZone("CET", 3600))
	values := writerhour.Values("us-west-2", at)
	seen := map[string]bool{}
	for i := range 1000 {
		v := writerhour.Value("us-west-2", at, fmt.Sprintf("type-%d", i))
		if !slices.Contains(values, v) {
			t.Fatalf("Value %q is not among Values %q", v, values)
		}
		seen[v] = true
	}
	if len(seen) != writerhour.Spread {
		t.Errorf("1,000 keys used %d of %d partitions; the spread must use them all", len(seen), writerhour.Spread)
	}
	if want := "us-west-2#2026-11-25T12#"; values[0][:len(want)] != want {
		t.Errorf("values %q must name the UTC hour", values)
	}
}
