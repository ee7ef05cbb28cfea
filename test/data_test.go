package test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/internal/naming"
)

var names = naming.Names{Prefix: testPrefix, Account: testAccount}

// Issue: foundation. Every property of the data tier, per region.

func TestStacksAndRegions(t *testing.T) {
	a := synth(t)
	for stack, region := range map[string]string{naming.BackupStack: backupRegion, naming.PrimaryStack: primaryRegion} {
		check(t, stack+" deploys to "+region, func(t *testing.T) {
			env, _ := a.artifact(t, stack)["environment"].(string)
			if !strings.HasSuffix(env, "/"+region) {
				t.Errorf("environment %q, want region %s", env, region)
			}
		})
		check(t, stack+" has termination protection", func(t *testing.T) {
			props := a.artifact(t, stack)["properties"].(map[string]any)
			if props["terminationProtection"] != true {
				t.Errorf("terminationProtection = %v", props["terminationProtection"])
			}
		})
	}
	check(t, "PrimaryStack depends on BackupStack", func(t *testing.T) {
		deps, _ := a.artifact(t, naming.PrimaryStack)["dependencies"].([]any)
		if !like(deps, []any{naming.BackupStack}) {
			t.Errorf("dependencies %v", deps)
		}
	})
}

func TestBuckets(t *testing.T) {
	a := synth(t)
	buckets := map[string][]string{
		naming.PrimaryStack: {names.Bucket(naming.Streaming, primaryRegion), names.Bucket(naming.Batch, primaryRegion), accessLogs},
		naming.BackupStack:  {names.Bucket(naming.Streaming, backupRegion), names.Bucket(naming.Batch, backupRegion), accessLogs},
	}
	for stack, wanted := range buckets {
		tpl := a.stack(t, stack)
		for _, name := range wanted {
			b := bucketNamed(t, tpl, name)
			check(t, name+" is versioned", func(t *testing.T) {
				if !like(b.Properties, map[string]any{"VersioningConfiguration": map[string]any{"Status": "Enabled"}}) {
					t.Error(show(b.Properties["VersioningConfiguration"]))
				}
			})
			check(t, name+" is encrypted", func(t *testing.T) {
				want := map[string]any{"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{
					map[string]any{"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}}}}}
				if !like(b.Properties, want) {
					t.Error(show(b.Properties["BucketEncryption"]))
				}
			})
			check(t, name+" blocks public access", func(t *testing.T) {
				want := map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true}
				if !like(b.Properties["PublicAccessBlockConfiguration"], want) {
					t.Error(show(b.Properties["PublicAccessBlockConfiguration"]))
				}
			})
			check(t, stack+" "+name+" is retained on update and delete", func(t *testing.T) {
				want := "RetainExceptOnCreate"
				if name == accessLogs {
					want = "Retain" // ELB's test object would make a rollback fail
				}
				if b.Raw["DeletionPolicy"] != want || b.Raw["UpdateReplacePolicy"] != "Retain" {
					t.Errorf("DeletionPolicy %v UpdateReplacePolicy %v, want %s and Retain", b.Raw["DeletionPolicy"], b.Raw["UpdateReplacePolicy"], want)
				}
			})
			check(t, name+" expires noncurrent versions after 30 days", func(t *testing.T) {
				want := map[string]any{"Rules": []any{map[string]any{"NoncurrentVersionExpiration": map[string]any{"NoncurrentDays": 30}, "Status": "Enabled"}}}
				if !like(b.Properties["LifecycleConfiguration"], want) {
					t.Error(show(b.Properties["LifecycleConfiguration"]))
				}
			})
			check(t, name+" denies requests without TLS", func(t *testing.T) {
				policy := tpl.one(t, "AWS::S3::BucketPolicy", map[string]any{"Bucket": matchFunc(func(v any) bool { return refersTo(v, b.ID) })})
				deny := map[string]any{"Effect": "Deny", "Action": "s3:*", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}}
				if !like(policy.Properties["PolicyDocument"], map[string]any{"Statement": []any{deny}}) {
					t.Error(show(policy.Properties["PolicyDocument"]))
				}
			})
			if name != accessLogs {
				check(t, name+" logs access to the region's log bucket", func(t *testing.T) {
					logs := bucketNamed(t, tpl, accessLogs)
					cfg, _ := b.Properties["LoggingConfiguration"].(map[string]any)
					if !refersTo(cfg["DestinationBucketName"], logs.ID) || cfg["LogFilePrefix"] != "s3/"+name+"/" {
						t.Errorf("LoggingConfiguration %s", show(cfg))
					}
				})
			}
		}
	}
	check(t, "access-log bucket accepts ALB logs for failover load balancers", func(t *testing.T) {
		tpl := a.stack(t, naming.BackupStack)
		logs := bucketNamed(t, tpl, accessLogs)
		policy := tpl.one(t, "AWS::S3::BucketPolicy", map[string]any{"Bucket": matchFunc(func(v any) bool { return refersTo(v, logs.ID) })})
		want := map[string]any{"Effect": "Allow", "Action": "s3:PutObject", "Resource": contains("/alb/AWSLogs/" + testAccount + "/*")}
		if !like(policy.Properties["PolicyDocument"], map[string]any{"Statement": []any{want}}) {
			t.Error(show(policy.Properties["PolicyDocument"]))
		}
	})
}

// accessLogs stands for a region's access-log bucket, the one bucket
// CloudFormation names.
const accessLogs = "the access-log bucket"

// bucketNamed finds a bucket by its name, or the access-log bucket.
func bucketNamed(t *testing.T, tpl template, name string) resource {
	t.Helper()
	if name == accessLogs {
		return tpl.one(t, "AWS::S3::Bucket", map[string]any{"BucketName": absent})
	}
	return tpl.one(t, "AWS::S3::Bucket", map[string]any{"BucketName": name})
}

func regionOf(stack string) string {
	if stack == naming.PrimaryStack {
		return primaryRegion
	}
	return backupRegion
}

func TestCrossRegionReplication(t *testing.T) {
	a := synth(t)
	tpl := a.stack(t, naming.PrimaryStack)
	for _, p := range []naming.Purpose{naming.Streaming, naming.Batch} {
		source := names.Bucket(p, primaryRegion)
		replica := names.Bucket(p, backupRegion)
		ruleID := string(p) + "-to-" + backupRegion
		b := tpl.one(t, "AWS::S3::Bucket", map[string]any{"BucketName": source})
		rc, _ := b.Properties["ReplicationConfiguration"].(map[string]any)
		rules, _ := rc["Rules"].([]any)
		check(t, source+" has one V2 rule to "+replica, func(t *testing.T) {
			if len(rules) != 1 {
				t.Fatalf("rules: %s", show(rules))
			}
			want := map[string]any{
				"Id": ruleID, "Status": "Enabled", "Priority": 1,
				"Filter":                  map[string]any{"Prefix": ""},
				"Destination":             map[string]any{"Bucket": "arn:aws:s3:::" + replica},
				"DeleteMarkerReplication": map[string]any{"Status": "Disabled"},
			}
			if !like(rules[0], want) {
				t.Errorf("rule %s", show(rules[0]))
			}
		})
		check(t, source+" replicates with RTC and metrics at 15 minutes", func(t *testing.T) {
			want := map[string]any{"Destination": map[string]any{
				"ReplicationTime": map[string]any{"Status": "Enabled", "Time": map[string]any{"Minutes": 15}},
				"Metrics":         map[string]any{"Status": "Enabled", "EventThreshold": map[string]any{"Minutes": 15}},
			}}
			if len(rules) != 1 || !like(rules[0], want) {
				t.Errorf("rules %s", show(rules))
			}
		})
		check(t, source+" replication role is least privilege", func(t *testing.T) {
			roleRef, _ := rc["Role"].(map[string]any)
			att, _ := roleRef["Fn::GetAtt"].([]any)
			if len(att) == 0 {
				t.Fatalf("role %s", show(rc["Role"]))
			}
			stmts := tpl.statements(att[0].(string))
			allowed := map[string]string{
				"s3:GetReplicationConfiguration":    "arn:aws:s3:::" + source,
				"s3:ListBucket":                     "arn:aws:s3:::" + source,
				"s3:GetObjectVersionForReplication": "arn:aws:s3:::" + source + "/*",
				"s3:GetObjectVersionAcl":            "arn:aws:s3:::" + source + "/*",
				"s3:GetObjectVersionTagging":        "arn:aws:s3:::" + source + "/*",
				"s3:ReplicateObject":                "arn:aws:s3:::" + replica + "/*",
				"s3:ReplicateTags":                  "arn:aws:s3:::" + replica + "/*",
			}
			seen := map[string]bool{}
			for _, s := range stmts {
				for _, action := range actions(s) {
					want, ok := allowed[action]
					if !ok || s["Resource"] != want {
						t.Errorf("unexpected grant %s on %v", action, s["Resource"])
					}
					seen[action] = true
				}
			}
			for action := range allowed {
				if !seen[action] {
					t.Errorf("missing %s", action)
				}
			}
		})
		for metric, threshold := range map[string]int{"ReplicationLatency": 900, "OperationsFailedReplication": 0} {
			check(t, fmt.Sprintf("%s alarms on %s", ruleID, metric), func(t *testing.T) {
				alarm := tpl.one(t, "AWS::CloudWatch::Alarm", map[string]any{
					"Namespace": "AWS/S3", "MetricName": metric, "Threshold": threshold,
					"Dimensions": []any{
						map[string]any{"Name": "SourceBucket", "Value": source},
						map[string]any{"Name": "DestinationBucket", "Value": replica},
						map[string]any{"Name": "RuleId", "Value": ruleID},
					},
				})
				topic := tpl.one(t, "AWS::SNS::Topic", map[string]any{"TopicName": testPrefix + "-alarms"})
				if actions, _ := alarm.Properties["AlarmActions"].([]any); len(actions) != 1 || !refersTo(actions[0], topic.ID) {
					t.Errorf("AlarmActions %s", show(alarm.Properties["AlarmActions"]))
				}
			})
		}
	}
	check(t, "replica buckets do not replicate further", func(t *testing.T) {
		for _, b := range a.stack(t, naming.BackupStack).ofType("AWS::S3::Bucket") {
			if b.Properties["ReplicationConfiguration"] != nil {
				t.Errorf("%s replicates", b.ID)
			}
		}
	})
}

func TestAlarmTopic(t *testing.T) {
	a := synth(t)
	for _, stack := range []string{naming.PrimaryStack, naming.BackupStack} {
		tpl := a.stack(t, stack)
		topic := tpl.one(t, "AWS::SNS::Topic", map[string]any{"TopicName": testPrefix + "-alarms"})
		check(t, stack+" alarm topic is encrypted with a rotating key CloudWatch may use", func(t *testing.T) {
			keyRef, _ := topic.Properties["KmsMasterKeyId"].(map[string]any)
			att, _ := keyRef["Fn::GetAtt"].([]any)
			if len(att) == 0 {
				t.Fatalf("KmsMasterKeyId %s", show(topic.Properties["KmsMasterKeyId"]))
			}
			key := tpl.byID(t, att[0].(string))
			if key.Properties["EnableKeyRotation"] != true {
				t.Error("key rotation off")
			}
			cw := map[string]any{"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"}, "Action": []any{"kms:Decrypt", "kms:GenerateDataKey"}}
			if !like(key.Properties["KeyPolicy"], map[string]any{"Statement": []any{cw}}) {
				t.Errorf("key policy %s", show(key.Properties["KeyPolicy"]))
			}
		})
		check(t, stack+" alarm topic lets CloudWatch alarms of this account publish over TLS", func(t *testing.T) {
			policy := tpl.one(t, "AWS::SNS::TopicPolicy", map[string]any{"Topics": []any{matchFunc(func(v any) bool { return refersTo(v, topic.ID) })}})
			allow := map[string]any{
				"Effect": "Allow", "Action": "sns:Publish",
				"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
				"Resource":  matchFunc(func(v any) bool { return refersTo(v, topic.ID) }),
				"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": present}, "ArnLike": map[string]any{"aws:SourceArn": contains(":alarm:*")}},
			}
			deny := map[string]any{"Effect": "Deny", "Action": "sns:Publish", "Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}}
			if !like(policy.Properties["PolicyDocument"], map[string]any{"Statement": []any{allow, deny}}) {
				t.Errorf("topic policy %s", show(policy.Properties["PolicyDocument"]))
			}
		})
		check(t, stack+" alarm e-mail subscription when configured", func(t *testing.T) {
			tpl.one(t, "AWS::SNS::Subscription", map[string]any{"Protocol": "email", "Endpoint": "ops@example.com",
				"TopicArn": matchFunc(func(v any) bool { return refersTo(v, topic.ID) })})
		})
	}
}

func TestAggregatesTable(t *testing.T) {
	a := synth(t)
	tpl := a.stack(t, naming.PrimaryStack)
	table := tpl.one(t, "AWS::DynamoDB::Table", map[string]any{"TableName": names.Table()})
	cases := map[string]map[string]any{
		"partition and sort key": {"KeySchema": []any{
			map[string]any{"AttributeName": "pk", "KeyType": "HASH"},
			map[string]any{"AttributeName": "sk", "KeyType": "RANGE"}}},
		"on-demand billing":      {"BillingMode": "PAY_PER_REQUEST"},
		"point-in-time recovery": {"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true}},
		"deletion protection":    {"DeletionProtectionEnabled": true},
		"encryption with KMS":    {"SSESpecification": map[string]any{"SSEEnabled": true, "SSEType": matchFunc(func(v any) bool { return v == nil || v == "KMS" })}},
	}
	for name, want := range cases {
		check(t, "aggregates table has "+name, func(t *testing.T) {
			if !like(table.Properties, want) {
				t.Errorf("want %s in %s", show(want), show(table.Properties))
			}
		})
	}
	check(t, "aggregates table is retained on update and delete", func(t *testing.T) {
		if table.Raw["DeletionPolicy"] != "RetainExceptOnCreate" || table.Raw["UpdateReplacePolicy"] != "Retain" {
			t.Errorf("DeletionPolicy %v UpdateReplacePolicy %v", table.Raw["DeletionPolicy"], table.Raw["UpdateReplacePolicy"])
		}
	})
	check(t, "the backup region has no table until failover", func(t *testing.T) {
		if n := len(a.stack(t, naming.BackupStack).ofType("AWS::DynamoDB::Table")); n != 0 {
			t.Errorf("%d tables", n)
		}
	})
}

func TestTableBackups(t *testing.T) {
	a := synth(t)
	primary := a.stack(t, naming.PrimaryStack)
	backup := a.stack(t, naming.BackupStack)
	plan := primary.one(t, "AWS::Backup::BackupPlan", map[string]any{})
	rules, _ := plan.Properties["BackupPlan"].(map[string]any)["BackupPlanRule"].([]any)
	tiers := []struct {
		name, rule, schedule string
		days                 int
	}{
		{"daily recovery points are kept 35 days", "daily-copied-to-backup-region", "cron(0 0 * * ? *)", 35},
		// Hourly full copies kept 35 days would be 840 per vault.
		{"hourly recovery points are kept 2 days and skip midnight", "every-1h-copied-to-backup-region", "cron(0 1/1 * * ? *)", 2},
	}
	for _, tier := range tiers {
		check(t, "backup plan: "+tier.name+", in both regions", func(t *testing.T) {
			want := map[string]any{
				"RuleName": tier.rule, "ScheduleExpression": tier.schedule,
				"StartWindowMinutes": 60, "CompletionWindowMinutes": 120,
				"Lifecycle": map[string]any{"DeleteAfterDays": tier.days},
				"CopyActions": []any{map[string]any{
					"DestinationBackupVaultArn": names.BackupVaultArn(backupRegion),
					"Lifecycle":                 map[string]any{"DeleteAfterDays": tier.days},
				}},
			}
			if len(rules) != len(tiers) || !slices.ContainsFunc(rules, func(r any) bool { return like(r, want) }) {
				t.Errorf("want a rule like %s in %s", show(want), show(rules))
			}
		})
	}
	check(t, "daily-only backups have one rule", func(t *testing.T) {
		variant := synthVariant(t).stack(t, naming.PrimaryStack).one(t, "AWS::Backup::BackupPlan", map[string]any{})
		rules, _ := variant.Properties["BackupPlan"].(map[string]any)["BackupPlanRule"].([]any)
		if len(rules) != 1 || !like(rules[0], map[string]any{"ScheduleExpression": "cron(0 0 * * ? *)", "Lifecycle": map[string]any{"DeleteAfterDays": 35}}) {
			t.Errorf("rules %s", show(rules))
		}
	})
	check(t, "backup selection names the aggregates table", func(t *testing.T) {
		table := primary.one(t, "AWS::DynamoDB::Table", map[string]any{"TableName": names.Table()})
		sel := primary.one(t, "AWS::Backup::BackupSelection", map[string]any{})
		resources, _ := sel.Properties["BackupSelection"].(map[string]any)["Resources"].([]any)
		if len(resources) != 1 || !strings.Contains(show(resources[0]), table.ID) {
			t.Errorf("resources %s", show(resources))
		}
	})
	for stack, tpl := range map[string]template{naming.PrimaryStack: primary, naming.BackupStack: backup} {
		check(t, stack+" vault refuses manual deletion and is retained", func(t *testing.T) {
			vault := tpl.one(t, "AWS::Backup::BackupVault", map[string]any{"BackupVaultName": names.BackupVault()})
			deny := map[string]any{"Effect": "Deny", "Action": []any{"backup:DeleteRecoveryPoint"}}
			if !like(vault.Properties["AccessPolicy"], map[string]any{"Statement": []any{deny}}) {
				t.Errorf("AccessPolicy %s", show(vault.Properties["AccessPolicy"]))
			}
			if vault.Raw["DeletionPolicy"] != "RetainExceptOnCreate" || vault.Raw["UpdateReplacePolicy"] != "Retain" {
				t.Errorf("DeletionPolicy %v UpdateReplacePolicy %v", vault.Raw["DeletionPolicy"], vault.Raw["UpdateReplacePolicy"])
			}
		})
	}
	check(t, "backup region has a restore role for AWS Backup", func(t *testing.T) {
		backup.one(t, "AWS::IAM::Role", map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{"Principal": map[string]any{"Service": "backup.amazonaws.com"}}}},
			"ManagedPolicyArns":        []any{contains("AWSBackupServiceRolePolicyForRestores")},
		})
	})
}

func TestGlueCatalog(t *testing.T) {
	a := synth(t)
	for stack, region := range map[string]string{naming.PrimaryStack: primaryRegion, naming.BackupStack: backupRegion} {
		tpl := a.stack(t, stack)
		check(t, stack+" has the product database", func(t *testing.T) {
			db := tpl.one(t, "AWS::Glue::Database", map[string]any{"DatabaseInput": map[string]any{"Name": names.Database()}})
			if db.Raw["DeletionPolicy"] != "RetainExceptOnCreate" || db.Raw["UpdateReplacePolicy"] != "Retain" {
				t.Errorf("DeletionPolicy %v UpdateReplacePolicy %v", db.Raw["DeletionPolicy"], db.Raw["UpdateReplacePolicy"])
			}
		})
		tables := map[string]struct {
			location string
			keys     []string
			serde    string
		}{
			naming.RawTable:       {"s3://" + names.Bucket(naming.Streaming, region) + "/raw/", []string{"year", "month", "day", "hour"}, "org.openx.data.jsonserde.JsonSerDe"},
			naming.CompactedTable: {"s3://" + names.Bucket(naming.Batch, region) + "/compacted/", []string{"dt"}, "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
		}
		for name, want := range tables {
			check(t, fmt.Sprintf("%s table %s is at %s partitioned by %v", stack, name, want.location, want.keys), func(t *testing.T) {
				tbl := tpl.one(t, "AWS::Glue::Table", map[string]any{"DatabaseName": names.Database(), "TableInput": map[string]any{"Name": name}})
				input := tbl.Properties["TableInput"].(map[string]any)
				var keys []string
				for _, k := range input["PartitionKeys"].([]any) {
					keys = append(keys, k.(map[string]any)["Name"].(string))
				}
				if fmt.Sprint(keys) != fmt.Sprint(want.keys) {
					t.Errorf("partition keys %v", keys)
				}
				sd := map[string]any{"Location": want.location, "SerdeInfo": map[string]any{"SerializationLibrary": want.serde}}
				if !like(input["StorageDescriptor"], sd) {
					t.Errorf("storage descriptor %s", show(input["StorageDescriptor"]))
				}
				if tbl.Raw["DeletionPolicy"] != "RetainExceptOnCreate" || tbl.Raw["UpdateReplacePolicy"] != "Retain" {
					t.Errorf("DeletionPolicy %v UpdateReplacePolicy %v", tbl.Raw["DeletionPolicy"], tbl.Raw["UpdateReplacePolicy"])
				}
			})
		}
	}
}

// TestDataIsRetainedAndAFailedFirstCreateIsRetryable: every data resource
// survives updates and deletes; one with a fixed name is removed by a
// rolled-back first create (RetainExceptOnCreate), so the retry does not
// fail with "already exists"; one kept even then (Retain) has a generated
// name, so the retry creates a fresh one.
func TestDataIsRetainedAndAFailedFirstCreateIsRetryable(t *testing.T) {
	fixedName := map[string]func(map[string]any) any{
		"AWS::S3::Bucket":          func(p map[string]any) any { return p["BucketName"] },
		"AWS::DynamoDB::Table":     func(p map[string]any) any { return p["TableName"] },
		"AWS::Backup::BackupVault": func(p map[string]any) any { return p["BackupVaultName"] },
		"AWS::Glue::Database":      func(p map[string]any) any { return p["DatabaseInput"].(map[string]any)["Name"] },
		"AWS::Glue::Table":         func(p map[string]any) any { return p["TableInput"].(map[string]any)["Name"] },
		"AWS::KMS::Key":            func(map[string]any) any { return nil },
	}
	for _, a := range []*assembly{synth(t), synthVariant(t)} {
		for name, tpl := range a.templates {
			for typ, nameOf := range fixedName {
				for _, r := range tpl.ofType(typ) {
					check(t, fmt.Sprintf("%s %s (%s)", name, r.ID, typ), func(t *testing.T) {
						if r.Raw["UpdateReplacePolicy"] != "Retain" {
							t.Errorf("UpdateReplacePolicy %v, want Retain", r.Raw["UpdateReplacePolicy"])
						}
						switch named := nameOf(r.Properties) != nil; {
						case r.Raw["DeletionPolicy"] == "RetainExceptOnCreate":
						case r.Raw["DeletionPolicy"] == "Retain" && !named:
						default:
							t.Errorf("DeletionPolicy %v with fixed name %v: a rolled-back first create would leave it behind and the retry fail", r.Raw["DeletionPolicy"], named)
						}
					})
				}
			}
		}
	}
}
