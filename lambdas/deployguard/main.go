// Command deployguard is the PrimaryStack custom resource that refuses a
// deploy which would move traffic back during a failover (see
// internal/deployguard).
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/dr-analytics/drplan/internal/deployguard"
)

func main() {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		// Answer every event with the reason instead of crash-looping.
		lambda.Start(func() error { return fmt.Errorf("primary deploy guard: load AWS config: %w", err) })
	}
	lambda.Start(deployguard.New(cfg).OnEvent)
}
