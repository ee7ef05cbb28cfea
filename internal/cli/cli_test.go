package cli

import (
	"os"
	"strings"
	"testing"
)

func TestDevNullIsNotATerminal(t *testing.T) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if info, _ := f.Stat(); info.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is not a character device here; the test needs one", os.DevNull)
	}
	if IsTerminal(f) {
		t.Errorf("%s (a character device) counted as a terminal", os.DevNull)
	}
	if IsTerminal(&strings.Builder{}) {
		t.Error("a buffer counted as a terminal")
	}
}

func TestVersionNamesTheGoToolchain(t *testing.T) {
	if v := Version(); !strings.Contains(v, "go1.") {
		t.Errorf("Version() = %q, want the Go version in it", v)
	}
}
