package tablerestore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/customresource"
	"github.com/dr-analytics/drplan/internal/tablerestore"
)

// benchWorld is a backup-region world whose primary is unreachable.
func benchWorld(b *testing.B, points int) (*tablerestore.Handler, *awsfake.Backup) {
	b.Helper()
	dynamo := awsfake.NewDynamoDB(b, backupRegion, account)
	vault := awsfake.NewBackup(b, backupRegion, account)
	dead := awsfake.DeadEndpoint(b)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range points {
		vault.PutRecoveryPoint(vaultName, awsfake.RecoveryPoint{
			Arn: fmt.Sprintf("arn:aws:backup:us-west-2:123456789012:recovery-point:%06d", i), ResourceArn: sourceArn,
			ResourceType: "DynamoDB", Status: "COMPLETED", CreationDate: base.Add(time.Duration(i) * time.Hour),
		})
	}
	return &tablerestore.Handler{
		DynamoDB:        dynamo.Client(),
		PrimaryDynamoDB: func(region string) *dynamodb.Client { return awsfake.DynamoDBClient(dead, region) },
		Backup:          vault.Client(),
		SSM:             awsfake.NewSSM(b, backupRegion).Client(),
		Region:          backupRegion,
		Log:             discardLog(),
	}, vault
}

// BenchmarkCreateFromBackupVault is a whole failover start onEvent with the
// primary down: failover start recorded (after the first iteration: found
// already recorded and read), no restore job running, probe refused, 840
// recovery points (35 days hourly) listed in pages of 100, newest chosen,
// restore job started. Each iteration starts with no restore jobs.
func BenchmarkCreateFromBackupVault(b *testing.B) {
	h, vault := benchWorld(b, 35*24)
	e := event(cfn.RequestCreate, properties(nil))
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		vault.ForgetRestoreJobs()
		if _, err := h.OnEvent(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIsCompleteReadyTable is one ready resource poll of a finished
// table: four reads (table, point-in-time recovery, restore jobs, tags), no
// writes.
func BenchmarkIsCompleteReadyTable(b *testing.B) {
	dynamo := awsfake.NewDynamoDB(b, backupRegion, account)
	dynamo.PutTable(awsfake.Table{Name: tableName, PITR: true, DeletionProtection: true, Tags: map[string]string{
		"team": "analytics", "env": "dr", "dr:restore-source": "pitr", "dr:restore-point": "2025-06-01T11:59:00Z",
		"dr:restored-by": "BackupFailoverStack", "dr:source-table-arn": sourceArn, "dr:original-source": "pitr",
	}})
	h := &tablerestore.Handler{DynamoDB: dynamo.Client(), Backup: awsfake.NewBackup(b, backupRegion, account).Client(),
		Region: backupRegion, Log: discardLog()}
	start := tablerestore.Response{Data: map[string]string{
		"TableName": tableName, "Source": "pitr", "PointInTime": "2025-06-01T11:59:00Z", "SourceTableArn": sourceArn,
		"RestoreJobId": "none", "RecoveryPointArn": "none",
	}}
	e := readyEvent(cfn.RequestCreate, readyProperties(start, nil))
	poll := customresource.Completion(e, tablerestore.Response{PhysicalResourceID: readyPhysID, Data: map[string]string{
		"TableName": tableName, "TableArn": "none", "Status": "RESTORING", "WaitStartedAt": "2025-06-01T12:00:05Z",
	}})
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		got, err := h.IsComplete(ctx, poll)
		if err != nil || !got.IsComplete {
			b.Fatalf("IsComplete = %v, %v", got.IsComplete, err)
		}
	}
}
