package tablerestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/dr-analytics/drplan/internal/recoverytime"
)

// parameterDescription tells whoever finds the parameter what it is for.
const parameterDescription = "When the first failover attempt began (RFC 3339 UTC). Failback copies everything written since; a completed failback removes it."

// recordFailoverStart writes now to the parameter unless an earlier attempt
// already did (a failover rolled back, or destroyed and deployed again):
// failback must reach back to the first attempt, so the earliest time wins.
// It returns the time the parameter holds.
func (h *Handler) recordFailoverStart(ctx context.Context, name string) (string, error) {
	now := formatTime(h.now())
	callCtx, cancel := h.deadline(ctx)
	_, err := h.SSM.PutParameter(callCtx, &ssm.PutParameterInput{
		Name:        aws.String(name),
		Type:        ssmtypes.ParameterTypeString,
		Value:       aws.String(now),
		Overwrite:   aws.Bool(false),
		Description: aws.String(parameterDescription),
	})
	cancel()
	var exists *ssmtypes.ParameterAlreadyExists
	switch {
	case err == nil:
		h.log().Info("failover start recorded", "parameter", name, "failover_started_at", now)
		return now, nil
	case !errors.As(err, &exists):
		return "", fmt.Errorf("record the failover start time in SSM parameter %s (%s): %w; allow ssm:PutParameter on it", name, h.Region, err)
	}
	recorded, found, err := h.getParameter(ctx, name)
	if err != nil {
		return "", err
	}
	if !found {
		// Deleted between the two calls, e.g. by a failback finishing.
		return "", fmt.Errorf("record the failover start time in SSM parameter %s (%s): it existed, then did not", name, h.Region)
	}
	h.log().Info("failover start already recorded by an earlier attempt; keeping it", "parameter", name,
		"failover_started_at", recorded, "this_attempt_at", now)
	return recorded, nil
}

// readFailoverStart reads the recorded time for an Update; "" when there
// is no parameter name or no parameter (a failback finished since).
func (h *Handler) readFailoverStart(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	recorded, found, err := h.getParameter(ctx, name)
	if err != nil {
		return "", err
	}
	if !found {
		h.log().Warn("no failover start time recorded", "parameter", name)
	}
	return recorded, nil
}

// getParameter reads a recorded time and checks that it is one.
func (h *Handler) getParameter(ctx context.Context, name string) (value string, found bool, err error) {
	callCtx, cancel := h.deadline(ctx)
	out, err := h.SSM.GetParameter(callCtx, &ssm.GetParameterInput{Name: aws.String(name)})
	cancel()
	if errors.As(err, new(*ssmtypes.ParameterNotFound)) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read the failover start time in SSM parameter %s (%s): %w; allow ssm:GetParameter on it", name, h.Region, err)
	}
	if out.Parameter != nil {
		value = aws.ToString(out.Parameter.Value)
	}
	if _, perr := time.Parse(time.RFC3339, value); perr != nil {
		return "", false, fmt.Errorf("SSM parameter %s (%s) holds %q, not an RFC 3339 time: set it to when the first failover attempt began (aws ssm put-parameter --overwrite) or, if no failover is pending failback, delete it", name, h.Region, value)
	}
	return value, true, nil
}

// recordFailover adds what this resource saw to the failover's measured
// times (internal/recoverytime): the start, the restore's source and point
// in time and, from the ready resource, when the table was ACTIVE and
// protected. A measurement must never fail the failover, so a failure to
// record is logged and the restore goes on.
func (h *Handler) recordFailover(ctx context.Context, d restoreData, tableActiveAt *time.Time) {
	if h.FailoverRecordParameter == "" {
		return
	}
	patch := recoverytime.Failover{RestoreSource: d.Source, TableActiveAt: tableActiveAt}
	if t, err := time.Parse(time.RFC3339, d.FailoverStartedAt); err == nil {
		patch.StartedAt = &t
	}
	if t, err := time.Parse(time.RFC3339, d.PointInTime); err == nil {
		patch.RestorePointInTime = &t
	}
	callCtx, cancel := h.deadline(ctx)
	defer cancel()
	rec, err := recoverytime.RecordFailover(callCtx, h.SSM, h.FailoverRecordParameter, patch)
	if err != nil {
		h.log().Warn("failover times not recorded; the failover goes on", "parameter", h.FailoverRecordParameter, "reason", err.Error())
		return
	}
	if rto, ok := rec.TableRTO(); ok && tableActiveAt != nil {
		h.log().Info("failover table RTO measured", "parameter", h.FailoverRecordParameter, "table_rto_seconds", int(rto.Seconds()))
	}
}
