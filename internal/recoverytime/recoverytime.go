// Package recoverytime keeps what every real failover and failback measured
// of itself, as ARC Region switch does for each plan execution: the
// failover's start, when the backup endpoint became healthy and took
// traffic, when the restored table became ACTIVE, and the point in time the
// data was restored to; the failback's step-by-step finish times. Each
// record is one JSON SSM parameter in the backup region
// (naming.Names.FailoverRecordParameter, FailbackRecordParameter), read by
// `drctl status` and the readiness function.
//
// Guarantees: writers that update one record at the same time never lose
// each other's fields (see Update); a failover's moments are first
// observations (a deploy run again later never moves them); a record of a
// new failover (another start time) replaces the last one whole; reading
// a record that is not there is not an error (nil).
//
// What Update relies on (AWS Systems Manager User Guide, "Working with
// parameter versions in Parameter Store"): every put of a parameter creates
// a new version numbered one above the last ("Parameter Store
// automatically increments the version number by one"), PutParameter
// answers with that number (PutParameter API reference: "The new version
// number of a parameter"), a get of "name:version" reads that version
// (GetParameter: "To query by parameter version, use "Name":
// "name:version""), and the 100 most recent versions are kept
// (ParameterMaxVersionLimitExceeded). Parameter Store has no conditional
// put, so a version gap shows the writes made in between, and those are
// read back and merged in.
package recoverytime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// EnvFailoverRecordParameter is the environment variable that gives the
// failover's custom resource functions the failover record's parameter name.
const EnvFailoverRecordParameter = "FAILOVER_RECORD_PARAMETER"

// ParameterGetter reads parameters; what reading a record needs.
type ParameterGetter interface {
	GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SSMAPI is what writing a record needs; *ssm.Client satisfies it.
type SSMAPI interface {
	ParameterGetter
	PutParameter(context.Context, *ssm.PutParameterInput, ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// Failover is the last failover's measured moments. A moment that was not
// observed (yet) is nil.
type Failover struct {
	// StartedAt is when the first failover attempt began (the table
	// restore's start, naming.Names.FailoverStartedParameter).
	StartedAt *time.Time `json:"started_at,omitempty"`
	// EndpointHealthyAt is when the traffic dial saw the backup endpoint
	// group HEALTHY; TrafficMovedAt is when it had turned the primary dial
	// down, so new connections go to the backup region.
	EndpointHealthyAt *time.Time `json:"endpoint_healthy_at,omitempty"`
	TrafficMovedAt    *time.Time `json:"traffic_moved_at,omitempty"`
	// TableActiveAt is when the restored table was ACTIVE with PITR,
	// deletion protection and tags.
	TableActiveAt *time.Time `json:"table_active_at,omitempty"`
	// RestoreSource is pitr, backup or existing (an adopted table).
	RestoreSource string `json:"restore_source,omitempty"`
	// RestorePointInTime is the point in time of the restored data.
	RestorePointInTime *time.Time `json:"restore_point_in_time,omitempty"`
}

// TrafficRTO is the start to traffic moved; false when either is unknown.
func (f Failover) TrafficRTO() (time.Duration, bool) { return between(f.StartedAt, f.TrafficMovedAt) }

// EndpointHealthy is the start to the backup endpoint seen HEALTHY; false
// when either is unknown.
func (f Failover) EndpointHealthy() (time.Duration, bool) {
	return between(f.StartedAt, f.EndpointHealthyAt)
}

// TableRTO is the start to the table ACTIVE; false when either is unknown.
func (f Failover) TableRTO() (time.Duration, bool) { return between(f.StartedAt, f.TableActiveAt) }

// RPO is the data lost by the table restore: the start minus the restore's
// point in time; false when either is unknown.
func (f Failover) RPO() (time.Duration, bool) { return between(f.RestorePointInTime, f.StartedAt) }

func between(from, to *time.Time) (time.Duration, bool) {
	if from == nil || to == nil {
		return 0, false
	}
	return to.Sub(*from), true
}

// mergeFailover applies patch to base. A patch with another start time
// begins a new failover's record; the moments keep their first observation
// (a deploy run again does not move them); the restore's source and point
// in time take the newest word (a restore repaired in place changes them).
func mergeFailover(base, patch Failover) Failover {
	if patch.StartedAt != nil && base.StartedAt != nil && !patch.StartedAt.Equal(*base.StartedAt) {
		base = Failover{}
	}
	first := func(b, p *time.Time) *time.Time {
		if b != nil {
			return b
		}
		return p
	}
	base.StartedAt = first(base.StartedAt, patch.StartedAt)
	base.EndpointHealthyAt = first(base.EndpointHealthyAt, patch.EndpointHealthyAt)
	base.TrafficMovedAt = first(base.TrafficMovedAt, patch.TrafficMovedAt)
	base.TableActiveAt = first(base.TableActiveAt, patch.TableActiveAt)
	if patch.RestoreSource != "" {
		base.RestoreSource = patch.RestoreSource
	}
	if patch.RestorePointInTime != nil {
		base.RestorePointInTime = patch.RestorePointInTime
	}
	return base
}

// Failback is the last failback run's timing.
type Failback struct {
	// FailoverStartedAt is the failover it brought back.
	FailoverStartedAt time.Time `json:"failover_started_at"`
	StartedAt         time.Time `json:"started_at"`
	// FinishedAt is when the run ended; nil while it runs (or if it died).
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Steps are the steps that finished, in order.
	Steps []FailbackStep `json:"steps"`
	// Complete is true when every step was done and both sides matched.
	Complete bool `json:"complete"`
}

// FailbackStep is one failback step's end.
type FailbackStep struct {
	Name       string    `json:"name"`
	FinishedAt time.Time `json:"finished_at"`
	Seconds    float64   `json:"seconds"`
	// Status is done, mismatch or failed.
	Status string `json:"status"`
}

// Total is the run's duration so far: to FinishedAt, else to the last step.
func (f Failback) Total() time.Duration {
	end := f.StartedAt
	if n := len(f.Steps); n > 0 {
		end = f.Steps[n-1].FinishedAt
	}
	if f.FinishedAt != nil {
		end = *f.FinishedAt
	}
	return end.Sub(f.StartedAt)
}

// RecordFailover merges patch into the failover record (see Update) and
// returns the record as written.
func RecordFailover(ctx context.Context, client SSMAPI, parameter string, patch Failover) (Failover, error) {
	return Update(ctx, client, parameter, failoverDescription, patch, mergeFailover)
}

// RecordFailback writes the failback record whole: one run writes it, and
// its newest word is the truth.
func RecordFailback(ctx context.Context, client SSMAPI, parameter string, rec Failback) error {
	_, err := Update(ctx, client, parameter, failbackDescription, rec, func(_, patch Failback) Failback { return patch })
	return err
}

// ReadFailover reads the failover record; nil when there is none.
func ReadFailover(ctx context.Context, client ParameterGetter, parameter string) (*Failover, error) {
	return read[Failover](ctx, client, parameter)
}

// ReadFailback reads the failback record; nil when there is none.
func ReadFailback(ctx context.Context, client ParameterGetter, parameter string) (*Failback, error) {
	return read[Failback](ctx, client, parameter)
}

const (
	failoverDescription = "The last failover's measured times (JSON): start, backup endpoint healthy, traffic moved, table ACTIVE, restore point. Written by the failover's custom resources; drctl status reads it."
	failbackDescription = "The last failback's step finish times (JSON). Written by drctl failback; drctl status reads it."
	// maxWrites bounds Update's rounds: each round's gap is a write that
	// landed meanwhile, and the failover has three writers.
	maxWrites = 8
)

// errContended is returned when other writers kept writing between every
// read and write of Update.
var errContended = errors.New("the record kept changing under concurrent writers")

// Update merges patch into the record named parameter and writes it, so
// that no concurrent Update's fields are lost: it reads the latest version
// v, writes merge(latest, patch) and gets version w back. w = v+1 means no
// one wrote in between. Otherwise versions v+1 .. w-1 were written after
// its read, possibly from older reads that its own write then replaced, so
// it reads each of them back, merges them in and writes again, until a
// write follows its read directly. A writer that started later than this
// one's last write reads it first, or sees the gap and does the same; so
// the newest version always holds every writer's fields. A write that
// would change nothing is skipped. Parameter Store's TooManyUpdates
// ("concurrent updates for a resource that supports one update at a
// time") is retried after a short pause.
func Update[T any](ctx context.Context, client SSMAPI, parameter, description string, patch T, merge func(base, patch T) T) (T, error) {
	current, version, err := get[T](ctx, client, parameter)
	if err != nil {
		return current, err
	}
	next := merge(current, patch)
	for range maxWrites {
		if version > 0 && same(next, current) {
			return next, nil
		}
		body, err := json.Marshal(next)
		if err != nil {
			return next, fmt.Errorf("encode record %s: %w", parameter, err)
		}
		out, err := client.PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(parameter), Type: ssmtypes.ParameterTypeString, Value: aws.String(string(body)),
			Overwrite: aws.Bool(true), Description: aws.String(description),
		})
		if errors.As(err, new(*ssmtypes.TooManyUpdates)) {
			if err := pause(ctx); err != nil {
				return next, err
			}
			if current, version, err = get[T](ctx, client, parameter); err != nil {
				return next, err
			}
			next = merge(merge(current, next), patch)
			continue
		}
		if err != nil {
			return next, fmt.Errorf("write record %s: %w; allow ssm:PutParameter on it", parameter, err)
		}
		wrote := next
		for v := version + 1; v < out.Version; v++ {
			between, found, err := getVersion[T](ctx, client, parameter, v)
			if err != nil {
				return next, err
			}
			if found {
				next = merge(merge(between, next), patch)
			}
		}
		// No gap, or the writes in it held nothing this one lacks: the
		// version just written holds every writer's fields.
		if same(next, wrote) {
			return next, nil
		}
		current, version = wrote, out.Version
	}
	return next, fmt.Errorf("write record %s: %w after %d writes", parameter, errContended, maxWrites)
}

// pause waits before a retry of a throttled write.
func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(200 * time.Millisecond):
		return nil
	}
}

func same[T any](a, b T) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func read[T any](ctx context.Context, client ParameterGetter, parameter string) (*T, error) {
	rec, version, err := get[T](ctx, client, parameter)
	if err != nil || version == 0 {
		return nil, err
	}
	return &rec, nil
}

// get reads the latest version; version 0 when there is no parameter.
func get[T any](ctx context.Context, client ParameterGetter, parameter string) (T, int64, error) {
	var rec T
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(parameter)})
	if errors.As(err, new(*ssmtypes.ParameterNotFound)) {
		return rec, 0, nil
	}
	if err != nil {
		return rec, 0, fmt.Errorf("read record %s: %w; allow ssm:GetParameter on it", parameter, err)
	}
	if out.Parameter == nil {
		return rec, 0, fmt.Errorf("read record %s: no parameter in the answer", parameter)
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &rec); err != nil {
		return rec, 0, fmt.Errorf("record %s is not a record (%w): delete it (aws ssm delete-parameter --name %s) and the next run writes a new one", parameter, err, parameter)
	}
	return rec, out.Parameter.Version, nil
}

// getVersion reads one version; false when Parameter Store no longer keeps it.
func getVersion[T any](ctx context.Context, client ParameterGetter, parameter string, version int64) (T, bool, error) {
	var rec T
	name := parameter + ":" + strconv.FormatInt(version, 10)
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name)})
	if errors.As(err, new(*ssmtypes.ParameterVersionNotFound)) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("read record %s: %w; allow ssm:GetParameter on it", name, err)
	}
	if out.Parameter == nil || json.Unmarshal([]byte(aws.ToString(out.Parameter.Value)), &rec) != nil {
		return rec, false, nil // not a record: nothing to keep from it
	}
	return rec, true, nil
}
