// Command drctl is the operator's disaster-recovery command line: a
// readiness checklist for both regions (status), the ordered, resumable
// failback after a disaster (failback), and Glue partition repair
// (repair-partitions). It reads the CDK app's cdk.json, with the same -c
// overrides as the CDK app, so it derives the same resource names.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first Ctrl-C cancels the work in progress (every step is
		// resumable); restoring the default makes a second one end drctl
		// at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], productionEnvironment())
	stop()
	os.Exit(code)
}
