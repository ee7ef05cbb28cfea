package test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/dr-analytics/drplan/internal/naming"
)

// Issue: partition registrar wiring, in both regions for both data buckets.

func TestPartitionRegistrarWiring(t *testing.T) {
	a := synth(t)
	for stack, region := range map[string]string{naming.PrimaryStack: primaryRegion, naming.BackupStack: backupRegion} {
		tpl := a.stack(t, stack)
		fn := tpl.functionNamed(t, names.Function("partition-registrar"))
		queue := tpl.one(t, "AWS::SQS::Queue", map[string]any{"RedrivePolicy": map[string]any{"maxReceiveCount": 5}})
		routes := []map[string]string{
			{"bucket": names.Bucket(naming.Streaming, region), "prefix": "raw/", "database": names.Database(), "table": "raw"},
			{"bucket": names.Bucket(naming.Batch, region), "prefix": "compacted/", "database": names.Database(), "table": "compacted"},
		}

		check(t, stack+" routes both data prefixes in PARTITION_ROUTES", func(t *testing.T) {
			env := fn.Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
			var got []map[string]string
			if err := json.Unmarshal([]byte(env["PARTITION_ROUTES"].(string)), &got); err != nil {
				t.Fatal(err)
			}
			if show(got) != show(routes) {
				t.Errorf("routes %s, want %s", show(got), show(routes))
			}
		})
		check(t, stack+" registrar is bounded by its event source, with no reserved concurrency", func(t *testing.T) {
			// A reservation fails on accounts whose unreserved concurrency
			// would drop below 100.
			if r, ok := fn.Properties["ReservedConcurrentExecutions"]; ok {
				t.Errorf("reserved %v", r)
			}
			tpl.one(t, "AWS::Lambda::EventSourceMapping", map[string]any{
				"FunctionName":   matchFunc(func(v any) bool { return refersTo(v, fn.ID) }),
				"ScalingConfig":  map[string]any{"MaximumConcurrency": 2},
				"EventSourceArn": matchFunc(func(v any) bool { return refersTo(v, queue.ID) }),
			})
		})
		for _, route := range routes {
			check(t, stack+" notifies the queue of objects created under "+route["bucket"]+"/"+route["prefix"], func(t *testing.T) {
				bucket := tpl.one(t, "AWS::S3::Bucket", map[string]any{"BucketName": route["bucket"]})
				want := map[string]any{"QueueConfigurations": []any{map[string]any{
					"Event":  "s3:ObjectCreated:*",
					"Queue":  matchFunc(func(v any) bool { return refersTo(v, queue.ID) }),
					"Filter": map[string]any{"S3Key": map[string]any{"Rules": []any{map[string]any{"Name": "prefix", "Value": route["prefix"]}}}},
				}}}
				if !like(bucket.Properties["NotificationConfiguration"], want) {
					t.Errorf("notifications %s", show(bucket.Properties["NotificationConfiguration"]))
				}
				// S3 checks the queue policy when the notification is set.
				policy := tpl.one(t, "AWS::SQS::QueuePolicy", map[string]any{"Queues": []any{matchFunc(func(v any) bool { return refersTo(v, queue.ID) })}})
				if !like(bucket.Raw["DependsOn"], []any{policy.ID}) {
					t.Errorf("bucket DependsOn %v, want the queue policy %s", bucket.Raw["DependsOn"], policy.ID)
				}
				allow := map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
					"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": []any{"arn:aws:s3:::" + route["bucket"]}}}}
				if !like(policy.Properties["PolicyDocument"], map[string]any{"Statement": []any{allow}}) {
					t.Errorf("queue policy %s", show(policy.Properties["PolicyDocument"]))
				}
			})
		}
		check(t, stack+" consumes the queue in batches with partial batch failures", func(t *testing.T) {
			tpl.one(t, "AWS::Lambda::EventSourceMapping", map[string]any{
				"EventSourceArn":        matchFunc(func(v any) bool { return refersTo(v, queue.ID) }),
				"FunctionName":          matchFunc(func(v any) bool { return refersTo(v, fn.ID) }),
				"BatchSize":             100,
				"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
			})
		})
		check(t, stack+" Glue access is limited to the product database and its two tables", func(t *testing.T) {
			grants := tpl.grants(roleOf(fn.Properties["Role"]))
			prefix := "arn:aws:glue:" + region + ":<Ref:AWS::AccountId>:"
			want := []string{prefix + "catalog", prefix + "database/" + names.Database(), prefix + "table/" + names.Database() + "/raw", prefix + "table/" + names.Database() + "/compacted"}
			for _, action := range []string{"glue:GetTable", "glue:BatchCreatePartition"} {
				if show(sorted(grants[action])) != show(sorted(want)) {
					t.Errorf("%s on %v, want %v", action, grants[action], want)
				}
			}
			for action := range grants {
				switch action {
				case "glue:GetTable", "glue:BatchCreatePartition", "logs:CreateLogStream", "logs:PutLogEvents",
					"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage", "sqs:GetQueueAttributes":
				default:
					t.Errorf("unexpected grant %s on %v", action, grants[action])
				}
			}
		})
		check(t, stack+" alarms when messages reach the DLQ", func(t *testing.T) {
			dlqID := roleOf(queue.Properties["RedrivePolicy"].(map[string]any)["deadLetterTargetArn"])
			tpl.one(t, "AWS::CloudWatch::Alarm", map[string]any{
				"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 0,
				"Dimensions":   []any{map[string]any{"Name": "QueueName", "Value": matchFunc(func(v any) bool { return refersTo(v, dlqID) })}},
				"AlarmActions": []any{present},
			})
		})
	}
}

func sorted(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return out
}
