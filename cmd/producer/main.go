// Command producer sends synthetic events, or the lines of a file, to the
// ingest endpoint at a given rate and prints what became of them. Run it
// with -h for the flags.
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/dr-analytics/drplan/internal/producer"
)

func main() {
	// Two interrupts matter: the first stops sending, the second abandons
	// the requests in flight.
	interrupts := make(chan os.Signal, 2)
	signal.Notify(interrupts, os.Interrupt, syscall.SIGTERM)
	os.Exit(producer.Main(interrupts, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
