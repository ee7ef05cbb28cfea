// Package trafficdial is the failover traffic dial: a CloudFormation custom
// resource behind the CDK Provider framework (onEvent + isComplete, one
// binary, HANDLER picks the call) that turns the primary region's Global
// Accelerator endpoint group down (to DialPercentage, 0 by default) once
// the backup region's endpoint group reports HEALTHY, and back to 100 when
// the failover stack is deleted.
//
// The poll that moves the dial adds when the backup group was HEALTHY and
// when the dial had moved to the failover's measured times
// (internal/recoverytime, when FailoverRecordParameter is set); recording
// never fails the failover.
//
// Guarantees: it only ever changes the traffic dial of the one endpoint
// group in PrimaryRegion. On Create and Update it moves that dial only
// after the BackupRegion group has an endpoint that is HEALTHY with a
// weight above 0, so a finished deploy means producers are served by the
// backup region; if that does not happen within HealthyTimeoutSeconds it
// fails with one line naming the backup group and its endpoints' health,
// and the primary dial is left as it was. Delete resets the dial to 100 at
// once, without waiting. A missing primary group (nothing to drain) or, on
// Delete, a missing listener is success; every call goes to the Global
// Accelerator control plane (config.GlobalAcceleratorControlRegion) with a
// deadline; it never panics out, and every failure is a one-line error
// naming the listener and what to do (see internal/customresource).
//
// The Global Accelerator rules this works with (Global Accelerator
// Developer Guide):
//   - A traffic dial applies to new connections only: "when you change a
//     traffic dial, the updated setting applies to only new connections.
//     Existing connections are not terminated" ("Use traffic dials to
//     adjust traffic flow to Regions"). A producer's open connection keeps
//     going to the primary region until it closes.
//   - When an endpoint group has no healthy endpoint with a weight above
//     0, Global Accelerator fails over to a healthy endpoint in another
//     group and ignores traffic dials for that failover (a group dialled to
//     0 still takes it) ("How failover works for unhealthy endpoints").
//   - When it finds no healthy endpoint in the three closest groups, it
//     fails open: traffic goes to a random endpoint of the closest group
//     (same page).
//
// One HEALTHY endpoint is enough for the backup group: Global Accelerator
// routes a group's traffic to its healthy weighted endpoints, so waiting
// for every endpoint would block on ones it does not need. The group's
// only endpoint here is the ingest ALB, whose health is its target group's
// GET /health (the Kinesis stream and the Firehose delivery stream).
package trafficdial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/customresource"
	"github.com/dr-analytics/drplan/internal/recoverytime"
)

// Resource property names.
const (
	PropListenerArn    = "ListenerArn"
	PropPrimaryRegion  = "PrimaryRegion"
	PropDialPercentage = "DialPercentage"
	// PropBackupRegion is the region whose endpoint group must be HEALTHY
	// before the primary dial moves, e.g. "us-west-2".
	PropBackupRegion = "BackupRegion"
	// PropHealthyTimeoutSeconds bounds that wait, e.g. "600";
	// DefaultHealthyTimeout when absent. The provider's total timeout must
	// be longer.
	PropHealthyTimeoutSeconds = "HealthyTimeoutSeconds"
	// PropBackupEndpointWeight, when set (e.g. "128"), is the weight the
	// backup group's endpoints get before the wait: the pilot-light tier
	// keeps its pre-built endpoint at weight 0, out of traffic even when
	// Global Accelerator fails over, until this resource is created. Delete
	// sets it back to 0 (IdleEndpointWeight). Absent, weights are left alone.
	PropBackupEndpointWeight = "BackupEndpointWeight"
)

// IdleEndpointWeight keeps a pre-built endpoint out of traffic: Global
// Accelerator fails over only to "a healthy endpoint with a weight greater
// than zero" ("How failover works for unhealthy endpoints").
const IdleEndpointWeight = 0

// DefaultHealthyTimeout applies when HealthyTimeoutSeconds is absent.
const DefaultHealthyTimeout = 10 * time.Minute

// maxHealthyTimeout keeps the wait inside the Provider framework's longest
// total timeout (2 h) with room to spare.
const maxHealthyTimeout = 110 * time.Minute

// Data keys (Fn::GetAtt names). Every key is always present; "none" when
// the listener has no group in the primary (or backup) region.
const (
	DataEndpointGroupArn = "EndpointGroupArn"
	DataPreviousDial     = "PreviousDial"
	DataDial             = "Dial"
	DataPrimaryGroup     = "PrimaryGroup" // "found" or "none"
	// DataBackupEndpointGroupArn is the backup region's group that was HEALTHY.
	DataBackupEndpointGroupArn = "BackupEndpointGroupArn"
	// DataWaitStartedAt is when onEvent began the wait, RFC 3339 UTC.
	DataWaitStartedAt = "WaitStartedAt"
)

// Handler modes, the values of the Lambda's HANDLER variable.
const (
	ModeOnEvent    = customresource.ModeOnEvent
	ModeIsComplete = customresource.ModeIsComplete
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

// CompletionEvent is what isComplete receives: the event with onEvent's
// PhysicalResourceId and Data merged in.
type CompletionEvent = customresource.CompletionEvent

// CompletionResponse is the isComplete answer.
type CompletionResponse = customresource.CompletionResponse

// Handler serves onEvent and isComplete.
type Handler struct {
	// GlobalAccelerator must be a client for
	// config.GlobalAcceleratorControlRegion.
	GlobalAccelerator *globalaccelerator.Client
	// SSM is the function's own (the backup) region's client: it records
	// when the backup endpoint was healthy and traffic moved.
	SSM *ssm.Client
	// FailoverRecordParameter is the SSM parameter of the failover's
	// measured times (naming.Names.FailoverRecordParameter), e.g.
	// "/dr-analytics/failover/last"; nothing is recorded when empty.
	FailoverRecordParameter string
	// CallTimeout bounds each call; customresource.DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// Now is the clock of the healthy wait; time.Now when nil.
	Now func() time.Time
	// Log receives one JSON line per notable event; stdout when nil.
	Log *slog.Logger
}

// New builds a Handler whose Global Accelerator client talks to the
// control plane region and whose SSM client to the function's region.
func New(cfg aws.Config) *Handler {
	return &Handler{GlobalAccelerator: globalaccelerator.NewFromConfig(cfg, func(o *globalaccelerator.Options) {
		o.Region = config.GlobalAcceleratorControlRegion
	}), SSM: ssm.NewFromConfig(cfg)}
}

type properties struct {
	ListenerArn, PrimaryRegion, BackupRegion string
	listenerID                               string
	Dial                                     float32
	HealthyTimeout                           time.Duration
	// BackupWeight is the backup endpoints' weight to set; nil leaves them.
	BackupWeight *int32
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
	if weight, _ := raw[PropBackupEndpointWeight].(string); weight != "" {
		w, err := strconv.Atoi(weight)
		if err != nil || w < 0 || w > 255 {
			return p, fmt.Errorf("property BackupEndpointWeight is %q: give an endpoint weight from 0 to 255, e.g. \"128\", or leave it out", weight)
		}
		w32 := int32(w)
		p.BackupWeight = &w32
		// Delete resets the weight, so it needs the backup region too.
		if p.BackupRegion, err = text(PropBackupRegion); err != nil {
			return p, err
		}
	}
	return p, nil
}

// parseWaitProperties validates what the healthy wait of a Create or
// Update needs besides the dial. Delete needs none of it: it resets the
// dial whatever these say.
func parseWaitProperties(raw map[string]any) (properties, error) {
	p, err := parseProperties(raw)
	if err != nil {
		return p, err
	}
	text := func(key string) (string, error) { return customresource.StringProperty(raw, key) }
	if p.BackupRegion, err = text(PropBackupRegion); err != nil {
		return p, err
	}
	if !regionPattern.MatchString(p.BackupRegion) || p.BackupRegion == p.PrimaryRegion {
		return p, fmt.Errorf("property BackupRegion is %q: give the backup region's name, e.g. us-west-2, other than PrimaryRegion %s", p.BackupRegion, p.PrimaryRegion)
	}
	timeout, err := text(PropHealthyTimeoutSeconds)
	if err != nil {
		return p, err
	}
	var ok bool
	if p.HealthyTimeout, ok = customresource.DurationProperty(timeout, time.Second, DefaultHealthyTimeout, maxHealthyTimeout); !ok {
		return p, fmt.Errorf("property HealthyTimeoutSeconds is %q: give seconds above 0 and at most %d, below the provider's total timeout, e.g. \"600\"", timeout, int(maxHealthyTimeout.Seconds()))
	}
	return p, nil
}

func (p properties) physicalID() string { return "dial-" + p.listenerID + "-" + p.PrimaryRegion }

// Dispatch returns the Lambda handler for a mode (the HANDLER variable);
// see customresource.Dispatch.
func (h *Handler) Dispatch(mode string) func(context.Context, CompletionEvent) (any, error) {
	return customresource.Dispatch(resourceName, mode, h.OnEvent, h.IsComplete)
}

// OnEvent starts the healthy wait on Create and Update (isComplete moves
// the dial) and resets the dial to 100 on Delete.
func (h *Handler) OnEvent(ctx context.Context, e cfn.Event) (Response, error) {
	return customresource.Guard(h.Log, resourceName, e, func() (Response, error) { return h.onEvent(ctx, e) })
}

func (h *Handler) onEvent(ctx context.Context, e cfn.Event) (Response, error) {
	switch e.RequestType {
	case cfn.RequestCreate, cfn.RequestUpdate:
		p, perr := parseWaitProperties(e.ResourceProperties)
		if perr != nil {
			return Response{}, fmt.Errorf("traffic dial %s: %w", e.LogicalResourceID, perr)
		}
		h.log().Info("waiting for the backup endpoint group to be HEALTHY before moving the primary dial",
			"listener_arn", p.ListenerArn, "backup_region", p.BackupRegion, "timeout_seconds", p.HealthyTimeout.Seconds())
		data := noGroupData()
		data[DataWaitStartedAt] = h.now().UTC().Format(time.RFC3339)
		return Response{PhysicalResourceID: p.physicalID(), Data: data}, nil
	case cfn.RequestDelete:
		p, perr := parseProperties(e.ResourceProperties)
		if perr != nil {
			// Nothing valid was ever set (the Create failed on the same input).
			h.log().Warn("delete with invalid properties: nothing to reset", "physical_id", e.PhysicalResourceID, "reason", perr.Error())
			return Response{PhysicalResourceID: e.PhysicalResourceID}, nil
		}
		resp, err := h.set(ctx, p, restoredDial, true)
		if err == nil && p.BackupWeight != nil {
			// The primary takes traffic again first; then the pre-built
			// backup endpoint goes back to idle.
			err = h.resetBackupWeight(ctx, p)
		}
		// Keep the id CloudFormation knows; the framework rejects a change on Delete.
		resp.PhysicalResourceID = e.PhysicalResourceID
		return resp, err
	}
	return Response{}, customresource.UnknownRequestType(resourceName, e.RequestType)
}

// IsComplete waits, on Create and Update, until the backup group is HEALTHY
// and then sets the primary dial; Delete finished in onEvent.
func (h *Handler) IsComplete(ctx context.Context, e CompletionEvent) (CompletionResponse, error) {
	return customresource.Guard(h.Log, resourceName, e.Event, func() (CompletionResponse, error) {
		switch e.RequestType {
		case cfn.RequestCreate, cfn.RequestUpdate:
		case cfn.RequestDelete:
			return CompletionResponse{IsComplete: true}, nil
		default:
			return CompletionResponse{}, customresource.UnknownRequestType(resourceName, e.RequestType)
		}
		p, err := parseWaitProperties(e.ResourceProperties)
		if err != nil {
			return CompletionResponse{}, fmt.Errorf("traffic dial %s: %w", e.LogicalResourceID, err)
		}
		return h.switchWhenHealthy(ctx, e, p)
	})
}

// switchWhenHealthy is one poll: the backup group HEALTHY moves the dial;
// not yet, within the timeout, polls again; past it, fails.
func (h *Handler) switchWhenHealthy(ctx context.Context, e CompletionEvent, p properties) (CompletionResponse, error) {
	groups, err := h.groups(ctx, p, p.PrimaryRegion, p.BackupRegion)
	if err != nil {
		return CompletionResponse{}, fmt.Errorf("set traffic dial of %s on listener %s: list endpoint groups in %s: %w; check ListenerArn and allow globalaccelerator:ListEndpointGroups", p.PrimaryRegion, p.ListenerArn, config.GlobalAcceleratorControlRegion, err)
	}
	if p.BackupWeight != nil {
		// The group outlives the failover stack (pilot-light), so a
		// previous failback may have left its dial at 0, which would cut
		// the region off even at full weight ("Use traffic dials to adjust
		// traffic flow to Regions"): the dial goes to 100 with the weight.
		if err := h.setBackupWeight(ctx, p, groups[p.BackupRegion], *p.BackupWeight, aws.Float32(restoredDial)); err != nil {
			return CompletionResponse{}, err
		}
	}
	backup, health, err := h.backupHealth(ctx, p, groups[p.BackupRegion])
	if err != nil {
		return CompletionResponse{}, err
	}
	startedAt := e.DataString(DataWaitStartedAt)
	if backup == "" || health.healthy == 0 {
		started, perr := time.Parse(time.RFC3339, startedAt)
		waited := h.now().Sub(started)
		if perr == nil && waited <= p.HealthyTimeout {
			h.log().Info("backup endpoint group not HEALTHY yet; primary dial unchanged", "listener_arn", p.ListenerArn,
				"backup_group", or(backup, none), "endpoints", health.String(), "waited_seconds", int(waited.Seconds()))
			return CompletionResponse{IsComplete: false}, nil
		}
		group := "no endpoint group in " + p.BackupRegion
		if backup != "" {
			group = "backup endpoint group " + backup + " (" + p.BackupRegion + ")"
		}
		return CompletionResponse{}, fmt.Errorf("traffic dial %s: %s on listener %s did not report a HEALTHY endpoint within %s (endpoints: %s); the primary group's dial was left unchanged: check the ingest target group's health (GET /health), the Kinesis stream and the Firehose delivery stream in %s, then run the same deploy again",
			e.LogicalResourceID, group, p.ListenerArn, p.HealthyTimeout, health.String(), p.BackupRegion)
	}
	healthyAt := h.now()
	resp, err := h.setGroup(ctx, p, groups[p.PrimaryRegion], p.Dial, false)
	if err != nil {
		return CompletionResponse{}, err
	}
	h.recordFailover(ctx, healthyAt, h.now())
	resp.Data[DataBackupEndpointGroupArn] = backup
	resp.Data[DataWaitStartedAt] = or(startedAt, none)
	h.log().Info("backup endpoint group HEALTHY; primary dial set", "backup_group", backup, "endpoints", health.String(),
		"dial", resp.Data[DataDial])
	return CompletionResponse{IsComplete: true, Data: resp.Data}, nil
}

// recordFailover adds when the backup endpoint was seen HEALTHY and when
// the primary dial had moved to the failover's measured times
// (internal/recoverytime); the first observation stays. A measurement must
// never fail the failover, so a failure to record is logged only.
func (h *Handler) recordFailover(ctx context.Context, healthyAt, movedAt time.Time) {
	if h.FailoverRecordParameter == "" {
		return
	}
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	rec, err := recoverytime.RecordFailover(callCtx, h.SSM, h.FailoverRecordParameter,
		recoverytime.Failover{EndpointHealthyAt: &healthyAt, TrafficMovedAt: &movedAt})
	if err != nil {
		h.log().Warn("failover times not recorded; the failover goes on", "parameter", h.FailoverRecordParameter, "reason", err.Error())
		return
	}
	if rto, ok := rec.TrafficRTO(); ok {
		h.log().Info("failover traffic RTO measured", "parameter", h.FailoverRecordParameter, "traffic_rto_seconds", int(rto.Seconds()))
	}
}

// endpointHealth summarizes a group's endpoints for the decision and the messages.
type endpointHealth struct {
	healthy int      // HEALTHY with a weight above 0
	states  []string // "ID=STATE" (plus the reason where the service gives one)
}

func (eh endpointHealth) String() string {
	if len(eh.states) == 0 {
		return "none"
	}
	return strings.Join(eh.states, ", ")
}

// backupHealth describes the backup group for its endpoints' health; "" when
// the listener has no group in the backup region yet.
func (h *Handler) backupHealth(ctx context.Context, p properties, group *types.EndpointGroup) (string, endpointHealth, error) {
	var eh endpointHealth
	if group == nil {
		return "", eh, nil
	}
	arn := aws.ToString(group.EndpointGroupArn)
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	out, err := h.GlobalAccelerator.DescribeEndpointGroup(callCtx, &globalaccelerator.DescribeEndpointGroupInput{EndpointGroupArn: aws.String(arn)})
	if err != nil {
		return "", eh, fmt.Errorf("traffic dial: describe backup endpoint group %s (%s) on listener %s: %w; allow globalaccelerator:DescribeEndpointGroup", arn, p.BackupRegion, p.ListenerArn, err)
	}
	if out.EndpointGroup == nil {
		return arn, eh, nil
	}
	for _, d := range out.EndpointGroup.EndpointDescriptions {
		state := aws.ToString(d.EndpointId) + "=" + string(d.HealthState)
		if reason := aws.ToString(d.HealthReason); reason != "" {
			state += " (" + reason + ")"
		}
		weight := aws.ToInt32(d.Weight)
		if d.Weight != nil && weight == 0 {
			state += " weight 0"
		}
		eh.states = append(eh.states, state)
		if d.HealthState == types.HealthStateHealthy && (d.Weight == nil || weight > 0) {
			eh.healthy++
		}
	}
	return arn, eh, nil
}

// setBackupWeight gives every endpoint of the backup group the weight want
// and, when dial is set, the group that traffic dial.
// UpdateEndpointGroup's EndpointConfigurations replace the group's whole
// endpoint list (AddEndpoints exists so that callers need not "specify the
// current endpoints", API_AddEndpoints), so each endpoint is sent back with
// its client IP preservation as described. A missing group is left to the
// health wait, which names it.
func (h *Handler) setBackupWeight(ctx context.Context, p properties, group *types.EndpointGroup, want int32, dial *float32) error {
	if group == nil {
		return nil
	}
	arn := aws.ToString(group.EndpointGroupArn)
	callCtx, cancel := h.deadline(ctx)
	out, err := h.GlobalAccelerator.DescribeEndpointGroup(callCtx, &globalaccelerator.DescribeEndpointGroupInput{EndpointGroupArn: aws.String(arn)})
	cancel()
	if err != nil {
		return fmt.Errorf("traffic dial: describe backup endpoint group %s (%s): %w; allow globalaccelerator:DescribeEndpointGroup", arn, p.BackupRegion, err)
	}
	if out.EndpointGroup == nil || len(out.EndpointGroup.EndpointDescriptions) == 0 {
		return nil
	}
	var configs []types.EndpointConfiguration
	current := restoredDial // the service's default when unset
	if out.EndpointGroup.TrafficDialPercentage != nil {
		current = *out.EndpointGroup.TrafficDialPercentage
	}
	changed := dial != nil && *dial != current
	for _, d := range out.EndpointGroup.EndpointDescriptions {
		changed = changed || d.Weight == nil || *d.Weight != want
		configs = append(configs, types.EndpointConfiguration{
			EndpointId: d.EndpointId, Weight: aws.Int32(want), ClientIPPreservationEnabled: d.ClientIPPreservationEnabled,
		})
	}
	if !changed {
		return nil
	}
	callCtx, cancel = h.deadline(ctx)
	defer cancel()
	if _, err := h.GlobalAccelerator.UpdateEndpointGroup(callCtx, &globalaccelerator.UpdateEndpointGroupInput{
		EndpointGroupArn: aws.String(arn), EndpointConfigurations: configs, TrafficDialPercentage: dial,
	}); err != nil {
		return fmt.Errorf("traffic dial: set the weight of backup endpoint group %s (%s) to %d: %w; allow globalaccelerator:UpdateEndpointGroup and deploy again", arn, p.BackupRegion, want, err)
	}
	h.log().Info("backup endpoint weight set", "backup_group", arn, "weight", want)
	return nil
}

// resetBackupWeight puts the pre-built backup endpoint back to idle on
// Delete; a listener or group that is gone has nothing to reset.
func (h *Handler) resetBackupWeight(ctx context.Context, p properties) error {
	groups, err := h.groups(ctx, p, p.BackupRegion)
	var notFound *types.ListenerNotFoundException
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("traffic dial: list endpoint groups of listener %s to idle the backup endpoint: %w; allow globalaccelerator:ListEndpointGroups", p.ListenerArn, err)
	}
	err = h.setBackupWeight(ctx, p, groups[p.BackupRegion], IdleEndpointWeight, nil)
	if errors.As(err, new(*types.EndpointGroupNotFoundException)) {
		return nil
	}
	return err
}

func noGroupData() map[string]string {
	return map[string]string{DataEndpointGroupArn: none, DataPreviousDial: none, DataDial: none, DataPrimaryGroup: none,
		DataBackupEndpointGroupArn: none}
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// set moves the primary group's dial to want. With missingListenerOK (on
// Delete) a listener that is gone is success: there is nothing to reset.
func (h *Handler) set(ctx context.Context, p properties, want float32, missingListenerOK bool) (Response, error) {
	groups, err := h.groups(ctx, p, p.PrimaryRegion)
	var notFound *types.ListenerNotFoundException
	if missingListenerOK && errors.As(err, &notFound) {
		h.log().Info("listener is gone; nothing to reset", "listener_arn", p.ListenerArn)
		return Response{PhysicalResourceID: p.physicalID(), Data: noGroupData()}, nil
	}
	if err != nil {
		return Response{}, fmt.Errorf("set traffic dial of %s on listener %s: list endpoint groups in %s: %w; check ListenerArn and allow globalaccelerator:ListEndpointGroups", p.PrimaryRegion, p.ListenerArn, config.GlobalAcceleratorControlRegion, err)
	}
	return h.setGroup(ctx, p, groups[p.PrimaryRegion], want, missingListenerOK)
}

// setGroup moves group's dial to want; a nil group has nothing to drain.
// With missingGroupOK (on Delete) a group removed meanwhile is success.
func (h *Handler) setGroup(ctx context.Context, p properties, group *types.EndpointGroup, want float32, missingGroupOK bool) (Response, error) {
	resp := Response{PhysicalResourceID: p.physicalID(), Data: noGroupData()}
	if group == nil {
		h.log().Info("no endpoint group in the primary region; nothing to drain", "listener_arn", p.ListenerArn, "region", p.PrimaryRegion)
		return resp, nil
	}
	arn := aws.ToString(group.EndpointGroupArn)
	previous := restoredDial // the service's default when the dial is unset
	if group.TrafficDialPercentage != nil {
		previous = *group.TrafficDialPercentage
	}
	resp.Data[DataEndpointGroupArn] = arn
	resp.Data[DataPreviousDial] = formatDial(previous)
	resp.Data[DataDial] = formatDial(want)
	resp.Data[DataPrimaryGroup] = found
	if previous == want {
		h.log().Info("traffic dial already set", "endpoint_group_arn", arn, "dial", want)
		return resp, nil
	}
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	_, err := h.GlobalAccelerator.UpdateEndpointGroup(callCtx, &globalaccelerator.UpdateEndpointGroupInput{
		EndpointGroupArn: aws.String(arn), TrafficDialPercentage: aws.Float32(want),
	})
	var groupGone *types.EndpointGroupNotFoundException
	if missingGroupOK && errors.As(err, &groupGone) {
		h.log().Info("endpoint group is gone; nothing to reset", "endpoint_group_arn", arn)
		return resp, nil
	}
	if err != nil {
		return Response{}, fmt.Errorf("set traffic dial of endpoint group %s (%s) on listener %s to %s%%: %w; allow globalaccelerator:UpdateEndpointGroup and deploy again", arn, p.PrimaryRegion, p.ListenerArn, formatDial(want), err)
	}
	h.log().Info("traffic dial set", "endpoint_group_arn", arn, "previous", previous, "dial", want)
	return resp, nil
}

// groups finds the listener's endpoint groups in the given regions; a
// region without one is absent from the map.
func (h *Handler) groups(ctx context.Context, p properties, regions ...string) (map[string]*types.EndpointGroup, error) {
	out := map[string]*types.EndpointGroup{}
	pager := globalaccelerator.NewListEndpointGroupsPaginator(h.GlobalAccelerator,
		&globalaccelerator.ListEndpointGroupsInput{ListenerArn: aws.String(p.ListenerArn)},
		func(o *globalaccelerator.ListEndpointGroupsPaginatorOptions) { o.StopOnDuplicateToken = true })
	for pages := 0; pager.HasMorePages() && pages < maxPages && len(out) < len(regions); pages++ {
		callCtx, cancel := h.deadline(ctx)
		page, err := pager.NextPage(callCtx)
		cancel()
		if err != nil {
			return nil, err
		}
		for i := range page.EndpointGroups {
			region := aws.ToString(page.EndpointGroups[i].EndpointGroupRegion)
			if slices.Contains(regions, region) {
				out[region] = &page.EndpointGroups[i]
			}
		}
	}
	return out, nil
}

func formatDial(v float32) string { return strconv.FormatFloat(float64(v), 'f', -1, 32) }

func (h *Handler) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return customresource.CallContext(ctx, h.CallTimeout)
}

func (h *Handler) log() *slog.Logger { return customresource.Logger(h.Log) }
