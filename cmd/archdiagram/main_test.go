package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"stray argument", []string{"now"}, 2, `unexpected argument "now"`},
		{"unknown flag", []string{"-asembly", "x"}, 2, "flag provided but not defined"},
		{"no synthesized app", []string{"-assembly", filepath.Join(t.TempDir(), "cdk.out")}, 1, "run `npx aws-cdk@2 synth` first"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d with %q", code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
}
