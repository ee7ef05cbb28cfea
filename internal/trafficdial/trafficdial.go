// Package trafficdial is the failover traffic dial: a CloudFormation custom
// resource behind the CDK Provider framework that turns the primary region's
// Global Accelerator endpoint group down (to DialPercentage, 0 by default)
// while the failover stack exists, and back to 100 when it is deleted.
//
// Guarantees: it only ever changes the traffic dial of the one endpoint
// group in PrimaryRegion; a missing group (nothing to drain) or, on Delete,
// a missing listener is success; every call goes to the Global Accelerator
// control plane (config.GlobalAcceleratorControlRegion) with a deadline; it
// never panics out, and every failure is a one-line error naming the
// listener and what to do (see internal/customresource).
package trafficdial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator/types"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/customresource"
)

// Resource property names.
const (
	PropListenerArn    = "ListenerArn"
	PropPrimaryRegion  = "PrimaryRegion"
	PropDialPercentage = "DialPercentage"
)

// Data keys (Fn::GetAtt names). Every key is always present; "none" when
// the listener has no group in the primary region.
const (
	DataEndpointGroupArn = "EndpointGroupArn"
	DataPreviousDial     = "PreviousDial"
	DataDial             = "Dial"
	DataPrimaryGroup     = "PrimaryGroup" // "found" or "none"
)

const (
	none         = "none"
	found        = "found"
	restoredDial = float32(100)
	maxPages     = 1000
	resourceName = "traffic dial"
)

var (
	// arn:aws:globalaccelerator::ACCOUNT:accelerator/ID/listener/ID
	listenerArnPattern = regexp.MustCompile(`^arn:aws[a-z-]*:globalaccelerator::[0-9]{12}:accelerator/[^/]+/listener/([^/]+)$`)
	regionPattern      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// Response is the onEvent answer to the Provider framework.
type Response = customresource.Response

// Handler serves onEvent.
type Handler struct {
	// GlobalAccelerator must be a client for
	// config.GlobalAcceleratorControlRegion.
	GlobalAccelerator *globalaccelerator.Client
	// CallTimeout bounds each call; customresource.DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// Log receives one JSON line per notable event; stdout when nil.
	Log *slog.Logger
}

// New builds a Handler whose client talks to the control plane region.
func New(cfg aws.Config) *Handler {
	return &Handler{GlobalAccelerator: globalaccelerator.NewFromConfig(cfg, func(o *globalaccelerator.Options) {
		o.Region = config.GlobalAcceleratorControlRegion
	})}
}

type properties struct {
	ListenerArn, PrimaryRegion string
	listenerID                 string
	Dial                       float32
}

func parseProperties(raw map[string]any) (properties, error) {
	var p properties
	text := func(key string) (string, error) { return customresource.StringProperty(raw, key) }
	var err error
	if p.ListenerArn, err = text(PropListenerArn); err != nil {
		return p, err
	}
	m := listenerArnPattern.FindStringSubmatch(p.ListenerArn)
	if m == nil {
		return p, fmt.Errorf("property ListenerArn is %q: give the accelerator listener's ARN, arn:aws:globalaccelerator::ACCOUNT:accelerator/ID/listener/ID", p.ListenerArn)
	}
	p.listenerID = m[1]
	if p.PrimaryRegion, err = text(PropPrimaryRegion); err != nil {
		return p, err
	}
	if !regionPattern.MatchString(p.PrimaryRegion) {
		return p, fmt.Errorf("property PrimaryRegion is %q: give a region name such as us-east-1", p.PrimaryRegion)
	}
	dial, err := text(PropDialPercentage)
	if err != nil {
		return p, err
	}
	if dial == "" {
		dial = "0"
	}
	v, perr := strconv.ParseFloat(dial, 32)
	if perr != nil || v < 0 || v > 100 {
		return p, fmt.Errorf("property DialPercentage is %q: give a number from 0 to 100", dial)
	}
	p.Dial = float32(v)
	return p, nil
}

func (p properties) physicalID() string { return "dial-" + p.listenerID + "-" + p.PrimaryRegion }

// OnEvent sets the dial on Create and Update and resets it to 100 on Delete.
func (h *Handler) OnEvent(ctx context.Context, e cfn.Event) (Response, error) {
	return customresource.Guard(h.Log, resourceName, e, func() (Response, error) { return h.onEvent(ctx, e) })
}

func (h *Handler) onEvent(ctx context.Context, e cfn.Event) (Response, error) {
	p, perr := parseProperties(e.ResourceProperties)
	switch e.RequestType {
	case cfn.RequestCreate, cfn.RequestUpdate:
		if perr != nil {
			return Response{}, fmt.Errorf("traffic dial %s: %w", e.LogicalResourceID, perr)
		}
		return h.set(ctx, p, p.Dial, false)
	case cfn.RequestDelete:
		if perr != nil {
			// Nothing valid was ever set (the Create failed on the same input).
			h.log().Warn("delete with invalid properties: nothing to reset", "physical_id", e.PhysicalResourceID, "reason", perr.Error())
			return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
		}
		resp, err := h.set(ctx, p, restoredDial, true)
		// Keep the id CloudFormation knows; the framework rejects a change on Delete.
		resp.PhysicalResourceID = e.PhysicalResourceID
		return resp, err
	}
	return Response{}, customresource.UnknownRequestType(resourceName, e.RequestType)
}

// set moves the primary group's dial to want. With missingListenerOK (on
// Delete) a listener that is gone is success: there is nothing to reset.
func (h *Handler) set(ctx context.Context, p properties, want float32, missingListenerOK bool) (Response, error) {
	resp := Response{PhysicalResourceID: p.physicalID(), Data: map[string]string{
		DataEndpointGroupArn: none, DataPreviousDial: none, DataDial: none, DataPrimaryGroup: none,
	}}
	group, err := h.primaryGroup(ctx, p)
	var notFound *types.ListenerNotFoundException
	if missingListenerOK && errors.As(err, &notFound) {
		h.log().Info("listener is gone; nothing to reset", "listener_arn", p.ListenerArn)
		return resp, nil
	}
	if err != nil {
		return Response{}, fmt.Errorf("set traffic dial of %s on listener %s: list endpoint groups in %s: %w; check ListenerArn and allow globalaccelerator:ListEndpointGroups", p.PrimaryRegion, p.ListenerArn, config.GlobalAcceleratorControlRegion, err)
	}
	if group == nil {
		h.log().Info("no endpoint group in the primary region; nothing to drain", "listener_arn", p.ListenerArn, "region", p.PrimaryRegion)
		return resp, nil
	}
	arn := aws.ToString(group.EndpointGroupArn)
	previous := restoredDial // the service's default when the dial is unset
	if group.TrafficDialPercentage != nil {
		previous = *group.TrafficDialPercentage
	}
	resp.Data = map[string]string{
		DataEndpointGroupArn: arn, DataPreviousDial: formatDial(previous), DataDial: formatDial(want), DataPrimaryGroup: found,
	}
	if previous == want {
		h.log().Info("traffic dial already set", "endpoint_group_arn", arn, "dial", want)
		return resp, nil
	}
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	_, err = h.GlobalAccelerator.UpdateEndpointGroup(callCtx, &globalaccelerator.UpdateEndpointGroupInput{
		EndpointGroupArn: aws.String(arn), TrafficDialPercentage: aws.Float32(want),
	})
	var groupGone *types.EndpointGroupNotFoundException
	if missingListenerOK && errors.As(err, &groupGone) {
		h.log().Info("endpoint group is gone; nothing to reset", "endpoint_group_arn", arn)
		return resp, nil
	}
	if err != nil {
		return Response{}, fmt.Errorf("set traffic dial of endpoint group %s (%s) on listener %s to %s%%: %w; allow globalaccelerator:UpdateEndpointGroup and deploy again", arn, p.PrimaryRegion, p.ListenerArn, formatDial(want), err)
	}
	h.log().Info("traffic dial set", "endpoint_group_arn", arn, "previous", previous, "dial", want)
	return resp, nil
}

// primaryGroup finds the listener's endpoint group in the primary region.
func (h *Handler) primaryGroup(ctx context.Context, p properties) (*types.EndpointGroup, error) {
	pager := globalaccelerator.NewListEndpointGroupsPaginator(h.GlobalAccelerator,
		&globalaccelerator.ListEndpointGroupsInput{ListenerArn: aws.String(p.ListenerArn)},
		func(o *globalaccelerator.ListEndpointGroupsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for pages := 0; pager.HasMorePages() && pages < maxPages; pages++ {
		callCtx, cancel := h.deadline(ctx)
		page, err := pager.NextPage(callCtx)
		cancel()
		if err != nil {
			return nil, err
		}
		for i := range page.EndpointGroups {
			if aws.ToString(page.EndpointGroups[i].EndpointGroupRegion) == p.PrimaryRegion {
				return &page.EndpointGroups[i], nil
			}
		}
	}
	return nil, nil
}

func formatDial(v float32) string { return strconv.FormatFloat(float64(v), 'f', -1, 32) }

func (h *Handler) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return customresource.CallContext(ctx, h.CallTimeout)
}

func (h *Handler) log() *slog.Logger { return customresource.Logger(h.Log) }
