// Command compaction is the nightly compaction Lambda: the state machine
// calls it with {"action":"plan"} before Athena UNLOAD and with
// {"action":"publish"} after it (see internal/compaction).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dr-analytics/drplan/internal/compaction"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := compaction.ConfigFromEnv(os.Getenv)
	if err != nil {
		logger.Error("compaction cannot start", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("compaction cannot load AWS config", "error", err.Error())
		os.Exit(1)
	}
	cfg.S3, cfg.Logger = s3.NewFromConfig(awsCfg), logger
	job, err := compaction.New(cfg)
	if err != nil {
		logger.Error("compaction cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(job.Handle)
}
