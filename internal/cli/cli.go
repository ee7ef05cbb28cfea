// Package cli holds what the operator tools (drctl, producer) share about
// their terminal and build: whether a stream is an interactive terminal,
// and the version to print for -version.
package cli

import (
	"io"
	"os"
	"runtime/debug"

	"github.com/mattn/go-isatty"
)

// IsTerminal reports whether w is an interactive terminal. A character
// device is not enough: /dev/null is one too, and `2>/dev/null` must not
// get progress lines.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// Version is the module version and VCS revision the binary was built
// from, as Go records them, e.g. "(devel) 708263f (modified)".
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = " (modified)"
			}
		}
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if revision != "" {
		v += " " + revision + modified
	}
	return v + " " + info.GoVersion
}
