package trafficdial_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
)

// BenchmarkCreateDial is one Create as the framework runs it: onEvent, then
// one isComplete that lists two pages of endpoint groups, describes the
// HEALTHY backup group and sets the primary group's dial (alternating 0 and
// 100 so each iteration really updates).
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
		if _, done, err := f.run(ctx, events[i%2]); err != nil || !done.IsComplete {
			b.Fatal(done, err)
		}
		i++
	}
}
