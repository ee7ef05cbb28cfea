// Command archdiagram draws the architecture as a Mermaid diagram from the
// synthesized app and keeps the README's copy current:
//
//	npx aws-cdk@2 synth --quiet                            # writes cdk.out/
//	go run ./cmd/archdiagram                               # prints the diagram
//	go run ./cmd/archdiagram -write README.md              # replaces the README's diagram
//
// The template tests fail when the README's diagram differs from the one
// drawn from the app they synthesize.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dr-analytics/drplan/internal/archdiagram"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("archdiagram", flag.ContinueOnError)
	fs.SetOutput(stderr)
	assembly := fs.String("assembly", "cdk.out", "cloud assembly directory written by `cdk synth`")
	prefix := fs.String("prefix", "dr-analytics", "deployment prefix, stripped from labels")
	write := fs.String("write", "", "Markdown file whose diagram block to replace, e.g. README.md")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "archdiagram: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	stacks, err := archdiagram.ReadAssembly(*assembly)
	if err != nil {
		fmt.Fprintln(stderr, "archdiagram:", err)
		return 1
	}
	diagram := archdiagram.Mermaid(stacks, *prefix)
	if *write == "" {
		fmt.Fprint(stdout, archdiagram.Block(diagram)+"\n")
		return 0
	}
	doc, err := os.ReadFile(*write)
	if err != nil {
		fmt.Fprintln(stderr, "archdiagram:", err)
		return 1
	}
	updated, err := archdiagram.Replace(string(doc), diagram)
	if err != nil {
		fmt.Fprintf(stderr, "archdiagram: %s: %v\n", *write, err)
		return 1
	}
	if err := os.WriteFile(*write, []byte(updated), 0o644); err != nil {
		fmt.Fprintln(stderr, "archdiagram:", err)
		return 1
	}
	return 0
}
