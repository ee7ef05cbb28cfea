// Command readiness is the scheduled readiness function in the backup
// region: the `drctl status` checks as CloudWatch metrics. See
// internal/readiness.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/dr-analytics/drplan/internal/readiness"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		lambda.Start(func() error { return fmt.Errorf("readiness: load AWS config: %w", err) })
	}
	w, err := readiness.NewWatcher(cfg, os.Getenv(readiness.ContextVariable), os.Stdout, logger)
	if err != nil {
		lambda.Start(func() error { return fmt.Errorf("readiness: %w", err) })
	}
	lambda.Start(w.Run)
}
