// Package gobuild builds the product's Lambda binaries for synth: Go on
// Lambda's arm64 Amazon Linux 2023 runtime, static, reproducible (the same
// source and Go toolchain give the same bytes, so asset hashes change only
// when code does). Every function's package is built in one `go build`,
// which compiles and links them in parallel; the binaries are read into
// memory and the build folder is removed at once, so synth leaves nothing
// behind in the temporary folder. Because the bytes are a function of the
// compiled packages, a Set may keep the last binaries in a cache folder
// keyed by them and skip linking when nothing changed.
package gobuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

// Flags are the reproducible build settings of every function.
var Flags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid="}

// Env targets Lambda's arm64 Amazon Linux 2023 runtime with a static binary.
var Env = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

// Toolchain is the Go release the Lambdas are built with: go.mod's toolchain
// line, else its go line (a full release such as 1.26.8 since Go 1.21),
// e.g. "go1.26.8". Build and its cache key run with GOTOOLCHAIN set to it,
// so the go command uses exactly that release, fetching it when the machine
// has another (https://go.dev/doc/toolchain): the bytes, and BackupStack's
// template, do not change with the operator's Go.
func Toolchain(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("read the pinned Go toolchain: %w", err)
	}
	var goLine string
	for _, line := range strings.Split(string(data), "\n") {
		switch fields := strings.Fields(line); {
		case len(fields) == 2 && fields[0] == "toolchain":
			return fields[1], nil
		case len(fields) == 2 && fields[0] == "go":
			goLine = "go" + fields[1]
		}
	}
	if strings.Count(goLine, ".") < 2 {
		return "", fmt.Errorf("go.mod in %s pins no full Go release (go 1.26.8 or toolchain go1.26.8): add one so Lambda builds are reproducible", root)
	}
	return goLine, nil
}

// environment is the build's environment: Env plus the pinned toolchain.
func environment(root string) ([]string, error) {
	toolchain, err := Toolchain(root)
	if err != nil {
		return nil, err
	}
	return append(append(os.Environ(), Env...), "GOTOOLCHAIN="+toolchain), nil
}

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
	if cmd.Env, err = environment(root); err != nil {
		return nil, err
	}
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

// inputsKey names what the binaries of packages are made of: the build
// settings and every compiled package they link. `go list -export` gives
// each package's compiled archive in Go's build cache, whose name changes
// with anything that goes into compiling it (source, dependencies,
// toolchain, flags), so equal keys mean equal binaries.
func inputsKey(root string, packages ...string) (string, error) {
	args := []string{"list", "-export", "-deps", "-f", "{{.ImportPath}} {{.Export}}"}
	for i := 0; i+1 < len(Flags); i++ {
		if Flags[i] == "-tags" {
			args = append(args, "-tags", Flags[i+1])
		}
	}
	args = append(args, "-trimpath")
	cmd := exec.Command("go", append(args, packages...)...)
	cmd.Dir = root
	env, err := environment(root)
	if err != nil {
		return "", err
	}
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list %v: %w", packages, err)
	}
	h := sha256.New()
	fmt.Fprintln(h, strings.Join(Flags, " "), strings.Join(Env, " "), strings.Join(packages, " "))
	h.Write(out)
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// cached returns Build's result for packages from cacheDir when the inputs
// are unchanged, else builds and keeps the result there (only the latest,
// so the folder holds one set of binaries).
func cached(cacheDir, root string, packages ...string) (map[string][]byte, error) {
	key, err := inputsKey(root, packages...)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cacheDir, key)
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		binaries := make(map[string][]byte, len(entries))
		for _, e := range entries {
			if binaries[e.Name()], err = os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
				break
			}
		}
		if err == nil {
			return binaries, nil
		}
	}
	binaries, err := Build(root, packages...)
	if err != nil {
		return nil, err
	}
	// A cache that cannot be written only costs the next build's time.
	_ = store(cacheDir, key, binaries)
	return binaries, nil
}

// store writes the binaries under cacheDir/key, atomically, and removes
// older keys.
func store(cacheDir, key string, binaries map[string][]byte) error {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	staging, err := os.MkdirTemp(cacheDir, ".staging-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	for name, bin := range binaries {
		if err := os.WriteFile(filepath.Join(staging, name), bin, 0o755); err != nil {
			return err
		}
	}
	if err := os.Rename(staging, filepath.Join(cacheDir, key)); err != nil {
		return err
	}
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != key && !strings.HasPrefix(e.Name(), ".staging-") {
			_ = os.RemoveAll(filepath.Join(cacheDir, e.Name()))
		}
	}
	return nil
}

// Set builds every function once per process, all at the first request,
// and hands out each binary as often as it is asked for (the same Lambda
// runs in both regions).
type Set struct {
	// Root is the module root; Pattern the packages built together,
	// e.g. LambdasPattern.
	Root, Pattern string
	// CacheDir keeps the last binaries between processes (e.g. under
	// os.UserCacheDir); "" builds every time.
	CacheDir string

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
	s.once.Do(func() {
		if s.CacheDir == "" {
			s.binaries, s.err = Build(s.Root, s.Pattern)
			return
		}
		s.binaries, s.err = cached(s.CacheDir, s.Root, s.Pattern)
	})
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
