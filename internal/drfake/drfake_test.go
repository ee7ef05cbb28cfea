package drfake_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/naming"
)

var t0 = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

func TestCloudWatchAggregatesPerPeriodOverRPCv2CBOR(t *testing.T) {
	cw := drfake.NewCloudWatch(t)
	m := drfake.Metric{Namespace: "AWS/S3", Name: "ReplicationLatency", Dimensions: map[string]string{"RuleId": "r"}}
	cw.Put(m, drfake.Point{Time: t0.Add(-150 * time.Second), Value: 4}, drfake.Point{Time: t0.Add(-130 * time.Second), Value: 9},
		drfake.Point{Time: t0.Add(-30 * time.Second), Value: 2}, drfake.Point{Time: t0.Add(-time.Hour), Value: 99})
	client := cloudwatch.NewFromConfig(awsfake.Config(cw.URL(), "us-east-1"))
	query := func(stat string, scan cwtypes.ScanBy) cwtypes.MetricDataResult {
		out, err := client.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
			StartTime: aws.Time(t0.Add(-5 * time.Minute)), EndTime: aws.Time(t0), ScanBy: scan,
			MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("q"), MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String("AWS/S3"), MetricName: aws.String("ReplicationLatency"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("RuleId"), Value: aws.String("r")}}},
				Period: aws.Int32(60), Stat: aws.String(stat)}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.MetricDataResults[0]
	}
	sum := query("Sum", cwtypes.ScanByTimestampAscending)
	if want := []float64{13, 2}; !reflect.DeepEqual(sum.Values, want) {
		t.Errorf("Sum per minute = %v, want %v", sum.Values, want)
	}
	if want := []time.Time{t0.Add(-3 * time.Minute), t0.Add(-time.Minute)}; !reflect.DeepEqual(utc(sum.Timestamps), want) {
		t.Errorf("timestamps = %v, want %v", sum.Timestamps, want)
	}
	if maxDesc := query("Maximum", ""); !reflect.DeepEqual(maxDesc.Values, []float64{2, 9}) {
		t.Errorf("Maximum, newest first (the default) = %v, want [2 9]", maxDesc.Values)
	}
	cw.Fail("GetMetricData", drfake.Fault{Status: 400, Code: "InvalidParameterValue", Message: "bad", Times: 1})
	_, err := client.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{StartTime: aws.Time(t0), EndTime: aws.Time(t0),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("q"), Expression: aws.String("SUM(METRICS())")}}})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
		t.Errorf("injected fault came back as %v", err)
	}
}

func utc(ts []time.Time) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.UTC()
	}
	return out
}

func TestQueryAndJSONFakesAnswerAsTheSDKExpects(t *testing.T) {
	ctx := context.Background()
	id, err := sts.NewFromConfig(awsfake.Config(drfake.NewSTS(t, "123456789012").URL(), "us-west-2")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != "123456789012" {
		t.Errorf("GetCallerIdentity = %v, %v", id, err)
	}

	cfn := drfake.NewCloudFormation(t, "us-west-2")
	cfn.PutStack(drfake.Stack{Name: "BackupFailoverStack", Status: "CREATE_COMPLETE", Created: t0, Outputs: map[string]string{"RestoreSource": "pitr"}})
	cfnClient := cloudformation.NewFromConfig(awsfake.Config(cfn.URL(), "us-west-2"))
	stacks, err := cfnClient.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("BackupFailoverStack")})
	if err != nil || len(stacks.Stacks) != 1 || !stacks.Stacks[0].CreationTime.Equal(t0) || aws.ToString(stacks.Stacks[0].Outputs[0].OutputValue) != "pitr" {
		t.Errorf("DescribeStacks = %+v, %v", stacks, err)
	}
	_, err = cfnClient.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("Nope")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationError" {
		t.Errorf("missing stack: %v, want ValidationError", err)
	}

	params := awsfake.NewSSM(t, "us-west-2")
	params.PutParameter(awsfake.Parameter{Name: "/a", Value: "b"})
	ssmClient := ssm.NewFromConfig(awsfake.Config(params.URL(), "us-west-2"))
	if out, err := ssmClient.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/a")}); err != nil || aws.ToString(out.Parameter.Value) != "b" {
		t.Errorf("GetParameter = %v, %v", out, err)
	}
	var notFound *ssmtypes.ParameterNotFound
	if _, err := ssmClient.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/x")}); !errors.As(err, &notFound) {
		t.Errorf("missing parameter: %v, want ParameterNotFound", err)
	}
}

func TestS3FrontAddsReplicationAndPartCopies(t *testing.T) {
	ctx := context.Background()
	store := drfake.NewS3(t, drfake.NewClock(t0))
	store.CreateBucket(t, "src")
	store.CreateBucket(t, "dst")
	body := bytes.Repeat([]byte("abcdefghij"), 100)
	store.PutObject(t, "src", "a/b+c.bin", body)
	client := s3.NewFromConfig(awsfake.Config(store.URL(), "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })

	store.SetReplication("src", drfake.ReplicationRule{ID: "r1", Enabled: true, DestinationBucket: "dst", RTC: true, Metrics: true})
	repl, err := client.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	if err != nil {
		t.Fatal(err)
	}
	rule := repl.ReplicationConfiguration.Rules[0]
	if aws.ToString(rule.ID) != "r1" || rule.Status != s3types.ReplicationRuleStatusEnabled || aws.ToString(rule.Destination.Bucket) != "arn:aws:s3:::dst" ||
		rule.Destination.ReplicationTime.Status != s3types.ReplicationTimeStatusEnabled {
		t.Errorf("rule = %+v", rule)
	}

	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	if err != nil {
		t.Fatal(err)
	}
	var parts []s3types.CompletedPart
	for i, rng := range []string{"bytes=0-599", "bytes=600-999"} {
		out, err := client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("dst"), Key: aws.String("copy"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String("src/a/b%2Bc.bin"), CopySourceRange: aws.String(rng)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, s3types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("dst"), Key: aws.String("copy"), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	if err != nil {
		t.Fatal(err)
	}
	copied, _ := io.ReadAll(got.Body)
	if !bytes.Equal(copied, body) || store.Calls("UploadPartCopy") != 2 {
		t.Errorf("part copies assembled %d bytes (want %d), %d UploadPartCopy calls", len(copied), len(body), store.Calls("UploadPartCopy"))
	}
	if lm := store.Objects(t, "dst")["copy"].LastModified; !lm.Equal(t0) {
		t.Errorf("LastModified %s, want the clock's %s", lm, t0)
	}
}

func TestWorldEndpointsServeWhatDrctlReads(t *testing.T) {
	ctx := context.Background()
	w := drfake.NewWorld(t, naming.Names{Prefix: "dr-analytics", Account: "123456789012"}, "us-east-1", "us-west-2", t0)
	w.Healthy(t)
	w.Primary.Backup.SetDynamoDBAdvancedFeatures(false)
	settings, err := backup.NewFromConfig(awsfake.Config(w.Endpoint(drfake.ServiceBackup, "us-east-1"), "us-east-1")).DescribeRegionSettings(ctx, &backup.DescribeRegionSettingsInput{})
	if err != nil || settings.ResourceTypeManagementPreference["DynamoDB"] {
		t.Errorf("DescribeRegionSettings = %+v, %v; want DynamoDB management off", settings, err)
	}
	points, err := backup.NewFromConfig(awsfake.Config(w.Endpoint(drfake.ServiceBackup, "us-west-2"), "us-west-2")).ListRecoveryPointsByBackupVault(ctx,
		&backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String(w.Names.BackupVault())})
	if err != nil || len(points.RecoveryPoints) != 3 {
		t.Errorf("ListRecoveryPointsByBackupVault of the seeded vault = %v, %v; want 3 points", points, err)
	}
	ga := globalaccelerator.NewFromConfig(awsfake.Config(w.Endpoint(drfake.ServiceGlobalAccelerator, "us-west-2"), "us-west-2"))
	acc, err := ga.DescribeAccelerator(ctx, &globalaccelerator.DescribeAcceleratorInput{AcceleratorArn: aws.String(w.AcceleratorArn)})
	if err != nil || !aws.ToBool(acc.Accelerator.Enabled) {
		t.Errorf("DescribeAccelerator = %+v, %v", acc, err)
	}
	groups, err := ga.ListEndpointGroups(ctx, &globalaccelerator.ListEndpointGroupsInput{ListenerArn: aws.String(w.ListenerArn)})
	if err != nil || len(groups.EndpointGroups) != 1 || groups.EndpointGroups[0].EndpointDescriptions[0].HealthState != "HEALTHY" {
		t.Errorf("ListEndpointGroups with health = %+v, %v", groups, err)
	}
}

func TestLambdaSQSAndStepFunctionsFakesAnswerAsTheSDKExpects(t *testing.T) {
	ctx := context.Background()
	w := drfake.NewWorld(t, naming.Names{Prefix: "dr-analytics", Account: "123456789012"}, "us-east-1", "us-west-2", t0)
	w.Healthy(t)
	w.Failover(t0.Add(-time.Hour))
	w.Backup.SQS.SetMessages(w.AggregatorFailures, 7)

	t.Run("event source mappings name the on-failure queue", func(t *testing.T) {
		client := lambda.NewFromConfig(awsfake.Config(w.Endpoint(drfake.ServiceLambda, "us-west-2"), "us-west-2"))
		out, err := client.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("dr-analytics-aggregator")})
		if err != nil || len(out.EventSourceMappings) != 1 ||
			aws.ToString(out.EventSourceMappings[0].DestinationConfig.OnFailure.Destination) != w.Backup.SQS.QueueArn(w.AggregatorFailures) {
			t.Fatalf("ListEventSourceMappings = %+v, %v", out, err)
		}
		_, err = client.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("nope")})
		if !errors.As(err, new(*lambdatypes.ResourceNotFoundException)) {
			t.Errorf("unknown function: %v, want ResourceNotFoundException", err)
		}
	})
	t.Run("queues answer their URL and depth", func(t *testing.T) {
		client := sqs.NewFromConfig(awsfake.Config(w.Endpoint(drfake.ServiceSQS, "us-west-2"), "us-west-2"))
		url, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(w.AggregatorFailures), QueueOwnerAWSAccountId: aws.String("123456789012")})
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil || attrs.Attributes["ApproximateNumberOfMessages"] != "7" {
			t.Errorf("GetQueueAttributes = %+v, %v", attrs, err)
		}
		_, err = client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
		if !errors.As(err, new(*sqstypes.QueueDoesNotExist)) {
			t.Errorf("unknown queue: %v, want QueueDoesNotExist", err)
		}
	})
	t.Run("executions start once per name and report how they end", func(t *testing.T) {
		client := sfn.NewFromConfig(awsfake.Config(w.Endpoint(drfake.ServiceStepFunctions, "us-east-1"), "us-east-1"))
		machine := w.CompactionStateMachineArn("us-east-1")
		w.Primary.StepFunctions.SetOutcome(func(name, input string) drfake.Outcome {
			return drfake.Outcome{Status: "FAILED", Error: "Athena.Failed", Cause: "boom", Running: 1}
		})
		start := func() (*sfn.StartExecutionOutput, error) {
			return client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine), Name: aws.String("run-1"), Input: aws.String(`{"date":"2026-11-24"}`)})
		}
		first, err := start()
		if err != nil {
			t.Fatal(err)
		}
		if again, err := start(); err != nil || aws.ToString(again.ExecutionArn) != aws.ToString(first.ExecutionArn) {
			t.Errorf("restarting a running execution = %+v, %v; want the same execution", again, err)
		}
		var statuses []sfntypes.ExecutionStatus
		for range 2 {
			out, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: first.ExecutionArn})
			if err != nil {
				t.Fatal(err)
			}
			statuses = append(statuses, out.Status)
			if out.Status == sfntypes.ExecutionStatusFailed && (aws.ToString(out.Error) != "Athena.Failed" || aws.ToString(out.Cause) != "boom") {
				t.Errorf("failed execution's error %q cause %q", aws.ToString(out.Error), aws.ToString(out.Cause))
			}
		}
		if !reflect.DeepEqual(statuses, []sfntypes.ExecutionStatus{"RUNNING", "FAILED"}) {
			t.Errorf("statuses %v, want RUNNING then FAILED", statuses)
		}
		if _, err := start(); !errors.As(err, new(*sfntypes.ExecutionAlreadyExists)) {
			t.Errorf("restarting a closed execution: %v, want ExecutionAlreadyExists", err)
		}
		_, err = client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machine + "-nope"), Name: aws.String("x")})
		if !errors.As(err, new(*sfntypes.StateMachineDoesNotExist)) {
			t.Errorf("unknown state machine: %v, want StateMachineDoesNotExist", err)
		}
	})
}
