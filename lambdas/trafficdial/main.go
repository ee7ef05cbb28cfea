// Command trafficdial is the failover traffic dial custom resource Lambda.
// One binary serves both Provider framework calls; HANDLER=onEvent or
// HANDLER=isComplete picks the call. See internal/trafficdial.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/dr-analytics/drplan/internal/recoverytime"
	"github.com/dr-analytics/drplan/internal/trafficdial"
)

func main() {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		// Answer every event with the reason instead of crash-looping.
		lambda.Start(func() error { return fmt.Errorf("traffic dial: load AWS config: %w", err) })
	}
	h := trafficdial.New(cfg)
	h.FailoverRecordParameter = os.Getenv(recoverytime.EnvFailoverRecordParameter)
	lambda.Start(h.Dispatch(os.Getenv("HANDLER")))
}
