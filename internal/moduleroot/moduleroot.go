// Package moduleroot finds this repository's root (the folder holding
// go.mod): `cdk synth` runs in the root, tests in their package folders,
// and both need files that live relative to the root.
package moduleroot

import (
	"errors"
	"os"
	"path/filepath"
)

// Find returns the closest folder at or above the working directory that
// holds a go.mod.
func Find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}
