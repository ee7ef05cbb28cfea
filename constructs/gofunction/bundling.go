package gofunction

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/internal/gobuild"
	"github.com/dr-analytics/drplan/internal/moduleroot"
)

// localBuilder implements awscdk.ILocalBundling with `go build`, so synth
// needs Go but no Docker. The first function to bundle builds every
// function at once (gobuild.Set); each bundle then writes its binary.
type localBuilder struct {
	moduleRoot string
	pkg        string
}

var (
	setsMu sync.Mutex
	sets   = map[string]*gobuild.Set{} // module root -> its functions
)

// Prebuild starts building every function in the background, before the
// constructs ask for them; app.go calls it once the config is valid (an
// exit before the build ends would leave its folder behind). Without it
// the build starts at the first function.
func Prebuild() {
	if root, err := moduleroot.Find(); err == nil {
		lambdas(root).Start()
	}
}

func lambdas(root string) *gobuild.Set {
	setsMu.Lock()
	defer setsMu.Unlock()
	if sets[root] == nil {
		sets[root] = &gobuild.Set{Root: root, Pattern: gobuild.LambdasPattern, CacheDir: cacheDir()}
	}
	return sets[root]
}

// cacheDir keeps the last Lambda binaries inside the folder the CDK CLI
// synthesizes into (CDK_OUTDIR, cdk.out), so a warm synth links nothing
// when no Lambda changed, and removing cdk.out removes them too. Outside
// the CLI (the template tests) every process builds afresh.
func cacheDir() string {
	out := os.Getenv("CDK_OUTDIR")
	if out == "" {
		return ""
	}
	return filepath.Join(out, ".lambda-binaries")
}

// TryBundle writes outputDir/bootstrap. A failed build panics with the
// compiler output: returning false would make CDK fall back to Docker and
// hide the real error behind "docker: not found".
func (b *localBuilder) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	binary, err := lambdas(b.moduleRoot).Binary(b.pkg)
	if err == nil {
		err = os.WriteFile(filepath.Join(*outputDir, "bootstrap"), binary, 0o755)
	}
	if err != nil {
		panic(fmt.Sprintf("bundle Go Lambda %s: %v", b.pkg, err))
	}
	return jsii.Bool(true)
}
