package test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/internal/naming"
)

// Issue: processing. The aggregator's event source and grants, and the
// nightly compaction's schedule, state machine, workgroup and IAM scope.

func TestAggregator(t *testing.T) {
	a := synth(t)
	for _, tc := range []struct {
		name            string
		standby, active template
		region          string
	}{
		{"primary", a.stack(t, naming.PrimaryStack), a.stack(t, naming.PrimaryStack), primaryRegion},
		{"failover", a.stack(t, naming.BackupStack), a.stack(t, naming.BackupFailoverStack), backupRegion},
	} {
		fn := tc.standby.functionNamed(t, names.Function("aggregator"))
		check(t, tc.name+" aggregator counts by the configured key into the aggregates table", func(t *testing.T) {
			want := map[string]any{"Environment": map[string]any{"Variables": map[string]any{"TABLE_NAME": names.Table(), "AGGREGATE_KEY": "type"}}}
			if !like(fn.Properties, want) {
				t.Errorf("environment %s", show(fn.Properties["Environment"]))
			}
			grants := tc.standby.grants(roleOf(fn.Properties["Role"]))
			if show(grants["dynamodb:BatchWriteItem"]) != show([]string{names.TableArn(tc.region)}) {
				t.Errorf("dynamodb:BatchWriteItem on %v", grants["dynamodb:BatchWriteItem"])
			}
			if show(grants["kinesis:GetRecords"]) != show([]string{names.StreamArn(tc.region)}) {
				t.Errorf("kinesis:GetRecords on %v", grants["kinesis:GetRecords"])
			}
		})
		check(t, tc.name+" aggregator reads the stream in 60 s tumbling windows with bounded retries and an on-failure queue", func(t *testing.T) {
			esm := tc.active.one(t, "AWS::Lambda::EventSourceMapping", map[string]any{"TumblingWindowInSeconds": 60})
			want := map[string]any{
				"StartingPosition":           "TRIM_HORIZON",
				"ParallelizationFactor":      1,
				"BisectBatchOnFunctionError": false,
				"MaximumRetryAttempts":       10000,
				"MaximumRecordAgeInSeconds":  86400,
				"FunctionResponseTypes":      []any{"ReportBatchItemFailures"},
				"DestinationConfig":          map[string]any{"OnFailure": map[string]any{"Destination": present}},
			}
			if !like(esm.Properties, want) {
				t.Errorf("event source mapping %s", show(esm.Properties))
			}
			if !strings.Contains(render(esm.Properties["FunctionName"]), "AggregatorFunction") || !strings.Contains(render(esm.Properties["EventSourceArn"]), "Stream") {
				t.Errorf("mapping %s -> %s", render(esm.Properties["EventSourceArn"]), render(esm.Properties["FunctionName"]))
			}
			failures := render(esm.Properties["DestinationConfig"].(map[string]any)["OnFailure"].(map[string]any)["Destination"])
			if !strings.Contains(failures, "AggregatorFailures") {
				t.Errorf("on-failure destination %s", failures)
			}
		})
		check(t, tc.name+" aggregator failures alarm", func(t *testing.T) {
			tc.standby.one(t, "AWS::CloudWatch::Alarm", map[string]any{
				"MetricName": "ApproximateNumberOfMessagesVisible", "AlarmDescription": contains("aggregator gave up"), "AlarmActions": []any{present},
			})
		})
	}
}

func TestNightlyCompaction(t *testing.T) {
	a := synth(t)
	tpl := a.stack(t, naming.PrimaryStack)
	sm := tpl.one(t, "AWS::StepFunctions::StateMachine", map[string]any{"StateMachineName": names.StateMachine()})
	var definition struct {
		StartAt string
		States  map[string]map[string]any
	}
	if err := json.Unmarshal([]byte(render(sm.Properties["DefinitionString"])), &definition); err != nil {
		t.Fatalf("definition: %v", err)
	}
	check(t, "schedule starts the state machine nightly in UTC", func(t *testing.T) {
		sched := tpl.one(t, "AWS::Scheduler::Schedule", map[string]any{
			"ScheduleExpression": "cron(30 1 * * ? *)", "ScheduleExpressionTimezone": "UTC", "State": "ENABLED",
			"Target": map[string]any{"Arn": matchFunc(func(v any) bool { return refersTo(v, sm.ID) }), "Input": "{}"},
		})
		grants := tpl.grants(roleOf(sched.Properties["Target"].(map[string]any)["RoleArn"]))
		if len(grants) != 1 || show(grants["states:StartExecution"]) != show([]string{"<Ref:" + sm.ID + ">"}) {
			t.Errorf("scheduler role grants %v", grants)
		}
	})
	check(t, "state machine runs Plan, UNLOAD in the workgroup and database, Publish, with a failure state", func(t *testing.T) {
		order := []string{}
		for name := "Plan"; name != ""; {
			order = append(order, name)
			next, _ := definition.States[name]["Next"].(string)
			name = next
		}
		if strings.Join(order, ">") != "Plan>Unload>Publish" {
			t.Errorf("order %v", order)
		}
		unload := definition.States["Unload"]
		want := map[string]any{"QueryString.$": "$.plan.query", "WorkGroup": names.WorkGroup(), "QueryExecutionContext": map[string]any{"Database": names.Database()}}
		if unload["Resource"] != "arn:aws:states:::athena:startQueryExecution.sync" || !like(unload["Parameters"], want) {
			t.Errorf("Unload %s", show(unload))
		}
		for _, name := range []string{"Plan", "Unload", "Publish"} {
			if !like(definition.States[name], map[string]any{"Catch": []any{map[string]any{"Next": "CompactionFailed"}}}) {
				t.Errorf("%s does not catch into CompactionFailed", name)
			}
		}
		for _, name := range []string{"Unload", "Publish"} {
			if !like(definition.States[name], map[string]any{"Retry": []any{map[string]any{"ErrorEquals": []any{"States.ALL"}, "BackoffRate": 2, "MaxAttempts": 3}}}) {
				t.Errorf("%s retries: %s", name, show(definition.States[name]["Retry"]))
			}
		}
		if definition.States["CompactionFailed"]["Type"] != "Fail" {
			t.Error("no Fail state")
		}
	})
	check(t, "an operator can backfill a day by starting with {\"date\": ...}; without one, Plan gets \"\" (the previous day)", func(t *testing.T) {
		if definition.StartAt != "HasDate" {
			t.Fatalf("StartAt %s", definition.StartAt)
		}
		choice := definition.States["HasDate"]
		want := map[string]any{"Type": "Choice", "Default": "DefaultDate",
			"Choices": []any{map[string]any{"Variable": "$.date", "IsPresent": true, "Next": "Plan"}}}
		if !like(choice, want) {
			t.Errorf("HasDate %s", show(choice))
		}
		if !like(definition.States["DefaultDate"], map[string]any{"Type": "Pass", "Result": "", "ResultPath": "$.date", "Next": "Plan"}) {
			t.Errorf("DefaultDate %s", show(definition.States["DefaultDate"]))
		}
		if !like(definition.States["Plan"]["Parameters"], map[string]any{"action": "plan", "date.$": "$.date", "runId.$": "$$.Execution.Name"}) {
			t.Errorf("Plan %s", show(definition.States["Plan"]["Parameters"]))
		}
	})
	check(t, "state machine logs everything and traces", func(t *testing.T) {
		if !like(sm.Properties, map[string]any{"TracingConfiguration": map[string]any{"Enabled": true}, "LoggingConfiguration": map[string]any{"Level": "ALL"}}) {
			t.Errorf("%s", show(sm.Properties))
		}
	})
	check(t, "state machine IAM is scoped to the workgroup, the catalog and the buckets", func(t *testing.T) {
		grants := tpl.grants(roleOf(sm.Properties["RoleArn"]))
		results := "arn:aws:s3:::" + names.Bucket(naming.AthenaResults, primaryRegion)
		streaming := "arn:aws:s3:::" + names.Bucket(naming.Streaming, primaryRegion)
		want := map[string][]string{
			"athena:StartQueryExecution": {"arn:aws:athena:" + primaryRegion + ":" + testAccount + ":workgroup/" + names.WorkGroup()},
			// Step Functions' documented policy for startQueryExecution.sync.
			"athena:GetDataCatalog": {"arn:aws:athena:" + primaryRegion + ":" + testAccount + ":datacatalog/AwsDataCatalog"},
			"s3:GetObject":          {streaming + "/raw/*", results + "/athena/*", results + "/compaction-staging/*"},
			"s3:PutObject":          {results + "/athena/*", results + "/compaction-staging/*"},
			"glue:GetTable":         {"catalog", "database/" + names.Database(), "table/" + names.Database() + "/raw", "table/" + names.Database() + "/compacted"},
		}
		for action, resources := range want {
			got := grants[action]
			if len(got) != len(resources) {
				t.Errorf("%s on %v, want %v", action, got, resources)
				continue
			}
			for _, r := range resources {
				found := false
				for _, g := range got {
					found = found || strings.HasSuffix(g, r)
				}
				if !found {
					t.Errorf("%s lacks %s (has %v)", action, r, got)
				}
			}
		}
		for action, resources := range grants {
			for _, r := range resources {
				if r == "*" && !strings.HasPrefix(action, "logs:") && !strings.HasPrefix(action, "xray:") {
					t.Errorf("%s on *", action)
				}
			}
		}
		if len(grants["s3:PutObject"]) > 0 && strings.Contains(show(grants["s3:PutObject"]), string(naming.Batch)) {
			t.Error("Athena must not write the batch bucket directly; Publish does")
		}
	})
	check(t, "compaction Lambda writes only compacted/ and the staging prefix", func(t *testing.T) {
		fn := tpl.functionNamed(t, names.Function("compaction"))
		grants := tpl.grants(roleOf(fn.Properties["Role"]))
		batch := "arn:aws:s3:::" + names.Bucket(naming.Batch, primaryRegion)
		results := "arn:aws:s3:::" + names.Bucket(naming.AthenaResults, primaryRegion)
		if show(sorted(grants["s3:PutObject"])) != show(sorted([]string{batch + "/compacted/*", results + "/compaction-staging/*"})) {
			t.Errorf("s3:PutObject on %v", grants["s3:PutObject"])
		}
		if show(sorted(grants["s3:DeleteObject"])) != show(sorted([]string{batch + "/compacted/*", results + "/compaction-staging/*"})) {
			t.Errorf("s3:DeleteObject on %v", grants["s3:DeleteObject"])
		}
		for _, s := range tpl.statements(roleOf(fn.Properties["Role"])) {
			if like(s, map[string]any{"Action": "s3:ListBucket"}) && !like(s, map[string]any{"Condition": map[string]any{"StringLike": map[string]any{"s3:prefix": present}}}) {
				t.Errorf("ListBucket without a prefix condition: %s", show(s))
			}
		}
	})
	check(t, "Athena workgroup enforces encrypted results in the results bucket on engine v3", func(t *testing.T) {
		tpl.one(t, "AWS::Athena::WorkGroup", map[string]any{"Name": names.WorkGroup(), "WorkGroupConfiguration": map[string]any{
			"EnforceWorkGroupConfiguration": true,
			"EngineVersion":                 map[string]any{"SelectedEngineVersion": "Athena engine version 3"},
			"ResultConfiguration": map[string]any{
				"OutputLocation":          "s3://" + names.Bucket(naming.AthenaResults, primaryRegion) + "/athena/",
				"EncryptionConfiguration": map[string]any{"EncryptionOption": "SSE_S3"},
			},
		}})
	})
	check(t, "compaction failure alarms", func(t *testing.T) {
		tpl.one(t, "AWS::CloudWatch::Alarm", map[string]any{
			"MetricName": "ExecutionsFailed", "Namespace": "AWS/States", "AlarmActions": []any{present},
			"Dimensions": []any{map[string]any{"Name": "StateMachineArn", "Value": matchFunc(func(v any) bool { return refersTo(v, sm.ID) })}},
		})
	})
	check(t, "results bucket is a retained, versioned data bucket with expiring staging", func(t *testing.T) {
		b := tpl.one(t, "AWS::S3::Bucket", map[string]any{"BucketName": names.Bucket(naming.AthenaResults, primaryRegion)})
		want := map[string]any{"Rules": []any{
			map[string]any{"Prefix": "compaction-staging/", "ExpirationInDays": 7},
			map[string]any{"Prefix": "athena/", "ExpirationInDays": 7},
		}}
		if b.Raw["DeletionPolicy"] != "RetainExceptOnCreate" || !like(b.Properties["LifecycleConfiguration"], want) {
			t.Errorf("%v %s", b.Raw["DeletionPolicy"], show(b.Properties["LifecycleConfiguration"]))
		}
	})
}
