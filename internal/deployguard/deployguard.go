// Package deployguard keeps a PrimaryStack deploy from sending traffic back
// to the primary region during a disaster. It is a CloudFormation custom
// resource (CDK Provider framework, onEvent only) that the primary endpoint
// group depends on and that mirrors the group's properties, so CloudFormation
// calls it exactly when it would update the group.
//
// Why: the failover's traffic switch sets the primary group's traffic dial to
// 0 behind CloudFormation's back, and CloudFormation's update of an
// AWS::GlobalAccelerator::EndpointGroup sends the template's dial (100 when
// the property is left out: "The default value is 100",
// https://docs.aws.amazon.com/global-accelerator/latest/api/API_UpdateEndpointGroup.html),
// so any such update would move producers back before `drctl failback` has
// brought the disaster's data home.
//
// Guarantees: Create and Update succeed only when the failover record (the
// SSM parameter the failover's table restore writes in the backup region,
// deleted by a completed failback) is absent (and, when FailoverStack is
// given, that stack too), or when the operator overrides;
// a record that cannot be read fails the deploy (a guard that cannot look is
// no guard) with the override named; Delete always succeeds. Every call has a
// deadline and every failure is one line (internal/customresource).
package deployguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/dr-analytics/drplan/internal/awserr"
	"github.com/dr-analytics/drplan/internal/customresource"
)

// Resource property names.
const (
	// PropFailoverParameter is the failover record's SSM parameter name.
	PropFailoverParameter = "FailoverParameter"
	// PropBackupRegion is where the record lives, e.g. "us-west-2".
	PropBackupRegion = "BackupRegion"
	// PropOverride is "true" when the operator deploys during DR on purpose.
	PropOverride = "Override"
	// PropOverrideKey names the config key that sets Override, for messages;
	// empty when the deploy cannot be overridden.
	PropOverrideKey = "OverrideKey"
	// PropStack names the guarded stack for messages, e.g. "PrimaryStack".
	PropStack = "Stack"
	// PropReason says what the deploy would do during DR, e.g. "set the
	// primary traffic dial back to 100 before drctl failback has run".
	PropReason = "Reason"
	// PropFailoverStack, when set, names the failover's CloudFormation
	// stack in the backup region: the deploy is refused while it exists too,
	// from failback (which deletes the record) until `cdk destroy`.
	PropFailoverStack = "FailoverStack"
)

// ReadTimeout bounds the read of the failover record in the backup region.
const ReadTimeout = 10 * time.Second

const resourceName = "primary deploy guard"

// Response is the onEvent answer to the Provider framework.
type Response = customresource.Response

// ParameterReader reads one SSM parameter; *ssm.Client is one.
type ParameterReader interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// StackReader describes one stack; *cloudformation.Client is one.
type StackReader interface {
	DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, optFns ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// Handler serves onEvent.
type Handler struct {
	// SSM returns a client for the backup region.
	SSM func(region string) ParameterReader
	// CloudFormation returns a client for the backup region.
	CloudFormation func(region string) StackReader
	// Log receives one JSON line per notable event; stdout when nil.
	Log *slog.Logger
}

// New builds a Handler from the Lambda's AWS config.
func New(cfg aws.Config) *Handler {
	return &Handler{
		SSM: func(region string) ParameterReader {
			return ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.Region = region })
		},
		CloudFormation: func(region string) StackReader {
			return cloudformation.NewFromConfig(cfg, func(o *cloudformation.Options) { o.Region = region })
		},
	}
}

// OnEvent checks the failover record on Create and Update.
func (h *Handler) OnEvent(ctx context.Context, e cfn.Event) (Response, error) {
	return customresource.Guard(h.Log, resourceName, e, func() (Response, error) { return h.onEvent(ctx, e) })
}

func (h *Handler) onEvent(ctx context.Context, e cfn.Event) (Response, error) {
	switch e.RequestType {
	case cfn.RequestDelete:
		return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
	case cfn.RequestCreate, cfn.RequestUpdate:
	default:
		return Response{}, customresource.UnknownRequestType(resourceName, e.RequestType)
	}
	text := func(key string) (string, error) { return customresource.StringProperty(e.ResourceProperties, key) }
	parameter, err := text(PropFailoverParameter)
	if err != nil {
		return Response{}, err
	}
	region, err := text(PropBackupRegion)
	if err != nil {
		return Response{}, err
	}
	override, _ := e.ResourceProperties[PropOverride].(string)
	overrideKey, _ := e.ResourceProperties[PropOverrideKey].(string)
	var stack, reason string
	stack, err = text(PropStack)
	if err == nil {
		reason, err = text(PropReason)
	}
	if err != nil {
		return Response{}, err
	}
	instead := "run drctl failback first"
	if overrideKey != "" {
		instead += ", or deploy with -c " + overrideKey + "=true"
	}
	resp := Response{PhysicalResourceID: "deploy-guard-" + e.LogicalResourceID}
	if override == "true" {
		h.log().Warn("failover record not checked: the operator overrode the guard", "parameter", parameter, "region", region)
		return resp, nil
	}
	callCtx, cancel := context.WithTimeout(ctx, ReadTimeout)
	defer cancel()
	out, err := h.SSM(region).GetParameter(callCtx, &ssm.GetParameterInput{Name: aws.String(parameter)})
	if errors.As(err, new(*ssmtypes.ParameterNotFound)) {
		failoverStack, _ := e.ResourceProperties[PropFailoverStack].(string)
		if failoverStack == "" {
			h.log().Info("no failover in progress", "parameter", parameter, "region", region)
			return resp, nil
		}
		return resp, h.checkFailoverStack(ctx, stack, reason, failoverStack, region)
	}
	if err != nil {
		unread := "allow ssm:GetParameter on it and deploy again"
		if overrideKey != "" {
			unread += ", or, if no failover is in progress, deploy with -c " + overrideKey + "=true"
		}
		return Response{}, fmt.Errorf("%s deploy refused: cannot read the failover record %s in %s (%w); %s", stack, parameter, region, err, unread)
	}
	started := "an unknown time"
	if out.Parameter != nil && out.Parameter.Value != nil {
		started = *out.Parameter.Value
	}
	return Response{}, fmt.Errorf("%s deploy refused: a failover is in progress (started %s, %s in %s), and this deploy would %s; %s", stack, started, parameter, region, reason, instead)
}

// checkFailoverStack refuses while the failover stack exists: after a
// failback deleted the record, the stack still holds its resources until
// `cdk destroy`. A deleted stack is listed as DELETE_COMPLETE when asked for
// by id (CloudFormation API Reference, DescribeStacks).
func (h *Handler) checkFailoverStack(ctx context.Context, stack, reason, failoverStack, region string) error {
	callCtx, cancel := context.WithTimeout(ctx, ReadTimeout)
	defer cancel()
	out, err := h.CloudFormation(region).DescribeStacks(callCtx, &cloudformation.DescribeStacksInput{StackName: aws.String(failoverStack)})
	if awserr.StackNotFound(err) {
		h.log().Info("no failover in progress", "failover_stack", failoverStack, "region", region)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s deploy refused: cannot tell whether stack %s exists in %s (%w); allow cloudformation:DescribeStacks on it and deploy again", stack, failoverStack, region, err)
	}
	for _, s := range out.Stacks {
		if s.StackStatus != cfntypes.StackStatusDeleteComplete {
			return fmt.Errorf("%s deploy refused: stack %s still exists in %s (%s), and this deploy would %s; finish the failback with `cdk destroy BackupFailoverStack --exclusively --force` first", stack, failoverStack, region, s.StackStatus, reason)
		}
	}
	return nil
}

func (h *Handler) log() *slog.Logger { return customresource.Logger(h.Log) }
