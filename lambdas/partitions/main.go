// Command partitions is the partition registrar Lambda: it consumes S3
// ObjectCreated notifications from SQS and adds the Glue partitions they
// imply, routed by PARTITION_ROUTES (see internal/partition).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/dr-analytics/drplan/internal/partition"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	routes, err := partition.ParseRoutes(os.Getenv("PARTITION_ROUTES"))
	if err != nil {
		logger.Error("partition registrar cannot start: fix PARTITION_ROUTES", "error", err.Error())
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		logger.Error("partition registrar cannot load AWS config", "error", err.Error())
		os.Exit(1)
	}
	registrar := partition.NewRegistrar(glue.NewFromConfig(cfg, partition.GlueClientOptions), routes,
		partition.WithLogger(logger), partition.WithFunctionName(os.Getenv("AWS_LAMBDA_FUNCTION_NAME")))
	lambda.Start(registrar.HandleSQS)
}
