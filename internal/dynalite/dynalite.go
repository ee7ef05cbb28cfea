// Package dynalite runs the dynalite DynamoDB-compatible server (from the
// repository's node_modules) on loopback for tests, so DynamoDB code is tested
// against a real protocol server instead of mocks. It is test support only.
package dynalite

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/moduleroot"
)

// Start launches an in-memory dynalite on a free loopback port and returns its
// endpoint URL ("http://127.0.0.1:PORT"). The server stops when the test ends.
// A missing dynalite is a test failure, not a skip: `npm ci --prefix .tools` installs it, and
// the test script and CI run that first.
func Start(tb testing.TB) string {
	tb.Helper()
	endpoint, stop, err := Launch()
	if err != nil {
		tb.Fatalf("dynalite: %v", err)
	}
	tb.Cleanup(stop)
	return endpoint
}

// Launch starts a dynalite like Start for a whole test binary (TestMain):
// one server per package, shared by its tests with their own table
// names, saves a Node.js start per test. stop ends it.
func Launch() (endpoint string, stop func(), err error) {
	bin, err := binary()
	if err != nil {
		return "", nil, err
	}
	port, err := freePort()
	if err != nil {
		return "", nil, fmt.Errorf("pick a port: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Tables become ACTIVE (or gone) at once: tests wait on nothing DynamoDB
	// would make them wait on in production unless they simulate it.
	cmd := exec.CommandContext(ctx, bin, "--port", fmt.Sprint(port), "--host", "127.0.0.1",
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop = func() {
		cancel()
		_ = cmd.Wait()
	}

	ready := make(chan error, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if strings.Contains(scanner.Text(), "listening") {
				ready <- nil
				// Keep draining so the child never blocks on a full pipe.
				for scanner.Scan() {
				}
				return
			}
		}
		ready <- fmt.Errorf("exited before listening: %v", scanner.Err())
	}()
	select {
	case err := <-ready:
		if err != nil {
			stop()
			return "", nil, err
		}
	case <-time.After(20 * time.Second):
		stop()
		return "", nil, fmt.Errorf("not listening on port %d after 20s", port)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port), stop, nil
}

// binary finds the dynalite installed by `npm ci --prefix .tools` in the
// repository root (tests run in their package's folder).
func binary() (string, error) {
	root, err := moduleroot.Find()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, ".tools", "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s not found: run `npm ci --prefix .tools` in %s (scripts/test.sh does this)", bin, root)
	}
	return bin, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
