package gofunction

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// BuildFlags are the reproducible build settings of every function: the same
// source and Go version give the same bytes, so asset hashes only change when
// code does.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -buildid="}

// BuildEnv targets Lambda's arm64 Amazon Linux 2023 runtime with a static binary.
var BuildEnv = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

// localBuilder implements awscdk.ILocalBundling with `go build`, so synth
// needs Go but no Docker. A package is built once per process and copied for
// every further function that uses it (the same Lambda runs in both regions).
type localBuilder struct {
	moduleRoot string
	pkg        string
}

var (
	builtMu sync.Mutex
	built   = map[string]string{} // package -> path of a built bootstrap
)

// TryBundle writes outputDir/bootstrap. A failed build panics with the
// compiler output: returning false would make CDK fall back to Docker and
// hide the real error behind "docker: not found".
func (b *localBuilder) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	binary, err := b.build()
	if err != nil {
		panic(fmt.Sprintf("bundle Go Lambda %s: %v", b.pkg, err))
	}
	if err := copyFile(binary, filepath.Join(*outputDir, "bootstrap")); err != nil {
		panic(fmt.Sprintf("bundle Go Lambda %s: %v", b.pkg, err))
	}
	return jsii.Bool(true)
}

func (b *localBuilder) build() (string, error) {
	builtMu.Lock()
	defer builtMu.Unlock()
	if path, ok := built[b.pkg]; ok {
		return path, nil
	}
	dir, err := os.MkdirTemp("", "gofunction-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "bootstrap")
	args := append([]string{"build", "-o", out}, BuildFlags...)
	cmd := exec.Command("go", append(args, b.pkg)...)
	cmd.Dir = b.moduleRoot
	cmd.Env = append(os.Environ(), BuildEnv...)
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, output)
	}
	built[b.pkg] = out
	return out, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
