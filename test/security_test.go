package test

import (
	"strings"
	"testing"
)

// Security properties that hold for every stack and every configuration.

func TestNoWildcardActions(t *testing.T) {
	for variantName, a := range map[string]*assembly{"main": synth(t), "variant": synthVariant(t)} {
		for name, tpl := range a.templates {
			check(t, variantName+"/"+name+" grants no * actions", func(t *testing.T) {
				for _, s := range tpl.allStatements() {
					if s["Effect"] != "Allow" {
						continue
					}
					for _, action := range actions(s) {
						if action == "*" || strings.HasSuffix(action, ":*") {
							t.Errorf("Allow %s on %v", action, resourcesOf(s))
						}
					}
				}
			})
		}
	}
}

func TestGoFunctionsRunOnArmAL2023WithOwnLogs(t *testing.T) {
	a := synth(t)
	for name, tpl := range a.templates {
		for _, fn := range tpl.find("AWS::Lambda::Function", map[string]any{"Handler": "bootstrap"}) {
			check(t, name+"/"+render(fn.Properties["FunctionName"]), func(t *testing.T) {
				if !like(fn.Properties, map[string]any{"Runtime": "provided.al2023", "Architectures": []any{"arm64"}}) {
					t.Errorf("runtime %v architectures %v", fn.Properties["Runtime"], fn.Properties["Architectures"])
				}
				logging, _ := fn.Properties["LoggingConfig"].(map[string]any)
				group := tpl.byID(t, roleOf(logging["LogGroup"]))
				if group.Type != "AWS::Logs::LogGroup" || group.Properties["RetentionInDays"] != float64(90) {
					t.Errorf("log group %s %v", group.Type, group.Properties["RetentionInDays"])
				}
				// The role may write to its own log group only.
				grants := tpl.grants(roleOf(fn.Properties["Role"]))
				if got := grants["logs:PutLogEvents"]; len(got) != 1 || got[0] != "<"+group.ID+".Arn>" {
					t.Errorf("logs:PutLogEvents on %v", got)
				}
				for _, arn := range fn.Properties["Role"].(map[string]any)["Fn::GetAtt"].([]any)[:1] {
					role := tpl.byID(t, arn.(string))
					if role.Properties["ManagedPolicyArns"] != nil {
						t.Errorf("managed policies %v", role.Properties["ManagedPolicyArns"])
					}
				}
			})
		}
	}
}

func TestQueuesAndTopicsRequireTLSAndEncryption(t *testing.T) {
	a := synth(t)
	for name, tpl := range a.templates {
		for _, q := range tpl.ofType("AWS::SQS::Queue") {
			check(t, name+"/"+q.ID+" is encrypted and TLS-only", func(t *testing.T) {
				if q.Properties["SqsManagedSseEnabled"] != true && q.Properties["KmsMasterKeyId"] == nil {
					t.Error("no server-side encryption")
				}
				policy := tpl.one(t, "AWS::SQS::QueuePolicy", map[string]any{"Queues": []any{matchFunc(func(v any) bool { return refersTo(v, q.ID) })}})
				deny := map[string]any{"Effect": "Deny", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}}
				if !like(policy.Properties["PolicyDocument"], map[string]any{"Statement": []any{deny}}) {
					t.Error(show(policy.Properties["PolicyDocument"]))
				}
			})
		}
	}
}

func TestNoPublicIngress(t *testing.T) {
	for variantName, a := range map[string]*assembly{"main": synth(t), "variant": synthVariant(t)} {
		for name, tpl := range a.templates {
			check(t, variantName+"/"+name+" security groups are not open to the internet", func(t *testing.T) {
				for _, sg := range tpl.ofType("AWS::EC2::SecurityGroup") {
					for _, rule := range tpl.ingress(sg) {
						r := rule.(map[string]any)
						if r["CidrIp"] == "0.0.0.0/0" || r["CidrIpv6"] == "::/0" {
							t.Errorf("%s admits %v", sg.ID, show(r))
						}
					}
				}
			})
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// ingress lists a security group's ingress rules, inline or as separate
// AWS::EC2::SecurityGroupIngress resources.
func (tpl template) ingress(sg resource) []any {
	rules := asList(sg.Properties["SecurityGroupIngress"])
	for _, r := range tpl.ofType("AWS::EC2::SecurityGroupIngress") {
		if refersTo(r.Properties["GroupId"], sg.ID) {
			rules = append(rules, r.Properties)
		}
	}
	return rules
}

// Roles EventBridge Scheduler assumes trust only this account's schedules
// (aws:SourceAccount, the confused-deputy guard the Scheduler guide asks for).
func TestSchedulerRolesTrustOnlyThisAccount(t *testing.T) {
	a := synth(t)
	found := 0
	for name, tpl := range a.templates {
		for _, r := range tpl.ofType("AWS::IAM::Role") {
			trust := show(r.Properties["AssumeRolePolicyDocument"])
			if !strings.Contains(trust, "scheduler.amazonaws.com") {
				continue
			}
			found++
			if !strings.Contains(trust, `"aws:SourceAccount"`) {
				t.Errorf("%s %s trusts EventBridge Scheduler without aws:SourceAccount: %s", name, r.ID, trust)
			}
		}
	}
	if found == 0 {
		t.Fatal("no role trusts EventBridge Scheduler")
	}
}
