package test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/recoverytime"
)

// Issue: failover. BackupFailoverStack depends on BackupStack only, never
// reads the primary region, creates only what costs money while running,
// restores the table and moves traffic.

func TestFailoverDependsOnBackupStackOnly(t *testing.T) {
	a := synth(t)
	tpl := a.stack(t, naming.BackupFailoverStack)
	check(t, "manifest: BackupFailoverStack depends on BackupStack and nothing else", func(t *testing.T) {
		deps, _ := a.artifact(t, naming.BackupFailoverStack)["dependencies"].([]any)
		var stacks []string
		for _, d := range deps {
			if !strings.HasSuffix(d.(string), ".assets") {
				stacks = append(stacks, d.(string))
			}
		}
		if show(stacks) != show([]string{naming.BackupStack}) {
			t.Errorf("dependencies %v", deps)
		}
	})
	check(t, "deploys to the backup region without termination protection", func(t *testing.T) {
		art := a.artifact(t, naming.BackupFailoverStack)
		if !strings.HasSuffix(art["environment"].(string), "/"+backupRegion) {
			t.Errorf("environment %v", art["environment"])
		}
		if art["properties"].(map[string]any)["terminationProtection"] == true {
			t.Error("failback ends with cdk destroy BackupFailoverStack: it must be removable")
		}
	})
	imports := regexp.MustCompile(`"Fn::ImportValue":"([^"]+)"`).FindAllStringSubmatch(show(tpl.body), -1)
	check(t, "imports come from BackupStack only", func(t *testing.T) {
		if len(imports) == 0 {
			t.Fatal("expected imports of the standby compute from BackupStack")
		}
		for _, m := range imports {
			if !strings.HasPrefix(m[1], names.StackName(naming.BackupStack)+":") {
				t.Errorf("import %s", m[1])
			}
		}
	})
	check(t, "the failover deploy (--exclusively) needs no change to BackupStack", func(t *testing.T) {
		// Every import is an export BackupStack already has, and the
		// failover stack builds no code of its own: deploying it alone
		// works, whatever the operator's toolchain.
		exports := map[string]bool{}
		for _, o := range asMap(a.stack(t, naming.BackupStack).body["Outputs"]) {
			if e, ok := o.(map[string]any)["Export"].(map[string]any); ok {
				exports[e["Name"].(string)] = true
			}
		}
		for _, m := range imports {
			if !exports[m[1]] {
				t.Errorf("import %s is not an export of BackupStack", m[1])
			}
		}
		for _, r := range tpl.resources() {
			if r.Type == "AWS::Lambda::Function" || r.Type == "AWS::Lambda::LayerVersion" {
				t.Errorf("%s (%s): the failover stack must use BackupStack's functions", r.ID, r.Type)
			}
		}
	})
	check(t, "no import, SSM reference or parameter names the primary region or PrimaryStack", func(t *testing.T) {
		body := show(tpl.body)
		for _, m := range regexp.MustCompile(`\{\{resolve:ssm[^}]*\}\}`).FindAllString(body, -1) {
			t.Errorf("dynamic SSM reference %s", m)
		}
		for name, p := range asMap(tpl.body["Parameters"]) {
			if name != "BootstrapVersion" {
				t.Errorf("parameter %s %s", name, show(p))
			}
		}
		for _, m := range imports {
			if strings.Contains(m[1], naming.PrimaryStack) || strings.Contains(m[1], primaryRegion) {
				t.Errorf("import %s", m[1])
			}
		}
		if strings.Contains(body, naming.PrimaryStack) {
			t.Error("template mentions PrimaryStack")
		}
	})
	check(t, "the primary region appears only as the restore source and the dial's target, read at deploy time by handlers that tolerate its absence", func(t *testing.T) {
		for _, r := range tpl.resources() {
			if strings.Contains(show(r.Properties), primaryRegion) && r.Type != "Custom::TableRestore" && r.Type != "Custom::TrafficDial" {
				t.Errorf("%s (%s) mentions %s", r.ID, r.Type, primaryRegion)
			}
		}
	})
}

// failoverResourceTypes is what a failover creates: the README lists the
// same set, with the slowest to create.
var failoverResourceTypes = []string{
	"AWS::ElasticLoadBalancingV2::Listener",
	"AWS::ElasticLoadBalancingV2::LoadBalancer",
	"AWS::ElasticLoadBalancingV2::TargetGroup",
	"AWS::GlobalAccelerator::EndpointGroup",
	"AWS::Kinesis::Stream",
	"AWS::KinesisFirehose::DeliveryStream",
	"AWS::Lambda::EventSourceMapping",
	"AWS::Lambda::Permission",
	"AWS::Scheduler::Schedule",
	"Custom::TableRestore",
	"Custom::TableRestoreReady",
	"Custom::TrafficDial",
}

func TestFailoverCreatesOnlyRunningResources(t *testing.T) {
	tpl := synth(t).stack(t, naming.BackupFailoverStack)
	var types []string
	for _, r := range tpl.resources() {
		if !slices.Contains(types, r.Type) {
			types = append(types, r.Type)
		}
	}
	slices.Sort(types)
	if show(types) != show(failoverResourceTypes) {
		t.Errorf("resource types %v, want %v", types, failoverResourceTypes)
	}
	for _, r := range tpl.resources() {
		switch r.Type {
		case "AWS::IAM::Role", "AWS::Lambda::Function", "AWS::Logs::LogGroup", "AWS::EC2::VPC", "AWS::EC2::SecurityGroup", "AWS::KMS::Key":
			t.Errorf("%s (%s) costs nothing while idle and belongs in BackupStack", r.ID, r.Type)
		}
	}
}

func TestFailoverTableRestore(t *testing.T) {
	a := synth(t)
	tpl := a.stack(t, naming.BackupFailoverStack)
	cr := tpl.one(t, "Custom::TableRestore", map[string]any{})
	check(t, "restores the primary table under the same name in the backup region", func(t *testing.T) {
		want := map[string]any{
			"TableName":                names.Table(),
			"SourceTableArn":           names.TableArn(primaryRegion),
			"SourceRegion":             primaryRegion,
			"VaultName":                names.BackupVault(),
			"Source":                   "auto",
			"ProbeTimeoutSeconds":      "5",
			"FailoverStartedParameter": names.FailoverStartedParameter(),
		}
		if !like(cr.Properties, want) {
			t.Errorf("properties %s", show(cr.Properties))
		}
		if !strings.Contains(render(cr.Properties["RestoreRoleArn"]), "RestoreRole") {
			t.Errorf("RestoreRoleArn %s", render(cr.Properties["RestoreRoleArn"]))
		}
		if !strings.Contains(render(cr.Properties["ServiceToken"]), "TableRestoreProviderframeworkonEvent") {
			t.Errorf("ServiceToken %s", render(cr.Properties["ServiceToken"]))
		}
	})
	ready := tpl.one(t, "Custom::TableRestoreReady", map[string]any{})
	check(t, "the Ready resource waits for the table Start began, then protects and tags it", func(t *testing.T) {
		for _, key := range []string{"TableName", "Source", "PointInTime", "RestoreJobId", "RecoveryPointArn", "SourceTableArn"} {
			if render(ready.Properties[key]) != "<"+cr.ID+"."+key+">" {
				t.Errorf("%s = %s, want Start's attribute", key, render(ready.Properties[key]))
			}
		}
		if !like(ready.Properties, map[string]any{"WaitMinutes": "50", "Tags": map[string]any{"project": testPrefix}}) {
			t.Errorf("properties %s", show(ready.Properties))
		}
	})
	check(t, "traffic moves only after the restore started; ingest never waits for the table", func(t *testing.T) {
		group := tpl.one(t, "AWS::GlobalAccelerator::EndpointGroup", map[string]any{})
		if !slices.Contains(asStrings(group.Raw["DependsOn"]), cr.ID) {
			t.Errorf("endpoint group DependsOn %v, want %s", group.Raw["DependsOn"], cr.ID)
		}
		for _, r := range tpl.resources() {
			waitsForStart := slices.Contains(asStrings(r.Raw["DependsOn"]), cr.ID) || strings.Contains(show(r.Properties), `"`+cr.ID+`"`)
			if waitsForStart && r.ID != group.ID && r.ID != ready.ID && r.Type != "Custom::TrafficDial" {
				t.Errorf("%s (%s) waits for the restore to start", r.ID, r.Type)
			}
			if slices.Contains(asStrings(r.Raw["DependsOn"]), ready.ID) || strings.Contains(show(r.Properties), `"`+ready.ID+`"`) {
				t.Errorf("%s (%s) waits for the restored table", r.ID, r.Type)
			}
		}
	})
	check(t, "outputs say which source and point in time were used (RPO), the table's status and when failover began", func(t *testing.T) {
		outputs := asMap(tpl.body["Outputs"])
		want := map[string]string{
			"RestoreSource":      "<" + cr.ID + ".Source>",
			"RestorePointInTime": "<" + cr.ID + ".PointInTime>",
			"FailoverStartedAt":  "<" + cr.ID + ".FailoverStartedAt>",
			"RestoreStatus":      "<" + ready.ID + ".Status>",
		}
		for name, value := range want {
			if got := render(asMap(outputs[name])["Value"]); got != value {
				t.Errorf("output %s = %s, want %s", name, got, value)
			}
		}
	})
	check(t, "a drill can force the restore source with -c restoreSource", func(t *testing.T) {
		forced := synthVariant(t).stack(t, naming.BackupFailoverStack).one(t, "Custom::TableRestore", map[string]any{})
		if forced.Properties["Source"] != "backup" {
			t.Errorf("Source %v", forced.Properties["Source"])
		}
	})
	backup := a.stack(t, naming.BackupStack)
	check(t, "restore handlers may restore this table only, pass only the restore role, and poll up to an hour", func(t *testing.T) {
		for _, mode := range []string{"onevent", "iscomplete"} {
			fn := backup.functionNamed(t, names.Function("table-restore-"+mode))
			grants := backup.grants(roleOf(fn.Properties["Role"]))
			if show(sorted(grants["dynamodb:RestoreTableToPointInTime"])) != show(sorted([]string{names.TableArn(primaryRegion), names.TableArn(backupRegion)})) {
				t.Errorf("%s RestoreTableToPointInTime on %v", mode, grants["dynamodb:RestoreTableToPointInTime"])
			}
			if show(grants["dynamodb:UpdateContinuousBackups"]) != show([]string{names.TableArn(backupRegion)}) {
				t.Errorf("%s UpdateContinuousBackups on %v", mode, grants["dynamodb:UpdateContinuousBackups"])
			}
			// The failover start, and the failover's measured times.
			ssmWant := show(sorted([]string{names.FailoverStartedParameterArn(backupRegion), names.FailoverRecordParameterArn(backupRegion)}))
			for _, action := range []string{"ssm:PutParameter", "ssm:GetParameter"} {
				if show(sorted(grants[action])) != ssmWant {
					t.Errorf("%s %s on %v", mode, action, grants[action])
				}
			}
			if !like(fn.Properties, map[string]any{"Environment": map[string]any{"Variables": map[string]any{recoverytime.EnvFailoverRecordParameter: names.FailoverRecordParameter()}}}) {
				t.Errorf("%s environment %s, want %s=%s", mode, show(fn.Properties["Environment"]), recoverytime.EnvFailoverRecordParameter, names.FailoverRecordParameter())
			}
			if show(grants["backup:ListRecoveryPointsByBackupVault"]) != show([]string{names.BackupVaultArn(backupRegion)}) {
				t.Errorf("%s ListRecoveryPointsByBackupVault on %v", mode, grants["backup:ListRecoveryPointsByBackupVault"])
			}
			for action, resources := range grants {
				if strings.HasPrefix(action, "dynamodb:") {
					for _, r := range resources {
						if r != names.TableArn(primaryRegion) && r != names.TableArn(backupRegion) {
							t.Errorf("%s %s on %s", mode, action, r)
						}
					}
				}
			}
			pass := backup.one(t, "AWS::IAM::Policy", map[string]any{"Roles": []any{matchFunc(func(v any) bool { return refersTo(v, roleOf(fn.Properties["Role"])) })}})
			want := map[string]any{"Action": "iam:PassRole", "Condition": map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "backup.amazonaws.com"}}}
			if !like(pass.Properties["PolicyDocument"], map[string]any{"Statement": []any{want}}) {
				t.Errorf("%s PassRole not limited to AWS Backup", mode)
			}
		}
		waiter := backup.one(t, "AWS::StepFunctions::StateMachine", map[string]any{"DefinitionString": contains("TableRestoreProviderframeworkisComplete")})
		if !strings.Contains(render(waiter.Properties["DefinitionString"]), `"IntervalSeconds":30`) {
			t.Errorf("waiter %s", render(waiter.Properties["DefinitionString"]))
		}
	})
}

func TestFailoverTraffic(t *testing.T) {
	a := synth(t)
	tpl := a.stack(t, naming.BackupFailoverStack)
	group := tpl.one(t, "AWS::GlobalAccelerator::EndpointGroup", map[string]any{})
	lb := tpl.one(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{})
	check(t, "backup endpoint group joins the BackupStack listener with the backup ALB", func(t *testing.T) {
		want := map[string]any{
			"EndpointGroupRegion":    backupRegion,
			"EndpointConfigurations": []any{map[string]any{"EndpointId": matchFunc(func(v any) bool { return refersTo(v, lb.ID) }), "ClientIPPreservationEnabled": true}},
			"TrafficDialPercentage":  100,
		}
		if !like(group.Properties, want) {
			t.Errorf("endpoint group %s", show(group.Properties))
		}
		if !strings.Contains(render(group.Properties["ListenerArn"]), "<Import:"+names.StackName(naming.BackupStack)+":") {
			t.Errorf("ListenerArn %s", render(group.Properties["ListenerArn"]))
		}
	})
	check(t, "producers are sent here only once Firehose reads the stream and the restore has started", func(t *testing.T) {
		deps := asStrings(group.Raw["DependsOn"])
		delivery := tpl.one(t, "AWS::KinesisFirehose::DeliveryStream", map[string]any{})
		start := tpl.one(t, "Custom::TableRestore", map[string]any{})
		for _, want := range []string{delivery.ID, start.ID} {
			if !slices.Contains(deps, want) {
				t.Errorf("DependsOn %v lacks %s", deps, want)
			}
		}
	})
	check(t, "traffic dial goes to 0 for the primary region once the backup group exists and is healthy", func(t *testing.T) {
		dial := tpl.one(t, "Custom::TrafficDial", map[string]any{"PrimaryRegion": primaryRegion, "DialPercentage": "0",
			"BackupRegion": backupRegion, "HealthyTimeoutSeconds": "600"})
		if render(dial.Properties["ListenerArn"]) != render(group.Properties["ListenerArn"]) {
			t.Errorf("dial listener %s", render(dial.Properties["ListenerArn"]))
		}
		if !slices.Contains(asStrings(dial.Raw["DependsOn"]), group.ID) {
			t.Errorf("DependsOn %v", dial.Raw["DependsOn"])
		}
	})
	check(t, "dial handler may change only this accelerator's endpoint groups", func(t *testing.T) {
		backup := a.stack(t, naming.BackupStack)
		for _, mode := range []string{"onevent", "iscomplete"} {
			fn := backup.functionNamed(t, names.Function("traffic-dial-"+mode))
			acc := backup.one(t, "AWS::GlobalAccelerator::Accelerator", map[string]any{})
			grants := backup.grants(roleOf(fn.Properties["Role"]))
			want := []string{"<" + acc.ID + ".AcceleratorArn>", "<" + acc.ID + ".AcceleratorArn>/*"}
			for _, action := range []string{"globalaccelerator:ListEndpointGroups", "globalaccelerator:DescribeEndpointGroup", "globalaccelerator:UpdateEndpointGroup"} {
				if show(grants[action]) != show(want) {
					t.Errorf("%s %s on %v", mode, action, grants[action])
				}
			}
		}
	})
	check(t, "dial handler may read and write only the failover's measured times in SSM", func(t *testing.T) {
		backup := a.stack(t, naming.BackupStack)
		for _, mode := range []string{"onevent", "iscomplete"} {
			fn := backup.functionNamed(t, names.Function("traffic-dial-"+mode))
			grants := backup.grants(roleOf(fn.Properties["Role"]))
			for action, resources := range grants {
				if strings.HasPrefix(action, "ssm:") && action != "ssm:GetParameter" && action != "ssm:PutParameter" {
					t.Errorf("%s may %s on %v", mode, action, resources)
				}
			}
			for _, action := range []string{"ssm:GetParameter", "ssm:PutParameter"} {
				if show(grants[action]) != show([]string{names.FailoverRecordParameterArn(backupRegion)}) {
					t.Errorf("%s %s on %v", mode, action, grants[action])
				}
			}
			if !like(fn.Properties, map[string]any{"Environment": map[string]any{"Variables": map[string]any{recoverytime.EnvFailoverRecordParameter: names.FailoverRecordParameter()}}}) {
				t.Errorf("%s environment %s, want %s=%s", mode, show(fn.Properties["Environment"]), recoverytime.EnvFailoverRecordParameter, names.FailoverRecordParameter())
			}
		}
	})
	check(t, "the dial provider waits with an isComplete handler, longer than the healthy timeout", func(t *testing.T) {
		backup := a.stack(t, naming.BackupStack)
		onEvent := backup.functionNamed(t, names.Function("traffic-dial-onevent"))
		isComplete := backup.functionNamed(t, names.Function("traffic-dial-iscomplete"))
		for fn, mode := range map[*resource]string{&onEvent: "onEvent", &isComplete: "isComplete"} {
			if !like(fn.Properties, map[string]any{"Environment": map[string]any{"Variables": map[string]any{"HANDLER": mode}}}) {
				t.Errorf("%s environment %s", mode, show(fn.Properties["Environment"]))
			}
		}
	})
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = s.(string)
		}
		return out
	}
	return nil
}
