// Command restoretest runs the steps of the scheduled table restore test in
// the backup region. See internal/restoretest.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/restoretest"
)

func main() {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		lambda.Start(func() error { return fmt.Errorf("restore test: load AWS config: %w", err) })
	}
	t := &restoretest.Tester{
		Names:          naming.Names{Prefix: os.Getenv("PREFIX"), Account: os.Getenv("ACCOUNT")},
		PrimaryRegion:  os.Getenv("PRIMARY_REGION"),
		RestoreRoleArn: os.Getenv("RESTORE_ROLE_ARN"),
		Backup:         backup.NewFromConfig(cfg),
		DynamoDB:       dynamodb.NewFromConfig(cfg),
		SSM:            ssm.NewFromConfig(cfg),
		Metrics:        os.Stdout,
	}
	lambda.Start(t.Handle)
}
