// Package traffic builds what moves producers between regions: the Global
// Accelerator (one stable address) and its listener, owned by the backup
// region; each region's endpoint group, owned by the stack that owns that
// region's load balancer; and the TrafficSwitch that turns the primary's
// traffic dial to 0 during failover. Nothing here lets the backup region
// depend on the primary: the primary reads the listener ARN from the backup
// region at deploy time, never the other way round.
package traffic

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglobalaccelerator"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/gofunction"
	"github.com/dr-analytics/drplan/constructs/goprovider"
	"github.com/dr-analytics/drplan/constructs/loggroup"
	"github.com/dr-analytics/drplan/constructs/nag"
)

// AcceleratorProps configures the accelerator.
type AcceleratorProps struct {
	// Name, e.g. "dr-analytics-ingest".
	Name string
	// Port producers connect to: 80 or 443.
	Port int
	// ListenerParameter is the SSM parameter name that publishes the
	// listener ARN in this region, e.g. "/dr-analytics/accelerator/listener-arn".
	ListenerParameter string
}

// Accelerator is the accelerator and its TCP listener.
type Accelerator struct {
	accelerator awsglobalaccelerator.Accelerator
	listener    awsglobalaccelerator.Listener
}

// NewAccelerator creates the accelerator, its listener, and the SSM
// parameter through which the primary stack finds the listener.
func NewAccelerator(scope constructs.Construct, id string, props AcceleratorProps) *Accelerator {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	acc := awsglobalaccelerator.NewAccelerator(scope, jsii.String("Accelerator"), &awsglobalaccelerator.AcceleratorProps{
		AcceleratorName: jsii.String(props.Name),
		Enabled:         jsii.Bool(true),
	})
	listener := acc.AddListener(jsii.String("Listener"), &awsglobalaccelerator.ListenerOptions{
		ListenerName: jsii.String(props.Name),
		Protocol:     awsglobalaccelerator.ConnectionProtocol_TCP,
		PortRanges:   &[]*awsglobalaccelerator.PortRange{{FromPort: jsii.Number(props.Port), ToPort: jsii.Number(props.Port)}},
		// Events are independent requests: no need to pin producers to an endpoint.
		ClientAffinity: awsglobalaccelerator.ClientAffinity_NONE,
	})
	awsssm.NewStringParameter(scope, jsii.String("ListenerArn"), &awsssm.StringParameterProps{
		ParameterName: jsii.String(props.ListenerParameter),
		StringValue:   listener.ListenerArn(),
		Description:   jsii.String("Global Accelerator listener for ingest; PrimaryStack reads it at deploy time"),
	})
	awscdk.NewCfnOutput(scope, jsii.String("IngestAddress"), &awscdk.CfnOutputProps{
		Description: jsii.String("Producers send events here (static anycast DNS name of the accelerator)"),
		Value:       acc.DnsName(),
	})
	return &Accelerator{accelerator: acc, listener: listener}
}

// ListenerArn is the listener's ARN.
func (a *Accelerator) ListenerArn() *string { return a.listener.ListenerArn() }

// Accelerator is the Global Accelerator.
func (a *Accelerator) Accelerator() awsglobalaccelerator.Accelerator { return a.accelerator }

// LookupProps configures the listener lookup.
type LookupProps struct {
	// ParameterName published by NewAccelerator.
	ParameterName string
	// ParameterArn is its ARN in the backup region.
	ParameterArn string
	// Region is the backup region, e.g. "us-west-2".
	Region string
	// LogRetentionDays for the lookup function's logs.
	LogRetentionDays int
}

// awsCustomResourceSingleton is the construct id CDK gives AwsCustomResource's shared function.
const awsCustomResourceSingleton = "AWS679f53fac002430cb0da5b7982bd2287"

// LookupListenerArn reads the listener ARN from the backup region at deploy
// time. The read happens in the primary stack's deployment: the backup
// region never waits on the primary.
func LookupListenerArn(scope constructs.Construct, id string, props LookupProps) *string {
	call := &customresources.AwsSdkCall{
		Service:            jsii.String("SSM"),
		Action:             jsii.String("getParameter"),
		Parameters:         map[string]any{"Name": props.ParameterName},
		Region:             jsii.String(props.Region),
		PhysicalResourceId: customresources.PhysicalResourceId_Of(jsii.String(props.ParameterArn)),
	}
	lookup := customresources.NewAwsCustomResource(scope, jsii.String(id), &customresources.AwsCustomResourceProps{
		OnCreate:            call,
		OnUpdate:            call,
		Policy:              customresources.AwsCustomResourcePolicy_FromSdkCalls(&customresources.SdkCallsPolicyOptions{Resources: jsii.Strings(props.ParameterArn)}),
		InstallLatestAwsSdk: jsii.Bool(false),
		LogGroup:            loggroup.New(scope, id+"Logs", props.LogRetentionDays, ""),
	})
	// AwsCustomResource runs CDK's singleton Node.js function, one per stack.
	if singleton := awscdk.Stack_Of(scope).Node().TryFindChild(jsii.String(awsCustomResourceSingleton)); singleton != nil {
		nag.Suppress(singleton, "IAM4", "CDK's AwsCustomResource function writes its own logs with AWSLambdaBasicExecutionRole; its SDK call is limited to reading one SSM parameter.")
		nag.Suppress(singleton, "L1", "AwsCustomResource's Node.js runtime is chosen and updated by the CDK version in go.mod, not by this app.")
	}
	return lookup.GetResponseField(jsii.String("Parameter.Value"))
}

// EndpointGroupProps configures one region's endpoint group.
type EndpointGroupProps struct {
	// ListenerArn of the accelerator's listener.
	ListenerArn *string
	// Region of the load balancer, e.g. "us-east-1".
	Region string
	// LoadBalancerArn is the region's ingest ALB.
	LoadBalancerArn *string
	// Port the ALB listens on.
	Port int
	// HealthCheckPath, e.g. "/health".
	HealthCheckPath string
	// TrafficDial is the share of traffic this region takes, 0-100.
	TrafficDial int
}

// NewEndpointGroup adds a region's load balancer to the listener, keeping
// producers' IP addresses so the ALB's security group can admit them.
func NewEndpointGroup(scope constructs.Construct, id string, props EndpointGroupProps) awsglobalaccelerator.CfnEndpointGroup {
	return awsglobalaccelerator.NewCfnEndpointGroup(scope, jsii.String(id), &awsglobalaccelerator.CfnEndpointGroupProps{
		ListenerArn:         props.ListenerArn,
		EndpointGroupRegion: jsii.String(props.Region),
		EndpointConfigurations: &[]any{&awsglobalaccelerator.CfnEndpointGroup_EndpointConfigurationProperty{
			EndpointId:                  props.LoadBalancerArn,
			ClientIpPreservationEnabled: jsii.Bool(true),
			Weight:                      jsii.Number(128),
		}},
		TrafficDialPercentage: jsii.Number(props.TrafficDial),
		// For ALB endpoints Global Accelerator follows the load balancer's own
		// target health (the target group checks the same path); these
		// settings state the same check for readers and for other endpoint types.
		HealthCheckPath:            jsii.String(props.HealthCheckPath),
		HealthCheckPort:            jsii.Number(props.Port),
		HealthCheckProtocol:        jsii.String(healthCheckProtocol(props.Port)),
		HealthCheckIntervalSeconds: jsii.Number(10),
		ThresholdCount:             jsii.Number(3),
	})
}

func healthCheckProtocol(port int) string {
	if port == 443 {
		return "HTTPS"
	}
	return "HTTP"
}

// DialProviderProps configures the traffic switch provider.
type DialProviderProps struct {
	// FunctionName, e.g. "dr-analytics-traffic-dial".
	FunctionName string
	// Accelerator scopes the function's permissions to its own ARN.
	Accelerator awsglobalaccelerator.Accelerator
	// LogRetentionDays for the function's logs.
	LogRetentionDays int
}

// NewDialProvider creates the custom resource provider that turns a region's
// traffic dial, in the backup region and ready before it is needed.
func NewDialProvider(scope constructs.Construct, id string, props DialProviderProps) customresources.Provider {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	fn := gofunction.New(scope, "Handler", gofunction.Props{
		Package:          "./lambdas/trafficdial",
		FunctionName:     props.FunctionName,
		Description:      "Sets the primary region's Global Accelerator traffic dial during failover",
		Timeout:          2 * time.Minute,
		LogRetentionDays: props.LogRetentionDays,
	})
	// Listener and endpoint group ARNs extend the accelerator's ARN.
	fn.AllowTo([]string{"globalaccelerator:ListEndpointGroups", "globalaccelerator:DescribeEndpointGroup", "globalaccelerator:UpdateEndpointGroup"},
		*props.Accelerator.AcceleratorArn(), *props.Accelerator.AcceleratorArn()+"/*")
	nag.Suppress(fn.Role(), "IAM5", "Listener and endpoint group ARNs are children of the one accelerator ARN; the pattern covers exactly this accelerator's listener and groups.",
		nag.Attribute(props.Accelerator, "AcceleratorArn", "/*"))
	return goprovider.New(scope, "Provider", goprovider.Props{OnEvent: fn, LogRetentionDays: props.LogRetentionDays})
}

// TrafficSwitchProps configures the failover's traffic switch.
type TrafficSwitchProps struct {
	// ServiceToken of the dial provider (NewDialProvider).
	ServiceToken *string
	// ListenerArn of the accelerator's listener.
	ListenerArn *string
	// PrimaryRegion whose endpoint group's dial goes to 0.
	PrimaryRegion string
}

// NewTrafficSwitch turns the primary region's traffic dial to 0 when created
// and back to 100 when deleted (cdk destroy BackupFailoverStack). It finds
// the primary's endpoint group through the Global Accelerator API by region,
// not through any primary-region stack.
func NewTrafficSwitch(scope constructs.Construct, id string, props TrafficSwitchProps) awscdk.CustomResource {
	return awscdk.NewCustomResource(scope, jsii.String(id), &awscdk.CustomResourceProps{
		ServiceToken: props.ServiceToken,
		ResourceType: jsii.String("Custom::TrafficDial"),
		Properties: &map[string]any{
			"ListenerArn":    props.ListenerArn,
			"PrimaryRegion":  props.PrimaryRegion,
			"DialPercentage": "0",
		},
	})
}
