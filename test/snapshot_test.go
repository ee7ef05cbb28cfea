package test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// assetHash matches asset hashes (hex SHA-256), which change with every
// code change and Go version; the snapshot is about infrastructure.
var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

// TestGoldenSnapshots compares each stack's template with
// testdata/<Stack>.template.json. Regenerate with `go test ./test -update`
// and review the diff like code.
func TestGoldenSnapshots(t *testing.T) {
	a := synth(t)
	for name, tpl := range a.templates {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(tpl.body, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(assetHash.ReplaceAll(got, []byte("<asset-hash>")), '\n')
			path := filepath.Join("testdata", name+".template.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v: run `go test ./test -run TestGoldenSnapshots -update` to create it", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s: %s\nIf the change is intended, run `go test ./test -update` and review the diff.", name, path, firstDifference(want, got))
			}
		})
	}
}

func firstDifference(want, got []byte) string {
	wl, gl := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g []byte
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if !bytes.Equal(w, g) {
			return "line " + itoa(i+1) + ": want " + string(bytes.TrimSpace(w)) + ", got " + string(bytes.TrimSpace(g))
		}
	}
	return "no difference"
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
