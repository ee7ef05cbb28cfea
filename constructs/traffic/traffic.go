// Package traffic builds what moves producers between regions: the Global
// Accelerator (one stable address) and its listener, owned by the backup
// region; each region's endpoint group, owned by the stack that owns that
// region's load balancer; and the TrafficSwitch that turns the primary's
// traffic dial to 0 during failover. Nothing here lets the backup region
// depend on the primary: the primary reads the listener ARN from the backup
// region at deploy time, never the other way round.
package traffic

import (
	"fmt"
	"strings"
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
	"github.com/dr-analytics/drplan/internal/deployguard"
	"github.com/dr-analytics/drplan/internal/recoverytime"
	"github.com/dr-analytics/drplan/internal/trafficdial"
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
	// TrafficDial is the share of traffic this region takes, 0-100.
	TrafficDial int
	// Weight of the load balancer endpoint: ActiveWeight, or IdleWeight for
	// a pre-built endpoint that must stay out of traffic, failover included,
	// until the failover gives it ActiveWeight.
	Weight int
	// WaitFor must exist before producers are sent to this group, e.g. the
	// region's Firehose delivery stream (it reads Kinesis from LATEST).
	WaitFor []constructs.IDependable
	// Guard, when set, is checked by CloudFormation before every change to
	// the group (see NewDeployGuard); GuardReason says what such a change
	// would do during a failover, e.g. "set the primary traffic dial back to
	// 100 before drctl failback has run".
	Guard       *DeployGuard
	GuardReason string
}

// Endpoint weights: ActiveWeight takes traffic (Global Accelerator's
// default, 128); IdleWeight keeps a pre-built endpoint out of traffic,
// failover included.
const (
	ActiveWeight = 128
	IdleWeight   = trafficdial.IdleEndpointWeight
)

// NewEndpointGroup adds a region's load balancer to the listener, keeping
// producers' IP addresses so the ALB's security group can admit them.
//
// It sets no health check: for Application Load Balancer endpoints Global
// Accelerator uses the load balancer's own target health ("For Network Load
// Balancer and Application Load Balancer endpoints, configure health check
// settings on the Elastic Load Balancing console",
// https://docs.aws.amazon.com/global-accelerator/latest/dg/about-endpoint-groups.html),
// so the endpoint group's health check settings would be ignored.
func NewEndpointGroup(scope constructs.Construct, id string, props EndpointGroupProps) awsglobalaccelerator.CfnEndpointGroup {
	endpoints := &[]any{&awsglobalaccelerator.CfnEndpointGroup_EndpointConfigurationProperty{
		EndpointId:                  props.LoadBalancerArn,
		ClientIpPreservationEnabled: jsii.Bool(true),
		Weight:                      jsii.Number(props.Weight),
	}}
	group := awsglobalaccelerator.NewCfnEndpointGroup(scope, jsii.String(id), &awsglobalaccelerator.CfnEndpointGroupProps{
		ListenerArn:            props.ListenerArn,
		EndpointGroupRegion:    jsii.String(props.Region),
		EndpointConfigurations: endpoints,
		TrafficDialPercentage:  jsii.Number(props.TrafficDial),
	})
	for _, d := range props.WaitFor {
		group.Node().AddDependency(d)
	}
	if g := props.Guard; g != nil {
		// The guard carries the group's own properties, so CloudFormation
		// calls it exactly when it would update the group, and first.
		group.Node().AddDependency(g.Check(scope, id+"Guard", props.GuardReason, map[string]any{
			"ListenerArn":           props.ListenerArn,
			"EndpointGroupRegion":   props.Region,
			"EndpointId":            props.LoadBalancerArn,
			"TrafficDialPercentage": fmt.Sprint(props.TrafficDial),
			"Weight":                fmt.Sprint(props.Weight),
		}))
	}
	return group
}

// DeployGuardProps configures a stack's deploy guard.
type DeployGuardProps struct {
	// Stack names the guarded stack in its refusals, e.g. "PrimaryStack".
	Stack string
	// FunctionName, e.g. "dr-analytics-deploy-guard".
	FunctionName string
	// FailoverParameter is the failover record, e.g. "/dr-analytics/failover/started-at".
	FailoverParameter string
	// FailoverParameterArn is its ARN in BackupRegion.
	FailoverParameterArn string
	// FailoverStackArn, when set, lets checks given
	// deployguard.PropFailoverStack look the failover stack up, e.g.
	// "arn:aws:cloudformation:us-west-2:123456789012:stack/dr-analytics-backup-failover/*".
	FailoverStackArn string
	// BackupRegion holds the record, e.g. "us-west-2".
	BackupRegion string
	// Override lets the deploy run during a failover (operator's choice).
	Override bool
	// OverrideKey is the config key that sets Override, for the refusal
	// message; "" when the stack offers no override.
	OverrideKey string
	// LogRetentionDays for the function's logs.
	LogRetentionDays int
}

// DeployGuard refuses a deploy that would undo a failover while one is
// recorded: CloudFormation's update of an endpoint group sends the
// template's traffic dial (and weights), although the failover changed them
// behind its back; and a tier switch would create fixed-name resources the
// failover stack already holds.
type DeployGuard struct {
	props    DeployGuardProps
	provider customresources.Provider
}

// NewDeployGuard creates the guard's function and provider.
func NewDeployGuard(scope constructs.Construct, id string, props DeployGuardProps) *DeployGuard {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	fn := gofunction.New(scope, "Handler", gofunction.Props{
		Package:          "./lambdas/deployguard",
		FunctionName:     props.FunctionName,
		Description:      "Refuses a " + props.Stack + " deploy that would undo a failover in progress",
		Timeout:          time.Minute,
		LogRetentionDays: props.LogRetentionDays,
	})
	fn.AllowTo([]string{"ssm:GetParameter"}, props.FailoverParameterArn)
	if props.FailoverStackArn != "" {
		fn.AllowTo([]string{"cloudformation:DescribeStacks"}, props.FailoverStackArn)
		nag.Suppress(fn.Role(), "IAM5", "A stack ARN ends in the stack's id, unknown until the failover stack is created; the pattern names the one failover stack.",
			nag.Resource(props.FailoverStackArn))
	}
	provider := goprovider.New(scope, "Provider", goprovider.Props{OnEvent: fn, LogRetentionDays: props.LogRetentionDays})
	return &DeployGuard{props: props, provider: provider}
}

// Check adds a guard resource that CloudFormation runs whenever one of the
// mirrored values changes; make the guarded resources depend on it. reason
// says what the change would do during a failover.
func (g *DeployGuard) Check(scope constructs.Construct, id, reason string, mirrored map[string]any) awscdk.CustomResource {
	properties := map[string]any{
		deployguard.PropFailoverParameter: g.props.FailoverParameter,
		deployguard.PropBackupRegion:      g.props.BackupRegion,
		deployguard.PropOverride:          fmt.Sprint(g.props.Override),
		deployguard.PropOverrideKey:       g.props.OverrideKey,
		deployguard.PropStack:             g.props.Stack,
		deployguard.PropReason:            reason,
	}
	for k, v := range mirrored {
		properties[k] = v
	}
	return awscdk.NewCustomResource(scope, jsii.String(id), &awscdk.CustomResourceProps{
		ServiceToken: g.provider.ServiceToken(),
		ResourceType: jsii.String("Custom::DeployGuard"),
		Properties:   &properties,
	})
}

// DialProviderProps configures the traffic switch provider.
type DialProviderProps struct {
	// FunctionName, e.g. "dr-analytics-traffic-dial".
	FunctionName string
	// Accelerator scopes the function's permissions to its own ARN.
	Accelerator awsglobalaccelerator.Accelerator
	// FailoverRecordParameter keeps the failover's measured times, e.g.
	// "/dr-analytics/failover/last" (naming.Names.FailoverRecordParameter).
	FailoverRecordParameter string
	// FailoverRecordParameterArn is its ARN in this (the backup) region.
	FailoverRecordParameterArn string
	// LogRetentionDays for the function's logs.
	LogRetentionDays int
}

// HealthyTimeout bounds how long the traffic switch waits for the backup
// region's endpoint group to report HEALTHY before it fails, leaving the
// primary dial as it was. The backup target group needs two 10 s checks
// once the stream and delivery stream are ACTIVE; Global Accelerator then
// reports the endpoint's health within about a minute.
const HealthyTimeout = 10 * time.Minute

// NewDialProvider creates the custom resource provider that turns a region's
// traffic dial, in the backup region and ready before it is needed. Its
// isComplete half waits for the backup endpoint group to be HEALTHY first.
func NewDialProvider(scope constructs.Construct, id string, props DialProviderProps) customresources.Provider {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	handler := func(id, mode, description string) *gofunction.GoFunction {
		fn := gofunction.New(scope, id, gofunction.Props{
			Package:          "./lambdas/trafficdial",
			FunctionName:     props.FunctionName + "-" + strings.ToLower(mode),
			Description:      description,
			Environment:      map[string]string{"HANDLER": mode, recoverytime.EnvFailoverRecordParameter: props.FailoverRecordParameter},
			Timeout:          2 * time.Minute,
			LogRetentionDays: props.LogRetentionDays,
		})
		// Listener and endpoint group ARNs extend the accelerator's ARN.
		fn.AllowTo([]string{"globalaccelerator:ListEndpointGroups", "globalaccelerator:DescribeEndpointGroup", "globalaccelerator:UpdateEndpointGroup"},
			*props.Accelerator.AcceleratorArn(), *props.Accelerator.AcceleratorArn()+"/*")
		// The poll that moves the dial records when (internal/recoverytime).
		fn.AllowTo([]string{"ssm:GetParameter", "ssm:PutParameter"}, props.FailoverRecordParameterArn)
		nag.Suppress(fn.Role(), "IAM5", "Listener and endpoint group ARNs are children of the one accelerator ARN; the pattern covers exactly this accelerator's listener and groups.",
			nag.Attribute(props.Accelerator, "AcceleratorArn", "/*"))
		return fn
	}
	return goprovider.New(scope, "Provider", goprovider.Props{
		OnEvent:          handler("Handler", "onEvent", "Sets the primary region's Global Accelerator traffic dial during failover"),
		IsComplete:       handler("IsComplete", "isComplete", "Turns the primary traffic dial once the backup endpoint group is HEALTHY"),
		QueryInterval:    15 * time.Second,
		TotalTimeout:     HealthyTimeout + 5*time.Minute,
		LogRetentionDays: props.LogRetentionDays,
	})
}

// TrafficSwitchProps configures the failover's traffic switch.
type TrafficSwitchProps struct {
	// ServiceToken of the dial provider (NewDialProvider).
	ServiceToken *string
	// ListenerArn of the accelerator's listener.
	ListenerArn *string
	// PrimaryRegion whose endpoint group's dial goes to 0.
	PrimaryRegion string
	// BackupRegion whose endpoint group must be HEALTHY first.
	BackupRegion string
	// JoinBackupEndpoint gives the backup group's pre-built endpoint
	// ActiveWeight first, and puts it back to idle on delete (pilot-light).
	JoinBackupEndpoint bool
}

// NewTrafficSwitch turns the primary region's traffic dial to 0 when created,
// once the backup region's endpoint group is HEALTHY (within HealthyTimeout,
// else it fails and leaves the dial), and back to 100 when deleted (cdk
// destroy BackupFailoverStack). It finds both endpoint groups through the
// Global Accelerator API by region, not through any primary-region stack.
func NewTrafficSwitch(scope constructs.Construct, id string, props TrafficSwitchProps) awscdk.CustomResource {
	properties := map[string]any{
		trafficdial.PropListenerArn:           props.ListenerArn,
		trafficdial.PropPrimaryRegion:         props.PrimaryRegion,
		trafficdial.PropBackupRegion:          props.BackupRegion,
		trafficdial.PropDialPercentage:        "0",
		trafficdial.PropHealthyTimeoutSeconds: fmt.Sprint(int(HealthyTimeout.Seconds())),
	}
	if props.JoinBackupEndpoint {
		properties[trafficdial.PropBackupEndpointWeight] = fmt.Sprint(ActiveWeight)
	}
	return awscdk.NewCustomResource(scope, jsii.String(id), &awscdk.CustomResourceProps{
		ServiceToken: props.ServiceToken,
		ResourceType: jsii.String("Custom::TrafficDial"),
		Properties:   &properties,
	})
}
