// Command ingest is the Lambda behind the ingest ALB: it writes producers'
// events to the Kinesis stream named by STREAM_NAME, and its /health checks
// that stream and the Firehose delivery stream named by
// DELIVERY_STREAM_NAME (see internal/ingest).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/dr-analytics/drplan/internal/ingest"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	// Both stay nil on error: the handler then answers 503 with the reason.
	var client ingest.Kinesis
	opts := ingest.Options{Logger: logger}
	if cfg, err := config.LoadDefaultConfig(context.Background()); err != nil {
		logger.Error("load AWS config", "error", err.Error())
	} else {
		client = kinesis.NewFromConfig(cfg, ingest.KinesisClientOptions)
		opts.Firehose = firehose.NewFromConfig(cfg)
	}
	lambda.Start(ingest.NewFromEnv(os.Getenv, client, opts).Handle)
}
