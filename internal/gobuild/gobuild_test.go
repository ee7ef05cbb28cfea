package gobuild

import (
	"bytes"
	"os"
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
