package test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/naming"
)

// What drctl failback needs from the stacks: the aggregates table's index
// by writing region and hour (so the merge reads what DR wrote), and the
// role and report prefix of its S3 Batch Operations copy jobs.
func TestFailbackResources(t *testing.T) {
	a := synth(t)
	primary := a.stack(t, naming.PrimaryStack)
	table := primary.one(t, "AWS::DynamoDB::Table", map[string]any{"TableName": names.Table()})
	check(t, "aggregates table has the writer-hour index the aggregator fills", func(t *testing.T) {
		want := map[string]any{
			"GlobalSecondaryIndexes": []any{map[string]any{
				"IndexName": writerhour.Index,
				"KeySchema": []any{
					map[string]any{"AttributeName": writerhour.Attribute, "KeyType": "HASH"},
					map[string]any{"AttributeName": writerhour.SortKey, "KeyType": "RANGE"}},
				"Projection": map[string]any{"ProjectionType": "ALL"},
			}},
		}
		if !like(table.Properties, want) {
			t.Errorf("want %s in %s", show(want), show(table.Properties["GlobalSecondaryIndexes"]))
		}
	})

	role := primary.one(t, "AWS::IAM::Role", map[string]any{"RoleName": names.FailbackCopyRole()})
	check(t, "copy job role is trusted by S3 Batch Operations only", func(t *testing.T) {
		want := map[string]any{"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
			"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "batchoperations.s3.amazonaws.com"}}}}}
		if !like(role.Properties, want) {
			t.Errorf("trust policy %s", show(role.Properties["AssumeRolePolicyDocument"]))
		}
	})
	check(t, "copy job role reads the replicas' data, writes the primary's data and the job reports, nothing else", func(t *testing.T) {
		data := func(region string) []string {
			return []string{
				names.BucketArn(naming.Streaming, region) + "/raw/*",
				names.BucketArn(naming.Streaming, region) + "/errors/*",
				names.BucketArn(naming.Batch, region) + "/compacted/*",
			}
		}
		results := names.BucketArn(naming.AthenaResults, primaryRegion)
		want := map[string][]string{
			"s3:GetObject,s3:GetObjectTagging": data(backupRegion),
			"s3:PutObject,s3:PutObjectTagging": data(primaryRegion),
			"s3:GetObject,s3:GetObjectVersion": {results + "/failback-jobs/manifests/*"},
			"s3:PutObject":                     {results + "/failback-jobs/reports/*"},
			"s3:GetBucketLocation":             {results},
		}
		got := map[string][]string{}
		for _, stmt := range primary.statements(role.ID) {
			acts := actions(stmt)
			slices.Sort(acts)
			got[strings.Join(acts, ",")] = append(got[strings.Join(acts, ",")], resourcesOf(stmt)...)
		}
		for acts, resources := range want {
			slices.Sort(resources)
			slices.Sort(got[acts])
			if !slices.Equal(got[acts], resources) {
				t.Errorf("%s on %q, want %q", acts, got[acts], resources)
			}
		}
		if len(got) != len(want) {
			t.Errorf("statements %v, want exactly %v", got, want)
		}
	})
	check(t, "only the primary region has the copy job role", func(t *testing.T) {
		for _, stack := range []string{naming.BackupStack, naming.BackupFailoverStack} {
			if n := len(a.stack(t, stack).find("AWS::IAM::Role", map[string]any{"RoleName": names.FailbackCopyRole()})); n != 0 {
				t.Errorf("%s has %d", stack, n)
			}
		}
	})
	check(t, "results bucket keeps job manifests and reports as long as S3 keeps the jobs", func(t *testing.T) {
		bucket := primary.one(t, "AWS::S3::Bucket", map[string]any{"BucketName": names.Bucket(naming.AthenaResults, primaryRegion)})
		want := `{"ExpirationInDays":90,"Id":"expire-failback-jobs","Prefix":"failback-jobs/","Status":"Enabled"}`
		if rules := show(bucket.Properties["LifecycleConfiguration"]); !strings.Contains(rules, want) {
			t.Errorf("lifecycle %s, want a rule %s", rules, want)
		}
	})
}
