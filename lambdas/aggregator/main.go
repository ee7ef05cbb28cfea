// Command aggregator is the Kinesis tumbling-window Lambda that counts events
// per key value and writes each window's counts to DynamoDB (see
// internal/aggregate).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dr-analytics/drplan/internal/aggregate"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := aggregate.ConfigFromEnv(os.Getenv)
	if err != nil {
		logger.Error("aggregator cannot start", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("aggregator cannot load AWS config", "error", err.Error())
		os.Exit(1)
	}
	cfg.DB, cfg.Logger = dynamodb.NewFromConfig(awsCfg), logger
	aggregator, err := aggregate.New(cfg)
	if err != nil {
		logger.Error("aggregator cannot start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(aggregator.Handle)
}
