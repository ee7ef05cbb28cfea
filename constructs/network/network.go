// Package network builds the ingest VPC: isolated subnets in two
// Availability Zones and no NAT gateway, so it costs nothing while idle. It
// has an internet gateway with no routes to it: Global Accelerator needs one
// attached to send traffic to an internal load balancer, and without routes
// nothing in the VPC can reach the internet. Flow logs record every
// connection attempt.
package network

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/loggroup"
)

// Props configures the VPC.
type Props struct {
	// Name tags the VPC, e.g. "dr-analytics-ingest".
	Name string
	// LogRetentionDays keeps flow logs, e.g. 90.
	LogRetentionDays int
}

// Network is the ingest VPC.
type Network struct {
	vpc awsec2.Vpc
}

// New creates the VPC.
func New(scope constructs.Construct, id string, props Props) *Network {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	vpc := awsec2.NewVpc(scope, jsii.String("Vpc"), &awsec2.VpcProps{
		VpcName:     jsii.String(props.Name),
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String("10.20.0.0/16")),
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{
			Name:       jsii.String("ingest"),
			SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED,
			CidrMask:   jsii.Number(24),
		}},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"All": {
				Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(loggroup.New(scope, "FlowLogs", props.LogRetentionDays, ""), nil),
				TrafficType: awsec2.FlowLogTrafficType_ALL,
			},
		},
	})
	igw := awsec2.NewCfnInternetGateway(scope, jsii.String("InternetGateway"), &awsec2.CfnInternetGatewayProps{})
	awsec2.NewCfnVPCGatewayAttachment(scope, jsii.String("InternetGatewayAttachment"), &awsec2.CfnVPCGatewayAttachmentProps{
		VpcId:             vpc.VpcId(),
		InternetGatewayId: igw.Ref(),
	})
	return &Network{vpc: vpc}
}

// Vpc is the VPC.
func (n *Network) Vpc() awsec2.Vpc { return n.vpc }

// Subnets selects the isolated subnets the load balancer uses.
func (n *Network) Subnets() *awsec2.SubnetSelection {
	return &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}
}
