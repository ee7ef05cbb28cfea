package test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/constructs/readiness"
	"github.com/dr-analytics/drplan/internal/archdiagram"
	"github.com/dr-analytics/drplan/internal/drdashboard"
	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/restoretest"
)

// Issue: watching DR. BackupStack runs the readiness checks on a schedule
// and alarms on them, tests the table's restore from the vault on a
// schedule, and shows both regions on one dashboard; all of it from the
// backup region and nothing of it billed by the hour.

// alarmNamed returns an alarm by its physical name.
func (tpl template) alarmNamed(t *testing.T, name string) resource {
	t.Helper()
	return tpl.one(t, "AWS::CloudWatch::Alarm", map[string]any{"AlarmName": name})
}

func TestReadinessRunsOnASchedule(t *testing.T) {
	for _, tc := range []struct {
		config   string
		a        *assembly
		rate     string
		rpo      float64
		prefix   string
		testsOff bool
	}{
		{"default", synth(t), "rate(15 minutes)", 60, testPrefix, false},
		{"variant", synthVariant(t), "rate(5 minutes)", 30, testPrefix, true},
	} {
		tpl := tc.a.stack(t, naming.BackupStack)
		fn := tpl.functionNamed(t, names.Function("readiness"))
		check(t, tc.config+": EventBridge Scheduler invokes the readiness function at the interval, and may invoke nothing else", func(t *testing.T) {
			s := tpl.one(t, "AWS::Scheduler::Schedule", map[string]any{"Name": names.Function("readiness")})
			if s.Properties["ScheduleExpression"] != tc.rate || !refersTo(asMap(s.Properties["Target"])["Arn"], fn.ID) {
				t.Errorf("schedule %s", show(s.Properties))
			}
			role := roleOf(asMap(s.Properties["Target"])["RoleArn"])
			grants := tpl.grants(role)
			if len(grants) != 1 || len(grants["lambda:InvokeFunction"]) != 1 || !strings.Contains(grants["lambda:InvokeFunction"][0], fn.ID) {
				t.Errorf("scheduler role grants %v", grants)
			}
		})
		check(t, tc.config+": the function reads the deployed configuration and only reads AWS", func(t *testing.T) {
			env := asMap(asMap(fn.Properties["Environment"])["Variables"])
			var ctx map[string]any
			if err := json.Unmarshal([]byte(env["DR_CONTEXT"].(string)), &ctx); err != nil {
				t.Fatalf("DR_CONTEXT %v: %v", env["DR_CONTEXT"], err)
			}
			if ctx[config.KeyPrefix] != tc.prefix || ctx[config.KeyPrimaryRegion] != primaryRegion || ctx[config.KeyBackupRegion] != backupRegion ||
				ctx[config.KeyRPOTarget] != tc.rpo {
				t.Errorf("DR_CONTEXT %v", ctx)
			}
			readOnly := regexp.MustCompile(`^[a-z0-9]+:(Get|Describe|List)[A-Za-z]+$`)
			for action := range tpl.grants(roleOf(fn.Properties["Role"])) {
				if !readOnly.MatchString(action) && !strings.HasPrefix(action, "logs:") {
					t.Errorf("readiness may %s: it must only read", action)
				}
			}
		})
		check(t, tc.config+": the function may read the last failover's and failback's measured times", func(t *testing.T) {
			readable := tpl.grants(roleOf(fn.Properties["Role"]))["ssm:GetParameter"]
			for _, name := range []string{names.FailoverRecordParameter(), names.FailbackRecordParameter()} {
				// The variant's account is the deploy-time token.
				if !slices.ContainsFunc(readable, func(arn string) bool {
					return strings.HasPrefix(arn, "arn:aws:ssm:"+backupRegion+":") && strings.HasSuffix(arn, ":parameter"+name)
				}) {
					t.Errorf("ssm:GetParameter on %v lacks %s in %s", readable, name, backupRegion)
				}
			}
		})
		alarm := func(id string) resource { return tpl.alarmNamed(t, names.Prefix+"-"+id) }
		for _, want := range []struct {
			id, metric, op, missing string
			threshold               float64
			dims                    map[string]string
		}{
			{"readiness-check-failing", drmetrics.ChecksFailing, "GreaterThanOrEqualToThreshold", "breaching", 1, nil},
			{"rpo-above-target", drmetrics.EstimatedRPOMinutes, "GreaterThanThreshold", "breaching", tc.rpo, map[string]string{drmetrics.DimPath: drmetrics.PathWorst}},
			{"primary-unreachable", drmetrics.PrimaryReachable, "LessThanThreshold", "notBreaching", 1, nil},
		} {
			check(t, tc.config+": alarm "+want.id+" on "+want.metric+", missing data "+want.missing+", two of three runs", func(t *testing.T) {
				a := alarm(want.id)
				dims := []any{map[string]any{"Name": drmetrics.DimPrefix, "Value": names.Prefix}}
				for k, v := range want.dims {
					dims = append(dims, map[string]any{"Name": k, "Value": v})
				}
				period := map[string]float64{"rate(15 minutes)": 900, "rate(5 minutes)": 300}[tc.rate]
				expected := map[string]any{
					"Namespace": drmetrics.ReadinessNamespace, "MetricName": want.metric, "Dimensions": dims,
					"Threshold": want.threshold, "ComparisonOperator": want.op, "TreatMissingData": want.missing,
					"EvaluationPeriods": 3, "DatapointsToAlarm": 2, "Period": period,
					"AlarmActions": []any{present}, "OKActions": []any{present},
				}
				if !like(a.Properties, expected) || len(a.Properties["Dimensions"].([]any)) != len(dims) {
					t.Errorf("alarm %s", show(a.Properties))
				}
			})
		}
		check(t, tc.config+": the primary-unreachable alarm carries the failover runbook's first command", func(t *testing.T) {
			if d := alarm("primary-unreachable").Properties["AlarmDescription"].(string); !strings.Contains(d, readiness.FailoverCommand) {
				t.Errorf("description %q", d)
			}
		})
		check(t, tc.config+": restore test overdue alarm exists exactly when restore tests are on", func(t *testing.T) {
			found := tpl.find("AWS::CloudWatch::Alarm", map[string]any{"AlarmName": names.Prefix + "-restore-test-overdue"})
			if tc.testsOff {
				if len(found) != 0 {
					t.Errorf("restore tests are off but the overdue alarm exists")
				}
				return
			}
			// Weekly schedule: 7 days + the test's 6 h 15 min window.
			want := map[string]any{"MetricName": drmetrics.HoursSinceRestoreTest, "Threshold": 174.25, "TreatMissingData": "breaching",
				"ComparisonOperator": "GreaterThanThreshold"}
			if len(found) != 1 || !like(found[0].Properties, want) {
				t.Errorf("overdue alarms %s", show(found))
			}
		})
	}
}

func TestRestoreTestOfTheVaultCopy(t *testing.T) {
	a := synth(t)
	tpl := a.stack(t, naming.BackupStack)
	sm := tpl.one(t, "AWS::StepFunctions::StateMachine", map[string]any{"StateMachineName": restoretest.StateMachineName(testPrefix)})
	fn := tpl.functionNamed(t, names.Function("restore-test"))
	definition := render(sm.Properties["DefinitionString"])
	check(t, "state machine: start, poll every 5 minutes until the job ends, then finish; 6 hours at most", func(t *testing.T) {
		var def map[string]any
		if err := json.Unmarshal([]byte(definition), &def); err != nil {
			t.Fatalf("definition: %v\n%s", err, definition)
		}
		states := asMap(def["States"])
		if def["StartAt"] != "Start" || asMap(states["Start"])["Next"] != "WaitForRestore" || asMap(states["WaitForRestore"])["Seconds"] != 300.0 ||
			asMap(states["WaitForRestore"])["Next"] != "Check" || asMap(states["Check"])["Next"] != "RestoreEnded" || def["TimeoutSeconds"] != 21600.0 {
			t.Errorf("definition %s", definition)
		}
		choice := show(states["RestoreEnded"])
		if !strings.Contains(choice, `{"BooleanEquals":true,"Next":"Finish","Variable":"$.job.ended"}`) {
			t.Errorf("choice does not finish when the function says the job ended: %s", choice)
		}
		if asMap(states["RestoreEnded"])["Default"] != "WaitForRestore" || asMap(states["Finish"])["End"] != true {
			t.Errorf("loop %s, finish %s", choice, show(states["Finish"]))
		}
	})
	check(t, "weekly schedule in UTC starts the state machine", func(t *testing.T) {
		s := tpl.one(t, "AWS::Scheduler::Schedule", map[string]any{"Name": restoretest.StateMachineName(testPrefix)})
		if s.Properties["ScheduleExpression"] != "cron(0 6 ? * SUN *)" || s.Properties["ScheduleExpressionTimezone"] != "UTC" ||
			!refersTo(asMap(s.Properties["Target"])["Arn"], sm.ID) {
			t.Errorf("schedule %s", show(s.Properties))
		}
	})
	check(t, "the variant (restoreTestSchedule=off) keeps the state machine for manual runs but has no schedule", func(t *testing.T) {
		v := synthVariant(t).stack(t, naming.BackupStack)
		if len(v.find("AWS::Scheduler::Schedule", map[string]any{"Name": restoretest.StateMachineName(testPrefix)})) != 0 {
			t.Error("restore test scheduled although off")
		}
		v.one(t, "AWS::StepFunctions::StateMachine", map[string]any{"StateMachineName": restoretest.StateMachineName(testPrefix)})
	})
	grants := tpl.grants(roleOf(fn.Properties["Role"]))
	throwaway := "arn:aws:dynamodb:" + backupRegion + ":" + testAccount + ":table/" + restoretest.TablePrefix(testPrefix) + "*"
	check(t, "validation function: restores from the vault, reads and deletes only throwaway tables, records in one parameter", func(t *testing.T) {
		want := map[string][]string{
			"backup:ListRecoveryPointsByBackupVault": {names.BackupVaultArn(backupRegion)},
			"backup:StartRestoreJob":                 {"arn:aws:backup:" + backupRegion + ":" + testAccount + ":recovery-point:*"},
			"backup:DescribeRestoreJob":              {"*"},
			"dynamodb:DescribeTable":                 {throwaway},
			"dynamodb:Scan":                          {throwaway},
			"dynamodb:DeleteTable":                   {throwaway},
			"ssm:GetParameter":                       {"arn:aws:ssm:" + backupRegion + ":" + testAccount + ":parameter" + restoretest.RecordParameter(testPrefix)},
			"ssm:PutParameter":                       {"arn:aws:ssm:" + backupRegion + ":" + testAccount + ":parameter" + restoretest.RecordParameter(testPrefix)},
		}
		for action, resources := range want {
			if show(grants[action]) != show(resources) {
				t.Errorf("%s on %v, want %v", action, grants[action], resources)
			}
		}
		for action, resources := range grants {
			for _, r := range resources {
				if strings.Contains(r, "table/"+names.Table()) {
					t.Errorf("%s on the aggregates table %s: the test must never touch it", action, r)
				}
			}
		}
		if len(grants["iam:PassRole"]) != 1 || !strings.Contains(grants["iam:PassRole"][0], "RestoreRole") {
			t.Errorf("iam:PassRole on %v, want the vault's restore role only", grants["iam:PassRole"])
		}
	})
	for _, want := range []struct {
		id, metric, op string
		threshold      float64
	}{
		{"restore-test-failed", drmetrics.ValidationPassed, "LessThanThreshold", 1},
		{"restore-slower-than-rto", drmetrics.RestoreMinutes, "GreaterThanThreshold", 60},
	} {
		check(t, "alarm "+want.id, func(t *testing.T) {
			a := tpl.alarmNamed(t, names.Prefix+"-"+want.id)
			expected := map[string]any{"Namespace": drmetrics.RestoreTestNamespace, "MetricName": want.metric, "Threshold": want.threshold,
				"ComparisonOperator": want.op, "TreatMissingData": "notBreaching", "Period": 86400, "AlarmActions": []any{present}}
			if !like(a.Properties, expected) {
				t.Errorf("alarm %s", show(a.Properties))
			}
		})
	}
	check(t, "alarm on failed, timed out or aborted executions", func(t *testing.T) {
		a := tpl.alarmNamed(t, names.Prefix+"-restore-test-execution-failed")
		body := show(a.Properties["Metrics"])
		for _, m := range []string{"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"} {
			if !strings.Contains(body, `"MetricName":"`+m+`"`) {
				t.Errorf("execution alarm lacks %s: %s", m, body)
			}
		}
	})
}

func TestBackupStackStaysFreeWhileIdle(t *testing.T) {
	for _, a := range []*assembly{synth(t), synthVariant(t)} {
		for _, r := range a.stack(t, naming.BackupStack).resources() {
			if slices.Contains(hourlyBilled, r.Type) {
				t.Errorf("BackupStack has %s (%s), billed by the hour", r.ID, r.Type)
			}
		}
	}
}

// dashboardBody parses a dashboard body from the template: literal text is
// kept, and each intrinsic (an ARN, an id known at deploy time) becomes a
// placeholder "@@n@@" whose intrinsic is intrinsics[n].
func dashboardBody(t *testing.T, v any) (map[string]any, []any) {
	t.Helper()
	var b strings.Builder
	var intrinsics []any
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			b.WriteString(x)
		case map[string]any:
			if join, ok := x["Fn::Join"].([]any); ok && join[0] == "" {
				for _, p := range join[1].([]any) {
					walk(p)
				}
				return
			}
			fmt.Fprintf(&b, "@@%d@@", len(intrinsics))
			intrinsics = append(intrinsics, x)
		default:
			t.Fatalf("dashboard body part %s", show(v))
		}
	}
	walk(v)
	var body map[string]any
	if err := json.Unmarshal([]byte(b.String()), &body); err != nil {
		t.Fatalf("dashboard body is not JSON: %v\n%s", err, b.String())
	}
	return body, intrinsics
}

func TestDashboard(t *testing.T) {
	a := synth(t)
	backup := a.stack(t, naming.BackupStack)
	byRegion := map[string][]template{
		primaryRegion: {a.stack(t, naming.PrimaryStack)},
		backupRegion:  {backup, a.stack(t, naming.BackupFailoverStack)},
	}
	d := backup.one(t, "AWS::CloudWatch::Dashboard", map[string]any{"DashboardName": drmetrics.DashboardName(testPrefix)})
	body, intrinsics := dashboardBody(t, d.Properties["DashboardBody"])
	placeholder := regexp.MustCompile(`^@@(\d+)@@$`)
	intrinsic := func(s string) any {
		m := placeholder.FindStringSubmatch(s)
		if m == nil {
			return nil
		}
		var i int
		fmt.Sscan(m[1], &i)
		return intrinsics[i]
	}
	check(t, "the dashboard URL for the backup region is a stack output", func(t *testing.T) {
		out := asMap(asMap(backup.body["Outputs"])["DashboardUrl"])
		if out["Value"] != drmetrics.DashboardURL(testPrefix, backupRegion) || !strings.Contains(out["Value"].(string), "region="+backupRegion) {
			t.Errorf("outputs %s", show(backup.body["Outputs"]))
		}
	})
	widgets := body["widgets"].([]any)
	var metrics int
	for _, w := range widgets {
		widget := w.(map[string]any)
		props := asMap(widget["properties"])
		switch widget["type"] {
		case "alarm":
			check(t, "the alarm widget shows every DR alarm of BackupStack's watchers", func(t *testing.T) {
				var shown []string
				for _, arn := range props["alarms"].([]any) {
					shown = append(shown, render(intrinsic(arn.(string))))
				}
				for _, r := range backup.ofType("AWS::CloudWatch::Alarm") {
					if strings.HasPrefix(r.ID, "Readiness") || strings.HasPrefix(r.ID, "RestoreTest") {
						if !slices.Contains(shown, "<"+r.ID+".Arn>") {
							t.Errorf("alarm %s missing from the dashboard (shown %v)", r.ID, shown)
						}
					}
				}
			})
			continue
		case "text":
			continue
		}
		title := props["title"].(string)
		if props["region"] == nil || placeholder.MatchString(fmt.Sprint(props["region"])) {
			t.Errorf("widget %q has no literal region: %v", title, props["region"])
		}
		for _, line := range props["metrics"].([]any) {
			metrics++
			parts := line.([]any)
			options := parts[len(parts)-1].(map[string]any)
			region, _ := options["region"].(string)
			what := fmt.Sprint(parts[0], " ", parts[min(1, len(parts)-1)])
			if expr, ok := options["expression"].(string); ok {
				what = strings.SplitN(expr, "'", 3)[1]
			}
			check(t, fmt.Sprintf("widget %q: %s in %s is emitted there", title, what, region), func(t *testing.T) {
				if region == "" {
					t.Fatalf("metric without an explicit region")
				}
				if expr, ok := options["expression"].(string); ok {
					searchEmitter(t, expr, region, byRegion, intrinsic, backup)
					return
				}
				dims := map[string]string{}
				for i := 2; i+1 < len(parts)-1; i += 2 {
					dims[parts[i].(string)] = parts[i+1].(string)
				}
				metricEmitter(t, parts[0].(string), parts[1].(string), dims, region, byRegion, intrinsic)
			})
		}
	}
	if metrics < 20 {
		t.Errorf("only %d metrics on the dashboard", metrics)
	}
	check(t, "the dashboard shows every readiness and restore test metric the alarms watch", func(t *testing.T) {
		text := show(body)
		for _, name := range []string{drmetrics.EstimatedRPOMinutes, drmetrics.ChecksFailing, drmetrics.PrimaryReachable, drmetrics.HoursSinceRestoreTest,
			drmetrics.RecoveryPointAgeMinutes, drmetrics.RestoreMinutes, drmetrics.ValidationPassed, drmetrics.ReplicationLatencySeconds} {
			if !strings.Contains(text, `"`+name+`"`) {
				t.Errorf("dashboard lacks %s", name)
			}
		}
		for _, threshold := range []string{`{"label":"rpoTargetMinutes","value":60}`, `{"label":"rtoTargetMinutes","value":60}`, `{"label":"restore test overdue (h)","value":174.25}`} {
			if !strings.Contains(text, threshold) {
				t.Errorf("dashboard lacks the threshold %s", threshold)
			}
		}
	})
}

// metricEmitter checks that the resource emitting a metric exists where the
// widget reads it, as AWS documents each namespace's dimensions.
func metricEmitter(t *testing.T, namespace, name string, dims map[string]string, region string, byRegion map[string][]template, intrinsic func(string) any) {
	t.Helper()
	find := func(typ string, want map[string]any) bool {
		for _, tpl := range byRegion[region] {
			if len(tpl.find(typ, want)) > 0 {
				return true
			}
		}
		return false
	}
	switch namespace {
	case "AWS/Kinesis": // dimension StreamName (Kinesis Data Streams: "Monitoring ... with CloudWatch")
		if !find("AWS::Kinesis::Stream", map[string]any{"Name": dims["StreamName"]}) || len(dims) != 1 {
			t.Errorf("no stream %v in %s", dims, region)
		}
	case "AWS/Firehose": // dimension DeliveryStreamName; DeliveryToS3.* only for S3 destinations
		if !find("AWS::KinesisFirehose::DeliveryStream", map[string]any{"DeliveryStreamName": dims["DeliveryStreamName"], "ExtendedS3DestinationConfiguration": present}) || len(dims) != 1 {
			t.Errorf("no delivery stream to S3 %v in %s", dims, region)
		}
	case "AWS/S3": // replication metrics: SourceBucket, DestinationBucket, RuleId, only with replication metrics on, in the source's region
		rule := map[string]any{"Id": dims["RuleId"], "Destination": map[string]any{
			"Bucket": "arn:aws:s3:::" + dims["DestinationBucket"], "Metrics": map[string]any{"Status": "Enabled"}}}
		if !find("AWS::S3::Bucket", map[string]any{"BucketName": dims["SourceBucket"], "ReplicationConfiguration": map[string]any{"Rules": []any{rule}}}) || len(dims) != 3 {
			t.Errorf("no replication rule with metrics %v from a bucket in %s", dims, region)
		}
	case "AWS/SQS": // dimension QueueName
		ref := show(intrinsic(dims["QueueName"]))
		ok := false
		for _, tpl := range byRegion[region] {
			for _, q := range tpl.ofType("AWS::SQS::Queue") {
				ok = ok || ref == show(map[string]any{"Fn::GetAtt": []any{q.ID, "QueueName"}})
			}
		}
		if !ok {
			t.Errorf("QueueName %s is no queue in %s", ref, region)
		}
	case drmetrics.ReadinessNamespace, drmetrics.RestoreTestNamespace:
		want, listed := drmetrics.Published[namespace][name]
		var got []string
		for k := range dims {
			got = append(got, k)
		}
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
		if !listed || show(got) != show(want) || dims[drmetrics.DimPrefix] != testPrefix {
			t.Errorf("%s %s %v: published with %v", namespace, name, dims, want)
		}
		if !find("AWS::Lambda::Function", map[string]any{"FunctionName": names.Function(drmetrics.Emitter[namespace])}) {
			t.Errorf("no %s function in %s publishes %s", drmetrics.Emitter[namespace], region, namespace)
		}
	default:
		t.Errorf("no emitter rule for namespace %s", namespace)
	}
}

var (
	searchSchema = regexp.MustCompile(`^SEARCH\('\{([^}]*)\} MetricName="([^"]+)" (\w+)=("?)([^"' ]+)"?', '(\w+)', (\d+)\)$`)
)

// searchEmitter checks a SEARCH expression: its schema and the resource
// its search term names.
func searchEmitter(t *testing.T, expr, region string, byRegion map[string][]template, intrinsic func(string) any, backup template) {
	t.Helper()
	m := searchSchema.FindStringSubmatch(expr)
	if m == nil {
		t.Fatalf("search expression %q does not have the expected form", expr)
	}
	schema, term, value := strings.Split(m[1], ","), m[3], m[5]
	switch schema[0] {
	case "AWS/ApplicationELB": // dimension LoadBalancer = app/<name>/<id>; the name matches in part
		if show(schema) != show([]string{"AWS/ApplicationELB", "LoadBalancer"}) || term != "LoadBalancer" || m[4] != "" {
			t.Errorf("schema %v term %s", schema, term)
		}
		ok := false
		for _, tpl := range byRegion[region] {
			ok = ok || len(tpl.find("AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{"Name": value, "Type": "application"})) > 0
		}
		if !ok {
			t.Errorf("no application load balancer named %s in %s", value, region)
		}
	case "AWS/GlobalAccelerator": // published in us-west-2; NewFlowCount by Accelerator, Listener, EndpointGroup
		if region != drdashboard.GlobalAcceleratorMetricsRegion || m[2] != "NewFlowCount" || term != "Accelerator" {
			t.Errorf("accelerator search %q in %s", expr, region)
		}
		accelerator := backup.one(t, "AWS::GlobalAccelerator::Accelerator", map[string]any{})
		want := map[string]any{"Fn::Select": []any{1, map[string]any{"Fn::Split": []any{"/", map[string]any{"Fn::GetAtt": []any{accelerator.ID, "AcceleratorArn"}}}}}}
		if show(intrinsic(value)) != show(want) {
			t.Errorf("Accelerator=%s is %s, want the id in the accelerator's ARN", value, show(intrinsic(value)))
		}
	default:
		t.Errorf("no emitter rule for search %q", expr)
	}
}

// TestReadmeDiagramIsTheSynthesizedApp keeps the README's architecture
// diagram equal to the one drawn from the app these tests synthesize.
func TestReadmeDiagramIsTheSynthesizedApp(t *testing.T) {
	stacks, err := archdiagram.ReadAssembly(synth(t).dir)
	if err != nil {
		t.Fatal(err)
	}
	want := archdiagram.Block(archdiagram.Mermaid(stacks, testPrefix))
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if got := archdiagram.Extract(string(readme)); got != want {
		t.Errorf("README.md's architecture diagram differs from the synthesized app: run `npx aws-cdk@2 synth --quiet && go run ./cmd/archdiagram -write README.md`.\nwant:\n%s\ngot:\n%s", want, got)
	}
}

// A failing Check (AWS Backup throttling, say) still reaches Finish, which
// deletes the throwaway table; the function may find tables earlier tests
// left behind.
func TestRestoreTestAlwaysReachesFinish(t *testing.T) {
	tpl := synth(t).stack(t, naming.BackupStack)
	sm := tpl.one(t, "AWS::StepFunctions::StateMachine", map[string]any{"StateMachineName": restoretest.StateMachineName(testPrefix)})
	definition := render(sm.Properties["DefinitionString"])
	for _, want := range []string{`"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Finish"}]`, `{"ErrorEquals":["States.TaskFailed"],"IntervalSeconds":30,"MaxAttempts":3,"BackoffRate":2}`} {
		if !strings.Contains(definition, want) {
			t.Errorf("definition lacks %s", want)
		}
	}
	fn := tpl.functionNamed(t, names.Function("restore-test"))
	grants := tpl.grants(roleOf(fn.Properties["Role"]))
	if show(grants["dynamodb:ListTables"]) != show([]string{"*"}) || len(grants["dynamodb:Query"]) != 1 || !strings.Contains(grants["dynamodb:Query"][0], "table/"+testPrefix+"-restore-test-") {
		t.Errorf("ListTables on %v, Query on %v", grants["dynamodb:ListTables"], grants["dynamodb:Query"])
	}
}
