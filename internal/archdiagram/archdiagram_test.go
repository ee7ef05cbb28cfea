package archdiagram

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// assembly writes a minimal cloud assembly: a manifest and one template per stack.
func assembly(t *testing.T, stacks map[string]struct {
	region    string
	resources map[string]any
}) string {
	t.Helper()
	dir := t.TempDir()
	artifacts := map[string]any{"Tree": map[string]any{"type": "cdk:tree"}}
	for name, s := range stacks {
		file := name + ".template.json"
		artifacts[name] = map[string]any{"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/" + s.region,
			"properties": map[string]any{"templateFile": file}}
		write(t, filepath.Join(dir, file), map[string]any{"Resources": s.resources})
	}
	write(t, filepath.Join(dir, "manifest.json"), map[string]any{"artifacts": artifacts})
	return dir
}

func write(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func resource(typ string, props map[string]any) map[string]any {
	return map[string]any{"Type": typ, "Properties": props}
}

func TestDataFlowAcrossStacksAndRegions(t *testing.T) {
	dir := assembly(t, map[string]struct {
		region    string
		resources map[string]any
	}{
		"PrimaryStack": {"us-east-1", map[string]any{
			"Raw": resource("AWS::S3::Bucket", map[string]any{"BucketName": "p-streaming-1-us-east-1", "ReplicationConfiguration": map[string]any{
				"Rules": []any{map[string]any{"Destination": map[string]any{"Bucket": "arn:aws:s3:::p-streaming-1-us-west-2"}}}}}),
			"Logs":  resource("AWS::S3::Bucket", map[string]any{"BucketName": "p-access-logs-1-us-east-1"}),
			"Vault": resource("AWS::Backup::BackupVault", map[string]any{"BackupVaultName": "p-vault"}),
			"Plan": resource("AWS::Backup::BackupPlan", map[string]any{"BackupPlan": map[string]any{"BackupPlanRule": []any{map[string]any{
				"TargetBackupVault": map[string]any{"Fn::GetAtt": []any{"Vault", "BackupVaultName"}},
				"CopyActions":       []any{map[string]any{"DestinationBackupVaultArn": "arn:aws:backup:us-west-2:1:backup-vault:p-vault"}},
			}}}}),
		}},
		"BackupStack": {"us-west-2", map[string]any{
			"Replica": resource("AWS::S3::Bucket", map[string]any{"BucketName": "p-streaming-1-us-west-2"}),
			"Vault":   resource("AWS::Backup::BackupVault", map[string]any{"BackupVaultName": "p-vault"}),
			"Fn":      resource("AWS::Lambda::Function", map[string]any{"FunctionName": "p-readiness"}),
			"Other":   resource("AWS::Lambda::Function", map[string]any{"FunctionName": "SomethingElse"}),
		}},
	})
	stacks, err := ReadAssembly(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := Mermaid(stacks, "p")
	for _, want := range []string{
		`subgraph PS_["PrimaryStack · us-east-1"]`,
		`subgraph BS_["BackupStack · us-west-2"]`,
		`PS_Raw -- "CRR" --> BS_Replica`,
		`PS_Plan -- "copy" --> BS_Vault`, // the ARN's region picks the backup region's vault of the same name
		`PS_Plan --> PS_Vault`,
		`BS_Fn("λ readiness")`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("diagram lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"access-logs", "SomethingElse", `PS_Plan -- "copy" --> PS_Vault`} {
		if strings.Contains(got, unwanted) {
			t.Errorf("diagram has %q:\n%s", unwanted, got)
		}
	}
	if strings.Index(got, "PrimaryStack") > strings.Index(got, "BackupStack ·") {
		t.Errorf("PrimaryStack must come first:\n%s", got)
	}
	if again := Mermaid(stacks, "p"); again != got {
		t.Error("the diagram is not deterministic")
	}
}

func TestReplaceAndExtract(t *testing.T) {
	doc := "# Title\n\n" + BeginMarker + "\nold\n" + EndMarker + "\n\nmore\n"
	updated, err := Replace(doc, "flowchart LR\n  a --> b\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# Title\n\n" + Block("flowchart LR\n  a --> b\n") + "\n\nmore\n"; updated != want {
		t.Errorf("replaced:\n%s\nwant:\n%s", updated, want)
	}
	if Extract(updated) != Block("flowchart LR\n  a --> b\n") {
		t.Errorf("extract %q", Extract(updated))
	}
	if _, err := Replace("# no markers\n", "x"); err == nil || !strings.Contains(err.Error(), BeginMarker) {
		t.Errorf("missing markers: %v", err)
	}
}

func TestReadAssemblyWithoutSynthSaysWhatToRun(t *testing.T) {
	if _, err := ReadAssembly(t.TempDir()); err == nil || !strings.Contains(err.Error(), "cdk@2 synth") {
		t.Errorf("error %v", err)
	}
}
