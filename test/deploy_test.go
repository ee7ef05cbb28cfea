package test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/internal/naming"
)

// Issue: deployable on the first try. What a first deploy, a failover and
// a failback need from the synthesized app beyond the per-component tests.

func TestStackNamesCarryThePrefix(t *testing.T) {
	a := synth(t)
	for _, id := range []string{naming.BackupStack, naming.PrimaryStack, naming.BackupFailoverStack} {
		check(t, id+" is deployed as "+names.StackName(id), func(t *testing.T) {
			props, _ := a.artifact(t, id)["properties"].(map[string]any)
			if props["stackName"] != names.StackName(id) {
				t.Errorf("stackName %v, want %s (the CDK id stays %s)", props["stackName"], names.StackName(id), id)
			}
		})
	}
}

func TestProviderWaitersLog(t *testing.T) {
	a := synth(t)
	for name, tpl := range a.templates {
		for _, sm := range tpl.ofType("AWS::StepFunctions::StateMachine") {
			check(t, name+" "+sm.ID+" logs every event", func(t *testing.T) {
				want := map[string]any{"LoggingConfiguration": map[string]any{"Level": "ALL", "Destinations": []any{present}}}
				if !like(sm.Properties, want) {
					t.Errorf("LoggingConfiguration %s", show(sm.Properties["LoggingConfiguration"]))
				}
			})
		}
	}
}

func TestDefaultSecurityGroupsAreRestricted(t *testing.T) {
	a := synth(t)
	for _, stack := range []string{naming.PrimaryStack, naming.BackupStack} {
		check(t, stack+" VPC's default security group allows nothing", func(t *testing.T) {
			// cdk.json's @aws-cdk/aws-ec2:restrictDefaultSecurityGroup.
			vpc := a.stack(t, stack).one(t, "AWS::EC2::VPC", map[string]any{})
			a.stack(t, stack).one(t, "Custom::VpcRestrictDefaultSG", map[string]any{
				"DefaultSecurityGroupId": matchFunc(func(v any) bool { return refersTo(v, vpc.ID) }),
			})
		})
	}
}

// TestRunbookCommandsDeployOnlyWhatTheySay reads the README: a failover
// deploy that also redeploys BackupStack (CDK's default for dependencies)
// would rebuild it from whatever flags and toolchain the operator has on the
// worst day, and without a terminal the CLI refuses to ask for approval.
func TestRunbookCommandsDeployOnlyWhatTheySay(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Commands as operators copy them: the lines of fenced code blocks.
	var commands []string
	inBlock := false
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
			continue
		}
		if m := regexp.MustCompile(`cdk (deploy|destroy)\b.*`).FindString(line); inBlock && m != "" {
			commands = append(commands, m)
		}
	}
	failover := 0
	for _, c := range commands {
		if !strings.Contains(c, naming.BackupFailoverStack) {
			continue
		}
		failover++
		check(t, c, func(t *testing.T) {
			want := []string{"--exclusively"}
			if strings.HasPrefix(c, "cdk deploy") {
				want = append(want, "--require-approval never", "--no-rollback")
			}
			for _, flag := range want {
				if !strings.Contains(c, flag) {
					t.Errorf("%q lacks %s", c, flag)
				}
			}
		})
	}
	if failover == 0 {
		t.Error("the README has no BackupFailoverStack runbook command")
	}
	check(t, "no message tells an operator to destroy the failover stack during DR", func(t *testing.T) {
		for _, phrase := range []string{"destroy BackupFailoverStack and deploy it again", "destroy and redeploy"} {
			if strings.Contains(string(readme), phrase) {
				t.Errorf("README says %q", phrase)
			}
		}
	})
}
