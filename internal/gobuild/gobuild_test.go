package gobuild

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/internal/moduleroot"
)

// Building functions together must give the bytes of building each alone,
// or asset hashes would depend on how synth happened to build them; and
// the build leaves nothing in the temporary folder.
func TestBuildTogetherIsReproducibleAndLeavesNothing(t *testing.T) {
	root, err := moduleroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	together, err := Build(root, "./lambdas/trafficdial", "./lambdas/ingest")
	if err != nil {
		t.Fatal(err)
	}
	alone, err := Build(root, "./lambdas/trafficdial")
	if err != nil {
		t.Fatal(err)
	}
	if len(together) != 2 || len(together["trafficdial"]) == 0 || len(together["ingest"]) == 0 {
		t.Fatalf("built %d binaries", len(together))
	}
	if !bytes.Equal(together["trafficdial"], alone["trafficdial"]) {
		t.Error("trafficdial built with ingest differs from trafficdial built alone")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("the build left %d entries in TMPDIR, e.g. %s", len(entries), entries[0].Name())
	}
}

// The cache hands back exactly what a build makes, rebuilds when a
// package's source changes, and keeps only the latest binaries.
func TestCacheReturnsTheBuildUntilTheSourceChanges(t *testing.T) {
	// A module of its own, so the test may edit its source.
	mod := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(mod, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := moduleroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := Toolchain(root)
	if err != nil {
		t.Fatal(err)
	}
	write("go.mod", "module example.com/fn\n\ngo "+strings.TrimPrefix(pinned, "go")+"\n")
	write("lambdas/hello/main.go", "package main\n\nfunc main() { println(\"hello\") }\n")
	cache := t.TempDir()

	first, err := cached(cache, mod, LambdasPattern)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Build(mod, LambdasPattern)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cached(cache, mod, LambdasPattern)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first["hello"], fresh["hello"]) || !bytes.Equal(again["hello"], fresh["hello"]) {
		t.Fatal("the cache returned other bytes than a build")
	}

	write("lambdas/hello/main.go", "package main\n\nfunc main() { println(\"changed\") }\n")
	changed, err := cached(cache, mod, LambdasPattern)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(changed["hello"], first["hello"]) || !bytes.Contains(changed["hello"], []byte("changed")) {
		t.Error("a changed source came back as the old binary")
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 1 {
		t.Errorf("the cache holds %d entries, want only the latest binaries", len(entries))
	}
}

// The Lambdas are built with the release go.mod pins, whatever Go runs synth.
func TestToolchainIsPinnedByGoMod(t *testing.T) {
	cases := []struct{ name, gomod, want, wantErr string }{
		{"toolchain line wins", "module m\n\ngo 1.26.0\n\ntoolchain go1.26.8\n", "go1.26.8", ""},
		{"full go line", "module m\n\ngo 1.26.8\n", "go1.26.8", ""},
		{"language version only", "module m\n\ngo 1.26\n", "", "pins no full Go release"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tc.gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := Toolchain(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Toolchain = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	root, err := moduleroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	env, err := environment(root)
	if err != nil {
		t.Fatal(err)
	}
	if pinned, _ := Toolchain(root); env[len(env)-1] != "GOTOOLCHAIN="+pinned {
		t.Errorf("build environment ends with %q, want GOTOOLCHAIN=%s", env[len(env)-1], pinned)
	}
}
