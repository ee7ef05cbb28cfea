// Command ingest is the Lambda behind the ingest ALB: it writes producers'
// events to the Kinesis stream named by STREAM_NAME (see internal/ingest).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/dr-analytics/drplan/internal/ingest"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	var client ingest.Kinesis // stays nil on error: the handler then answers 503 with the reason
	if cfg, err := config.LoadDefaultConfig(context.Background()); err != nil {
		logger.Error("load AWS config", "error", err.Error())
	} else {
		client = kinesis.NewFromConfig(cfg, ingest.KinesisClientOptions)
	}
	lambda.Start(ingest.NewFromEnv(os.Getenv, client, ingest.Options{Logger: logger}).Handle)
}
