package naming

import "testing"

func TestNames(t *testing.T) {
	n := Names{Prefix: "dr-analytics", Account: "123456789012"}
	cases := []struct{ name, got, want string }{
		{"streaming bucket", n.Bucket(Streaming, "us-east-1"), "dr-analytics-streaming-123456789012-us-east-1"},
		{"replica bucket differs by region", n.Bucket(Streaming, "us-west-2"), "dr-analytics-streaming-123456789012-us-west-2"},
		{"bucket arn", n.BucketArn(Batch, "us-west-2"), "arn:aws:s3:::dr-analytics-batch-123456789012-us-west-2"},
		{"table", n.Table(), "dr-analytics-aggregates"},
		{"table arn", n.TableArn("us-east-1"), "arn:aws:dynamodb:us-east-1:123456789012:table/dr-analytics-aggregates"},
		{"database uses underscores", n.Database(), "dr_analytics"},
		{"stream arn", n.StreamArn("us-west-2"), "arn:aws:kinesis:us-west-2:123456789012:stream/dr-analytics-events"},
		{"delivery stream arn", n.DeliveryStreamArn("us-east-1"), "arn:aws:firehose:us-east-1:123456789012:deliverystream/dr-analytics-raw-delivery"},
		{"vault arn", n.BackupVaultArn("us-west-2"), "arn:aws:backup:us-west-2:123456789012:backup-vault:dr-analytics-vault"},
		{"listener parameter", n.ListenerParameter(), "/dr-analytics/accelerator/listener-arn"},
		{"listener parameter arn", n.ListenerParameterArn("us-west-2"), "arn:aws:ssm:us-west-2:123456789012:parameter/dr-analytics/accelerator/listener-arn"},
		{"function", n.Function("ingest"), "dr-analytics-ingest"},
		{"failover start parameter", n.FailoverStartedParameterArn("us-west-2"), "arn:aws:ssm:us-west-2:123456789012:parameter/dr-analytics/failover/started-at"},
		{"failover record parameter", n.FailoverRecordParameterArn("us-west-2"), "arn:aws:ssm:us-west-2:123456789012:parameter/dr-analytics/failover/last"},
		{"failback record parameter", n.FailbackRecordParameterArn("us-west-2"), "arn:aws:ssm:us-west-2:123456789012:parameter/dr-analytics/failback/last"},
		{"ingest load balancer", n.IngestLoadBalancer(), "dr-analytics-ingest"},
		{"primary stack name carries the prefix", n.StackName(PrimaryStack), "dr-analytics-primary"},
		{"backup stack name carries the prefix", n.StackName(BackupStack), "dr-analytics-backup"},
		{"failover stack name carries the prefix", n.StackName(BackupFailoverStack), "dr-analytics-backup-failover"},
		{"failover stack arn", n.StackArn(BackupFailoverStack, "us-west-2"), "arn:aws:cloudformation:us-west-2:123456789012:stack/dr-analytics-backup-failover/*"},
		{"replication rule", n.ReplicationRuleID(Batch, "us-west-2"), "batch-to-us-west-2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %q, want %q", c.got, c.want)
			}
		})
	}
}
