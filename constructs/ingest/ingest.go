// Package ingest builds the path from producers to the streaming bucket:
// internal ALB -> Go ingest Lambda -> Kinesis (on-demand, KMS) -> Firehose ->
// raw/year=/month=/day=/hour=/ in the streaming bucket.
//
// It comes in two parts, named for what they are in every region, so the
// backup region can keep the first ready at no hourly cost: Foundation is
// what is billed only by use (the function, the stream key, roles, log
// groups, the load balancer's security group); Pipeline is the live data
// path, billed by the hour while it exists (load balancer, stream, delivery
// stream). Roles are granted on names, so Foundation never references
// Pipeline. The primary region runs both; the backup region keeps the
// Foundation in BackupStack and creates the Pipeline at failover.
package ingest

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesis"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesisfirehose"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/gofunction"
	"github.com/dr-analytics/drplan/constructs/loggroup"
	"github.com/dr-analytics/drplan/constructs/nag"
	"github.com/dr-analytics/drplan/constructs/network"
	"github.com/dr-analytics/drplan/internal/naming"
)

// HealthPath answers 200 only when the function is configured and its stream
// is pipeline; the target group and Global Accelerator route on it.
const HealthPath = "/health"

// Target group health check of the ingest function. The function answers
// /health from a cache within a few seconds, so a 5 s timeout is ample.
const (
	HealthCheckInterval  = 10 * time.Second
	HealthCheckTimeout   = 5 * time.Second
	HealthCheckThreshold = 2
)

// ClientKeepAlive bounds how long the load balancer keeps a client
// connection open, busy or not. Global Accelerator applies a traffic dial
// change to new connections only, so this is how long a producer that keeps
// its connection busy stays on the old region after a dial change
// (ELB default 3600 s, minimum 60 s:
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout).
const ClientKeepAlive = 60 * time.Second

// DeliveryPrefix is Firehose's Hive-style prefix expression under raw/,
// matching the Glue raw table. The hour is Kinesis' arrival time of the
// record, milliseconds after the ingest Lambda stamps ingested_at.
const DeliveryPrefix = naming.RawPrefix + "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"

// DeliveryErrorPrefix keeps Firehose's failed records apart from data; the
// partition registrar ignores it.
const DeliveryErrorPrefix = naming.ErrorsPrefix + "!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"

// StreamRetention is how long Kinesis keeps records: the window in which the
// aggregator can catch up after a failover's table restore.
const StreamRetention = 24 * time.Hour

// FoundationProps configures the part billed only by use.
type FoundationProps struct {
	// Names derives every physical name.
	Names naming.Names
	// Region is where this runs, e.g. "us-west-2".
	Region string
	// Network is the region's ingest VPC.
	Network *network.Network
	// StreamingBucketName receives raw data, e.g. "dr-analytics-streaming-123456789012-us-west-2".
	StreamingBucketName string
	// ProducerCIDRs may reach the listener, e.g. ["203.0.113.0/24"]; empty means nobody.
	ProducerCIDRs []string
	// ProducerPrefixList (pl-...) may reach the listener as well.
	ProducerPrefixList string
	// ListenerPort is 80 (HTTP) or 443 (HTTPS).
	ListenerPort int
	// LogRetentionDays for every log group, e.g. 90.
	LogRetentionDays int
}

// Foundation is the part of the ingest path billed only by use.
type Foundation struct {
	props            FoundationProps
	function         *gofunction.GoFunction
	streamKey        awskms.Key
	deliveryRole     awsiam.Role
	deliveryLogGroup awslogs.LogGroup
	securityGroup    awsec2.SecurityGroup
}

// deliveryLogStream is Firehose's log stream for delivery errors.
const deliveryLogStream = "S3Delivery"

// NewFoundation creates the part billed only by use.
func NewFoundation(scope constructs.Construct, id string, props FoundationProps) *Foundation {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	n := props.Names
	streamArn := n.StreamArn(props.Region)
	s := &Foundation{props: props}

	s.streamKey = awskms.NewKey(scope, jsii.String("StreamKey"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the " + n.Stream() + " Kinesis stream"),
		EnableKeyRotation: jsii.Bool(true),
		// A rolled-back first create schedules the unused key for deletion
		// instead of leaving an orphan that bills monthly.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
	})

	s.function = gofunction.New(scope, "Handler", gofunction.Props{
		Package:          "./lambdas/ingest",
		FunctionName:     n.Function("ingest"),
		Description:      "Accepts producer events from the load balancer and puts them on the Kinesis stream",
		Environment:      map[string]string{"STREAM_NAME": n.Stream(), "DELIVERY_STREAM_NAME": n.DeliveryStream()},
		Timeout:          15 * time.Second,
		MemoryMB:         512,
		LogRetentionDays: props.LogRetentionDays,
	})
	s.function.AllowTo([]string{"kinesis:PutRecords", "kinesis:DescribeStreamSummary"}, streamArn)
	// /health is healthy only once Firehose reads the stream: it starts
	// from LATEST, so events accepted earlier would never reach S3
	// (https://docs.aws.amazon.com/firehose/latest/dev/writing-with-kinesis-streams.html).
	s.function.AllowTo([]string{"firehose:DescribeDeliveryStream"}, n.DeliveryStreamArn(props.Region))
	// Kinesis encrypts each record with a data key: producers need only this.
	s.function.AllowTo([]string{"kms:GenerateDataKey"}, *s.streamKey.KeyArn())

	s.deliveryLogGroup = loggroup.New(scope, "DeliveryLogs", props.LogRetentionDays, "")
	awslogs.NewLogStream(scope, jsii.String("DeliveryLogStream"), &awslogs.LogStreamProps{
		LogGroup:      s.deliveryLogGroup,
		LogStreamName: jsii.String(deliveryLogStream),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	s.deliveryRole = awsiam.NewRole(scope, jsii.String("DeliveryRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("firehose.amazonaws.com"), nil),
		Description: jsii.String("Firehose reads " + n.Stream() + " and writes " + props.StreamingBucketName),
	})
	allow := func(actions []string, resources ...string) {
		s.deliveryRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...),
		}))
	}
	bucketArn := "arn:aws:s3:::" + props.StreamingBucketName
	allow([]string{"kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"}, streamArn)
	allow([]string{"s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"}, bucketArn)
	allow([]string{"s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"}, bucketArn+"/"+naming.RawPrefix+"*", bucketArn+"/"+naming.ErrorsPrefix+"*")
	allow([]string{"logs:PutLogEvents"}, *s.deliveryLogGroup.LogGroupArn())
	allow([]string{"kms:Decrypt"}, *s.streamKey.KeyArn())
	nag.Suppress(s.deliveryRole, "IAM5", "Firehose writes objects with generated names under raw/ and errors/ of the one streaming bucket; the key pattern cannot be narrower.",
		nag.Resource(bucketArn+"/"+naming.RawPrefix+"*"), nag.Resource(bucketArn+"/"+naming.ErrorsPrefix+"*"))

	s.securityGroup = awsec2.NewSecurityGroup(scope, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              props.Network.Vpc(),
		Description:      jsii.String(fmt.Sprintf("Ingest load balancer: producers on TCP %d only", props.ListenerPort)),
		AllowAllOutbound: jsii.Bool(false),
	})
	port := awsec2.Port_Tcp(jsii.Number(props.ListenerPort))
	// Global Accelerator preserves client IPs, so these rules see producers' own addresses.
	// Only IPv4: the accelerator is IPv4-only, and config refuses IPv6.
	for _, cidr := range props.ProducerCIDRs {
		s.securityGroup.AddIngressRule(awsec2.Peer_Ipv4(jsii.String(cidr)), port, jsii.String("producers "+cidr), jsii.Bool(false))
	}
	if props.ProducerPrefixList != "" {
		s.securityGroup.AddIngressRule(awsec2.Peer_PrefixList(jsii.String(props.ProducerPrefixList)), port, jsii.String("producers in "+props.ProducerPrefixList), jsii.Bool(false))
	}
	return s
}

// StreamKey encrypts the stream; consumers need decrypt on it.
func (s *Foundation) StreamKey() awskms.Key { return s.streamKey }

// PipelineProps configures the live data path.
type PipelineProps struct {
	// Foundation is this region's Foundation.
	Foundation *Foundation
	// AccessLogs is the region's access-log bucket; ALB logs go under alb/.
	AccessLogs awss3.IBucket
	// CertificateArn switches the listener to HTTPS when set.
	CertificateArn string
	// BufferSeconds is Firehose's buffering interval, 0-900: data younger
	// than this may still sit in Firehose when a region fails.
	BufferSeconds int
}

// Pipeline is the live ingest path: load balancer, stream, delivery stream.
type Pipeline struct {
	loadBalancer awselasticloadbalancingv2.ApplicationLoadBalancer
	stream       awskinesis.Stream
	delivery     awskinesisfirehose.CfnDeliveryStream
}

// NewPipeline creates the live data path.
func NewPipeline(scope constructs.Construct, id string, props PipelineProps) *Pipeline {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	s := props.Foundation
	n, region := s.props.Names, s.props.Region

	stream := awskinesis.NewStream(scope, jsii.String("Stream"), &awskinesis.StreamProps{
		StreamName:      jsii.String(n.Stream()),
		StreamMode:      awskinesis.StreamMode_ON_DEMAND,
		Encryption:      awskinesis.StreamEncryption_KMS,
		EncryptionKey:   s.streamKey,
		RetentionPeriod: awscdk.Duration_Hours(jsii.Number(StreamRetention.Hours())),
		// In-flight data only: it is delivered to S3 within the buffer
		// interval, and failback drains the stream before it is removed.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

	delivery := awskinesisfirehose.NewCfnDeliveryStream(scope, jsii.String("Delivery"), &awskinesisfirehose.CfnDeliveryStreamProps{
		DeliveryStreamName: jsii.String(n.DeliveryStream()),
		DeliveryStreamType: jsii.String("KinesisStreamAsSource"),
		KinesisStreamSourceConfiguration: &awskinesisfirehose.CfnDeliveryStream_KinesisStreamSourceConfigurationProperty{
			KinesisStreamArn: stream.StreamArn(),
			RoleArn:          s.deliveryRole.RoleArn(),
		},
		ExtendedS3DestinationConfiguration: &awskinesisfirehose.CfnDeliveryStream_ExtendedS3DestinationConfigurationProperty{
			BucketArn:         jsii.String("arn:aws:s3:::" + s.props.StreamingBucketName),
			RoleArn:           s.deliveryRole.RoleArn(),
			Prefix:            jsii.String(DeliveryPrefix),
			ErrorOutputPrefix: jsii.String(DeliveryErrorPrefix),
			// Athena reads GZIP JSON Lines directly.
			CompressionFormat: jsii.String("GZIP"),
			BufferingHints: &awskinesisfirehose.CfnDeliveryStream_BufferingHintsProperty{
				IntervalInSeconds: jsii.Number(props.BufferSeconds),
				SizeInMBs:         jsii.Number(64),
			},
			CloudWatchLoggingOptions: &awskinesisfirehose.CfnDeliveryStream_CloudWatchLoggingOptionsProperty{
				Enabled:       jsii.Bool(true),
				LogGroupName:  s.deliveryLogGroup.LogGroupName(),
				LogStreamName: jsii.String(deliveryLogStream),
			},
		},
	})
	nag.Suppress(stream, "KDS3", "A customer managed key lets its key policy, not only IAM, decide who can read events, and CloudTrail logs each use by principal; at this event volume its cost is negligible.")
	// The role's policy must be in place before Firehose validates access.
	delivery.Node().AddDependency(s.deliveryRole)
	nag.Suppress(delivery, "KDF1", "Firehose cannot enable its own server-side encryption when a Kinesis stream is its source; records are encrypted in the stream with a customer managed key and in S3 with SSE-S3.")

	lb := awselasticloadbalancingv2.NewApplicationLoadBalancer(scope, jsii.String("LoadBalancer"), &awselasticloadbalancingv2.ApplicationLoadBalancerProps{
		LoadBalancerName:        jsii.String(n.Function("ingest")),
		Vpc:                     s.props.Network.Vpc(),
		VpcSubnets:              s.props.Network.Subnets(),
		InternetFacing:          jsii.Bool(false),
		SecurityGroup:           s.securityGroup,
		DropInvalidHeaderFields: jsii.Bool(true),
	})
	// The access-log bucket already allows ALB log delivery under alb/ (see
	// databucket.NewAccessLogs), so no bucket policy change is needed here.
	lb.SetAttribute(jsii.String("access_logs.s3.enabled"), jsii.String("true"))
	lb.SetAttribute(jsii.String("access_logs.s3.bucket"), props.AccessLogs.BucketName())
	lb.SetAttribute(jsii.String("access_logs.s3.prefix"), jsii.String("alb"))
	lb.SetAttribute(jsii.String("client_keep_alive.seconds"), jsii.String(fmt.Sprint(int(ClientKeepAlive.Seconds()))))
	// ELB checks that it may write to the bucket when logging is turned on:
	// the bucket and its policy must exist first (in the same stack, CloudFormation
	// would otherwise create them in parallel).
	lb.Node().AddDependency(props.AccessLogs)

	targetGroupName := n.IngestLoadBalancer()
	targets := awselasticloadbalancingv2.NewApplicationTargetGroup(scope, jsii.String("Targets"), &awselasticloadbalancingv2.ApplicationTargetGroupProps{
		TargetGroupName: jsii.String(targetGroupName),
		TargetType:      awselasticloadbalancingv2.TargetType_LAMBDA,
		// For Lambda targets ELB's defaults are a 35 s interval and a 30 s
		// timeout, and the interval must exceed the timeout; both are set,
		// short, because detection is on the failover's critical path:
		// healthy after HealthyThreshold x Interval = 20 s
		// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html).
		HealthCheck: &awselasticloadbalancingv2.HealthCheck{
			Enabled:                 jsii.Bool(true),
			Path:                    jsii.String(HealthPath),
			Interval:                awscdk.Duration_Seconds(jsii.Number(HealthCheckInterval.Seconds())),
			Timeout:                 awscdk.Duration_Seconds(jsii.Number(HealthCheckTimeout.Seconds())),
			HealthyThresholdCount:   jsii.Number(HealthCheckThreshold),
			UnhealthyThresholdCount: jsii.Number(HealthCheckThreshold),
		},
	})
	// Only this account's load balancers, through this target group, may
	// invoke the function. The ARN pattern uses the name, not a reference:
	// the target group can only register the function once this permission
	// exists.
	permission := awslambda.NewCfnPermission(scope, jsii.String("LoadBalancerInvoke"), &awslambda.CfnPermissionProps{
		Action:        jsii.String("lambda:InvokeFunction"),
		FunctionName:  s.function.Function().FunctionArn(),
		Principal:     jsii.String("elasticloadbalancing.amazonaws.com"),
		SourceAccount: awscdk.Aws_ACCOUNT_ID(),
		SourceArn:     jsii.String(fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/*", region, n.Account, targetGroupName)),
	})
	cfnTargets := targets.Node().DefaultChild().(awselasticloadbalancingv2.CfnTargetGroup)
	cfnTargets.AddPropertyOverride(jsii.String("Targets"), []map[string]any{{"Id": s.function.Function().FunctionArn()}})
	cfnTargets.AddResourceDependency(permission, jsii.String("ELB checks it may invoke the function when the target is registered"))

	listener := &awselasticloadbalancingv2.BaseApplicationListenerProps{
		Port:                jsii.Number(s.props.ListenerPort),
		Protocol:            awselasticloadbalancingv2.ApplicationProtocol_HTTP,
		DefaultTargetGroups: &[]awselasticloadbalancingv2.IApplicationTargetGroup{targets},
		// The security group already admits exactly the producers.
		Open: jsii.Bool(false),
	}
	if props.CertificateArn != "" {
		listener.Protocol = awselasticloadbalancingv2.ApplicationProtocol_HTTPS
		listener.Certificates = &[]awselasticloadbalancingv2.IListenerCertificate{
			awselasticloadbalancingv2.ListenerCertificate_FromArn(jsii.String(props.CertificateArn)),
		}
		listener.SslPolicy = awselasticloadbalancingv2.SslPolicy_RECOMMENDED_TLS
	}
	lb.AddListener(jsii.String("Listener"), listener)
	return &Pipeline{loadBalancer: lb, stream: stream, delivery: delivery}
}

// LoadBalancer is the ingest ALB, the accelerator's endpoint in this region.
func (a *Pipeline) LoadBalancer() awselasticloadbalancingv2.ApplicationLoadBalancer {
	return a.loadBalancer
}

// Stream is the Kinesis stream.
func (a *Pipeline) Stream() awskinesis.Stream { return a.stream }

// DeliveryStream is Firehose from the stream to S3. Producers must not be
// sent here before it exists: it reads the stream from LATEST.
func (a *Pipeline) DeliveryStream() awskinesisfirehose.CfnDeliveryStream { return a.delivery }
