package awsfake_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	firehosetypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	gatypes "github.com/aws/aws-sdk-go-v2/service/globalaccelerator/types"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

func TestServiceErrorsReachTheSDKAsModelledTypes(t *testing.T) {
	ctx := context.Background()
	d := awsfake.NewDynamoDB(t, "us-west-2", "123456789012")
	_, err := d.Client().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("missing")})
	if !errors.As(err, new(*dynamotypes.ResourceNotFoundException)) {
		t.Errorf("DynamoDB DescribeTable of a missing table: %v", err)
	}
	_, err = d.Client().DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String("missing")})
	if !errors.As(err, new(*dynamotypes.TableNotFoundException)) {
		t.Errorf("DynamoDB DescribeContinuousBackups of a missing table: %v", err)
	}
	b := awsfake.NewBackup(t, "us-west-2", "123456789012")
	_, err = b.Client().DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String("nope")})
	if !errors.As(err, new(*backuptypes.ResourceNotFoundException)) {
		t.Errorf("Backup DescribeRestoreJob of a missing job: %v", err)
	}
	f := awsfake.NewFirehose(t, "us-west-2", "123456789012")
	_, err = f.Client().DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("missing")})
	if !errors.As(err, new(*firehosetypes.ResourceNotFoundException)) {
		t.Errorf("Firehose DescribeDeliveryStream of a missing delivery stream: %v", err)
	}
	g := awsfake.NewGlobalAccelerator(t)
	_, err = g.Client().ListEndpointGroups(ctx, &globalaccelerator.ListEndpointGroupsInput{ListenerArn: aws.String("arn:missing")})
	if !errors.As(err, new(*gatypes.ListenerNotFoundException)) {
		t.Errorf("Global Accelerator ListEndpointGroups of a missing listener: %v", err)
	}
}

func TestUnservedOperationFailsLoudly(t *testing.T) {
	d := awsfake.NewDynamoDB(t, "us-west-2", "123456789012")
	_, err := d.Client().DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String("t")})
	var apiErr interface{ ErrorCode() string }
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Errorf("DeleteTable: %v, want UnknownOperationException", err)
	}
	if ops := d.Ops(); len(ops) != 1 || ops[0] != "DeleteTable" {
		t.Errorf("recorded %v, want [DeleteTable]", ops)
	}
}

func TestFaultAppliesForItsTimesThenClears(t *testing.T) {
	d := awsfake.NewDynamoDB(t, "us-west-2", "123456789012")
	d.PutTable(awsfake.Table{Name: "t"})
	d.Inject("DescribeTable", awsfake.Fault{Code: "AccessDeniedException", Message: "no", Times: 2})
	var results []bool
	for range 3 {
		_, err := d.Client().DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("t")})
		results = append(results, err == nil)
	}
	if fmt.Sprint(results) != "[false false true]" {
		t.Errorf("successes = %v, want [false false true]", results)
	}
}

func TestHangLastsUntilTheClientGivesUp(t *testing.T) {
	d := awsfake.NewDynamoDB(t, "us-west-2", "123456789012")
	d.PutTable(awsfake.Table{Name: "t"})
	d.Hang()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := d.Client().DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("t")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging call: %v, want a deadline error", err)
	}
	d.Clear()
	if _, err := d.Client().DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("t")}); err != nil {
		t.Errorf("after Clear: %v", err)
	}
}

func TestDeadEndpointRefusesWithoutAnAnswer(t *testing.T) {
	client := awsfake.DynamoDBClient(awsfake.DeadEndpoint(t), "us-east-1")
	_, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("t")})
	var re *awshttp.ResponseError
	if err == nil || (errors.As(err, &re) && re.HTTPStatusCode() != 0) {
		t.Errorf("dead endpoint: %v, want a connection error with no HTTP status", err)
	}
}

func TestListsPaginate(t *testing.T) {
	ctx := context.Background()
	t.Run("recovery points", func(t *testing.T) {
		b := awsfake.NewBackup(t, "us-west-2", "123456789012")
		b.SetPageSize(2)
		for i := range 5 {
			b.PutRecoveryPoint("v", awsfake.RecoveryPoint{Arn: fmt.Sprint("rp", i), ResourceArn: "arn:t", ResourceType: "DynamoDB",
				Status: "COMPLETED", CreationDate: time.Unix(int64(i), 0)})
		}
		b.PutRecoveryPoint("v", awsfake.RecoveryPoint{Arn: "other", ResourceArn: "arn:other", ResourceType: "DynamoDB"})
		pager := backup.NewListRecoveryPointsByBackupVaultPaginator(b.Client(), &backup.ListRecoveryPointsByBackupVaultInput{
			BackupVaultName: aws.String("v"), ByResourceArn: aws.String("arn:t")})
		var got []string
		for pager.HasMorePages() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, rp := range page.RecoveryPoints {
				got = append(got, aws.ToString(rp.RecoveryPointArn))
				if rp.CreationDate == nil || rp.CreationDate.Unix() != int64(len(got)-1) {
					t.Errorf("%s CreationDate = %v", aws.ToString(rp.RecoveryPointArn), rp.CreationDate)
				}
			}
		}
		if fmt.Sprint(got) != "[rp0 rp1 rp2 rp3 rp4]" || len(b.Calls()) != 3 {
			t.Errorf("listed %v in %d calls, want rp0..rp4 in 3", got, len(b.Calls()))
		}
	})
	t.Run("endpoint groups", func(t *testing.T) {
		g := awsfake.NewGlobalAccelerator(t)
		g.SetPageSize(1)
		g.PutListener("arn:l", awsfake.EndpointGroup{Arn: "a", Region: "us-east-1"}, awsfake.EndpointGroup{Arn: "b", Region: "us-west-2"})
		pager := globalaccelerator.NewListEndpointGroupsPaginator(g.Client(), &globalaccelerator.ListEndpointGroupsInput{ListenerArn: aws.String("arn:l")})
		var got []string
		for pager.HasMorePages() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, eg := range page.EndpointGroups {
				got = append(got, aws.ToString(eg.EndpointGroupArn)+"@"+aws.ToString(eg.EndpointGroupRegion))
			}
		}
		if fmt.Sprint(got) != "[a@us-east-1 b@us-west-2]" {
			t.Errorf("listed %v", got)
		}
	})
}

func TestRestoreCreatesTableInCreatingState(t *testing.T) {
	d := awsfake.NewDynamoDB(t, "us-west-2", "123456789012")
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	d.SetClock(at)
	out, err := d.Client().RestoreTableToPointInTime(context.Background(), &dynamodb.RestoreTableToPointInTimeInput{
		SourceTableArn: aws.String("arn:aws:dynamodb:us-east-1:123456789012:table/src"), TargetTableName: aws.String("dst"),
		UseLatestRestorableTime: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	desc := out.TableDescription
	if desc.TableStatus != dynamotypes.TableStatusCreating || aws.ToString(desc.TableArn) != d.TableArn("dst") ||
		desc.RestoreSummary == nil || !desc.RestoreSummary.RestoreDateTime.Equal(at) {
		t.Errorf("restore answered %+v", desc)
	}
	_, err = d.Client().RestoreTableToPointInTime(context.Background(), &dynamodb.RestoreTableToPointInTimeInput{
		SourceTableArn: aws.String("arn:aws:dynamodb:us-east-1:123456789012:table/src"), TargetTableName: aws.String("dst"),
		UseLatestRestorableTime: aws.Bool(true),
	})
	if !errors.As(err, new(*dynamotypes.TableAlreadyExistsException)) {
		t.Errorf("second restore into the same name: %v, want TableAlreadyExistsException", err)
	}
}

func TestFirehoseDescribesDeliveryStreamStatus(t *testing.T) {
	ctx := context.Background()
	f := awsfake.NewFirehose(t, "us-west-2", "123456789012")
	for _, status := range []string{awsfake.DeliveryStreamCreating, awsfake.DeliveryStreamActive, awsfake.DeliveryStreamCreatingFailed} {
		f.SetStatus("events-to-s3", status)
		out, err := f.Client().DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("events-to-s3")})
		if err != nil {
			t.Fatalf("%s: %v", status, err)
		}
		d := out.DeliveryStreamDescription
		if string(d.DeliveryStreamStatus) != status || aws.ToString(d.DeliveryStreamARN) != "arn:aws:firehose:us-west-2:123456789012:deliverystream/events-to-s3" {
			t.Errorf("%s: described %+v", status, d)
		}
		if failed := d.FailureDescription != nil; failed != (status == awsfake.DeliveryStreamCreatingFailed) {
			t.Errorf("%s: FailureDescription %+v", status, d.FailureDescription)
		}
	}
}
