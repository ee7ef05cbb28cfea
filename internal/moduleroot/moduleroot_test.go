package moduleroot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindFromASubfolder(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	got, err := Find()
	if err != nil || got != root {
		t.Errorf("Find() = %q, %v; want %q", got, err, root)
	}
}

func TestFindWithoutGoMod(t *testing.T) {
	t.Chdir(t.TempDir()) // the temp folder has no go.mod above it
	if got, err := Find(); err == nil {
		t.Errorf("Find() = %q, want an error", got)
	}
}
