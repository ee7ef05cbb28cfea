// Command tablerestore is the failover table restore custom resource Lambda.
// One binary serves both resource types (Custom::TableRestore and
// Custom::TableRestoreReady) and both Provider framework calls;
// HANDLER=onEvent or HANDLER=isComplete picks the call. See
// internal/tablerestore.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/dr-analytics/drplan/internal/recoverytime"
	"github.com/dr-analytics/drplan/internal/tablerestore"
)

func main() {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		// Answer every event with the reason instead of crash-looping.
		lambda.Start(func() error { return fmt.Errorf("table restore: load AWS config: %w", err) })
	}
	h := tablerestore.New(cfg)
	h.FailoverRecordParameter = os.Getenv(recoverytime.EnvFailoverRecordParameter)
	lambda.Start(h.Dispatch(os.Getenv("HANDLER")))
}
