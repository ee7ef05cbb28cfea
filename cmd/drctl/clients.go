package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/partition"
	"github.com/dr-analytics/drplan/internal/readiness"
)

// Service names for endpoint overrides, as in AWS_ENDPOINT_URL_<SERVICE>.
const (
	serviceS3                = "s3"
	serviceCloudWatch        = "cloudwatch"
	serviceDynamoDB          = "dynamodb"
	serviceBackup            = "backup"
	serviceSSM               = "ssm"
	serviceCloudFormation    = "cloudformation"
	serviceSTS               = "sts"
	serviceGlobalAccelerator = "globalaccelerator"
	serviceGlue              = "glue"
	serviceLambda            = "lambda"
	serviceSQS               = "sqs"
	serviceStepFunctions     = "sfn"
	serviceS3Control         = "s3control"
)

// clientFactory builds SDK clients per region from one base config. The
// base comes from config.LoadDefaultConfig, so credentials, retries and
// AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> work as in any SDK tool;
// endpoint, when set (tests), points a service in a region elsewhere, so
// two regions can be two different fake servers.
type clientFactory struct {
	base     aws.Config
	endpoint func(service, region string) string
}

// loadAWSConfig is the production base config.
func loadAWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration (profile, credentials, endpoints): %w", err)
	}
	return cfg, nil
}

func (f clientFactory) config(region string) aws.Config {
	cfg := f.base.Copy()
	cfg.Region = region
	return cfg
}

// override returns the test endpoint of service in region, or nil.
func (f clientFactory) override(service, region string) *string {
	if f.endpoint == nil {
		return nil
	}
	if url := f.endpoint(service, region); url != "" {
		return aws.String(url)
	}
	return nil
}

func (f clientFactory) s3(region string) *s3.Client {
	return s3.NewFromConfig(f.config(region), func(o *s3.Options) {
		if ep := f.override(serviceS3, region); ep != nil {
			o.BaseEndpoint, o.UsePathStyle = ep, true
		}
	})
}

func (f clientFactory) cloudWatch(region string) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(f.config(region), func(o *cloudwatch.Options) {
		if ep := f.override(serviceCloudWatch, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) dynamoDB(region string) *dynamodb.Client {
	return dynamodb.NewFromConfig(f.config(region), func(o *dynamodb.Options) {
		if ep := f.override(serviceDynamoDB, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) backup(region string) *backup.Client {
	return backup.NewFromConfig(f.config(region), func(o *backup.Options) {
		if ep := f.override(serviceBackup, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) ssm(region string) *ssm.Client {
	return ssm.NewFromConfig(f.config(region), func(o *ssm.Options) {
		if ep := f.override(serviceSSM, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) cloudFormation(region string) *cloudformation.Client {
	return cloudformation.NewFromConfig(f.config(region), func(o *cloudformation.Options) {
		if ep := f.override(serviceCloudFormation, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) sts(region string) *sts.Client {
	return sts.NewFromConfig(f.config(region), func(o *sts.Options) {
		if ep := f.override(serviceSTS, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) glue(region string) *glue.Client {
	return glue.NewFromConfig(f.config(region), func(o *glue.Options) {
		partition.GlueClientOptions(o)
		if ep := f.override(serviceGlue, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) lambda(region string) *lambda.Client {
	return lambda.NewFromConfig(f.config(region), func(o *lambda.Options) {
		if ep := f.override(serviceLambda, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) sqs(region string) *sqs.Client {
	return sqs.NewFromConfig(f.config(region), func(o *sqs.Options) {
		if ep := f.override(serviceSQS, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) stepFunctions(region string) *sfn.Client {
	return sfn.NewFromConfig(f.config(region), func(o *sfn.Options) {
		if ep := f.override(serviceStepFunctions, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

// s3Control runs failback's S3 Batch Operations jobs.
func (f clientFactory) s3Control(region string) *s3control.Client {
	return s3control.NewFromConfig(f.config(region), func(o *s3control.Options) {
		if ep := f.override(serviceS3Control, region); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) globalAccelerator() *globalaccelerator.Client {
	return globalaccelerator.NewFromConfig(f.config(config.GlobalAcceleratorControlRegion), func(o *globalaccelerator.Options) {
		if ep := f.override(serviceGlobalAccelerator, config.GlobalAcceleratorControlRegion); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

func (f clientFactory) readinessRegion(region string) readiness.Region {
	return readiness.Region{
		Name: region, S3: f.s3(region), CloudWatch: f.cloudWatch(region), DynamoDB: f.dynamoDB(region),
		Backup: f.backup(region), SSM: f.ssm(region), CloudFormation: f.cloudFormation(region),
	}
}

func (f clientFactory) failbackRegion(region string) failback.Region {
	return failback.Region{
		Name: region, S3: f.s3(region), DynamoDB: f.dynamoDB(region), CloudWatch: f.cloudWatch(region),
		SSM: f.ssm(region), CloudFormation: f.cloudFormation(region), Glue: f.glue(region),
		Lambda: f.lambda(region), SQS: f.sqs(region), StepFunctions: f.stepFunctions(region),
		S3Control: f.s3Control(region),
	}
}
