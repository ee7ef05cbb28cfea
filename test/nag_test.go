package test

import (
	"strings"
	"testing"
)

// TestCdkNagAwsSolutionsClean: cdk-nag's AwsSolutions pack runs during
// synth (stacks.NewDeployment adds it); every finding must be fixed or
// suppressed with a reason, so the manifest must hold no nag errors or
// warnings for any stack.
func TestCdkNagAwsSolutionsClean(t *testing.T) {
	for variantName, a := range map[string]*assembly{"main": synth(t), "variant": synthVariant(t), "pilot-light": synthPilotLight(t)} {
		for name := range a.templates {
			t.Run(variantName+"/"+name, func(t *testing.T) {
				metadata, _ := a.artifact(t, name)["metadata"].(map[string]any)
				var findings []string
				for path, entries := range metadata {
					for _, e := range entries.([]any) {
						entry := e.(map[string]any)
						typ, _ := entry["type"].(string)
						data, _ := entry["data"].(string)
						if (typ == "aws:cdk:error" || typ == "aws:cdk:warning") && strings.Contains(data, "AwsSolutions-") {
							findings = append(findings, path+": "+firstLine(data))
						}
					}
				}
				for _, f := range findings {
					t.Error(f)
				}
			})
		}
	}
}

// TestNagSuppressionsHaveReasons: a suppression is a decision, and its
// reason is the record of that decision.
func TestNagSuppressionsHaveReasons(t *testing.T) {
	a := synth(t)
	for name, tpl := range a.templates {
		for _, r := range tpl.resources() {
			meta, _ := r.Raw["Metadata"].(map[string]any)
			nag, _ := meta["cdk_nag"].(map[string]any)
			rules, _ := nag["rules_to_suppress"].([]any)
			for _, rule := range rules {
				s := rule.(map[string]any)
				reason, _ := s["reason"].(string)
				if len(strings.Fields(reason)) < 6 {
					t.Errorf("%s/%s: suppression of %v needs a real reason, got %q", name, r.ID, s["id"], reason)
				}
			}
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
