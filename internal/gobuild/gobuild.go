// Package gobuild builds the product's Lambda binaries for synth: Go on
// Lambda's arm64 Amazon Linux 2023 runtime, static, reproducible (the same
// source and Go toolchain give the same bytes, so asset hashes change only
// when code does). Every function's package is built in one `go build`,
// which compiles and links them in parallel; the binaries are read into
// memory and the build folder is removed at once, so synth leaves nothing
// behind in the temporary folder.
package gobuild

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
)

// Flags are the reproducible build settings of every function.
var Flags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid="}

// Env targets Lambda's arm64 Amazon Linux 2023 runtime with a static binary.
var Env = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

// LambdasPattern names every function's main package (lambdas/<name>).
const LambdasPattern = "./lambdas/..."

// Build builds the main packages (e.g. "./lambdas/ingest", or a pattern
// such as LambdasPattern) of the module at root in one `go build` and
// returns each binary by its package's folder name ("ingest").
func Build(root string, packages ...string) (map[string][]byte, error) {
	dir, err := os.MkdirTemp("", "gobuild-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, Flags...)
	cmd := exec.Command("go", append(args, packages...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), Env...)
	if output, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %v: %w\n%s", packages, err, output)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	binaries := make(map[string][]byte, len(entries))
	for _, e := range entries {
		if binaries[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
			return nil, err
		}
	}
	return binaries, nil
}

// Set builds every function once per process, all at the first request,
// and hands out each binary as often as it is asked for (the same Lambda
// runs in both regions).
type Set struct {
	// Root is the module root; Pattern the packages built together,
	// e.g. LambdasPattern.
	Root, Pattern string

	once     sync.Once
	mu       sync.Mutex
	binaries map[string][]byte
	err      error
}

// Start begins the build in the background, so it runs while the caller
// does other work (the CDK app starts its jsii runtime); Binary waits for it.
func (s *Set) Start() {
	go s.build()
}

func (s *Set) build() {
	s.once.Do(func() { s.binaries, s.err = Build(s.Root, s.Pattern) })
}

// Binary returns the binary of the main package pkg ("./lambdas/ingest").
// A package outside Pattern is built on its own.
func (s *Set) Binary(pkg string) ([]byte, error) {
	s.build()
	if s.err != nil {
		return nil, s.err
	}
	name := path.Base(filepath.ToSlash(pkg))
	s.mu.Lock()
	defer s.mu.Unlock()
	if bin, ok := s.binaries[name]; ok {
		return bin, nil
	}
	alone, err := Build(s.Root, pkg)
	if err != nil {
		return nil, err
	}
	bin, ok := alone[name]
	if !ok {
		return nil, fmt.Errorf("go build %s wrote no binary %s", pkg, name)
	}
	s.binaries[name] = bin
	return bin, nil
}
