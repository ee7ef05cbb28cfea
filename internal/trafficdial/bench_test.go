package trafficdial_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
)

// BenchmarkCreateDial is one onEvent that lists two pages of endpoint groups
// and sets the primary group's dial (alternating 0 and 100 so each
// iteration really updates).
func BenchmarkCreateDial(b *testing.B) {
	f := newFixture(b, nil)
	f.h.Log = slog.New(slog.DiscardHandler)
	events := []cfn.Event{
		event(cfn.RequestCreate, props(map[string]any{"DialPercentage": "0"})),
		event(cfn.RequestCreate, props(map[string]any{"DialPercentage": "100"})),
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := f.h.OnEvent(ctx, events[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
