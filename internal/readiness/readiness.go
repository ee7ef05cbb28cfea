// Package readiness is drctl's pre-flight checklist for disaster recovery:
// it asks both regions (and Global Accelerator's control plane) whether
// everything failover and failback rely on is in place, and estimates the
// recovery point objective right now.
//
// Guarantees: every check is read-only; checks run concurrently and each
// AWS call has its own deadline, so a region that does not answer costs
// one timeout and shows up as FAIL lines carrying the error, never as a
// crash or a hang; every line carries the figure behind its verdict; the
// report lists checks in a fixed order whatever order they finish in.
package readiness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/awserr"
	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/recoverytime"
	"github.com/dr-analytics/drplan/internal/restoretest"
)

// Status is a check's verdict.
type Status string

// Verdicts, from good to bad.
const (
	OK   Status = "OK"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Line is one checklist entry.
type Line struct {
	// Region is where the checked thing lives, or "global".
	Region string `json:"region"`
	// Check names what was checked, e.g. "replication streaming".
	Check  string `json:"check"`
	Status Status `json:"status"`
	// Detail says what was found and, for WARN and FAIL, what to do.
	Detail string `json:"detail"`
	// Value is the figure behind the verdict in Unit (e.g. seconds), when
	// there is one.
	Value *float64 `json:"value,omitempty"`
	Unit  string   `json:"unit,omitempty"`
}

// The AWS calls each region must answer, as small interfaces so tests and
// other callers can substitute them; *Client types of the SDK satisfy them.
type (
	S3API interface {
		GetBucketReplication(context.Context, *s3.GetBucketReplicationInput, ...func(*s3.Options)) (*s3.GetBucketReplicationOutput, error)
	}
	CloudWatchAPI interface {
		GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
	}
	DynamoDBAPI interface {
		DescribeContinuousBackups(context.Context, *dynamodb.DescribeContinuousBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error)
		DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	}
	BackupAPI interface {
		ListRecoveryPointsByBackupVault(context.Context, *backup.ListRecoveryPointsByBackupVaultInput, ...func(*backup.Options)) (*backup.ListRecoveryPointsByBackupVaultOutput, error)
		DescribeRegionSettings(context.Context, *backup.DescribeRegionSettingsInput, ...func(*backup.Options)) (*backup.DescribeRegionSettingsOutput, error)
	}
	SSMAPI interface {
		GetParameter(context.Context, *ssm.GetParameterInput, ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
	}
	CloudFormationAPI interface {
		DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	}
	GlobalAcceleratorAPI interface {
		DescribeAccelerator(context.Context, *globalaccelerator.DescribeAcceleratorInput, ...func(*globalaccelerator.Options)) (*globalaccelerator.DescribeAcceleratorOutput, error)
		ListEndpointGroups(context.Context, *globalaccelerator.ListEndpointGroupsInput, ...func(*globalaccelerator.Options)) (*globalaccelerator.ListEndpointGroupsOutput, error)
	}
	STSAPI interface {
		GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
	}
)

// Region holds one region's clients.
type Region struct {
	Name           string
	S3             S3API
	CloudWatch     CloudWatchAPI
	DynamoDB       DynamoDBAPI
	Backup         BackupAPI
	SSM            SSMAPI
	CloudFormation CloudFormationAPI
}

// Input is what a readiness run needs.
type Input struct {
	Config  config.Config
	Primary Region
	Backup  Region
	// GlobalAccelerator is a client for the control plane
	// (config.GlobalAcceleratorControlRegion).
	GlobalAccelerator GlobalAcceleratorAPI
	// STS identifies the caller; its account names the resources when the
	// config has none.
	STS STSAPI
	// CallTimeout bounds each AWS call; 10s when zero.
	CallTimeout time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Report is the checklist with the RPO estimate.
type Report struct {
	GeneratedAt   time.Time `json:"generated_at"`
	Prefix        string    `json:"prefix"`
	Account       string    `json:"account"`
	PrimaryRegion string    `json:"primary_region"`
	BackupRegion  string    `json:"backup_region"`
	Checks        []Line    `json:"checks"`
	RPO           RPO       `json:"rpo"`
	// PrimaryReachable is true when the primary region answered at least
	// one call (an AWS error answer counts; a timeout or refused
	// connection does not).
	PrimaryReachable bool `json:"primary_reachable"`
	// Replication has each bucket's measured replication figures.
	Replication []BucketReplication `json:"replication,omitempty"`
	// RestoreTest is the last scheduled restore test, when one has run.
	RestoreTest *restoretest.Record `json:"restore_test,omitempty"`
	// LastFailover and LastFailback are what the last real failover and
	// failback measured of themselves, when one was recorded.
	LastFailover *recoverytime.Failover `json:"last_failover,omitempty"`
	LastFailback *recoverytime.Failback `json:"last_failback,omitempty"`
	// DashboardURL opens the DR dashboard in the backup region's console.
	DashboardURL string  `json:"dashboard_url"`
	Summary      Summary `json:"summary"`
}

// BucketReplication is one replication rule's figures of the last 15 minutes.
type BucketReplication struct {
	// Bucket is the purpose, e.g. "streaming".
	Bucket           string  `json:"bucket"`
	LatencySeconds   float64 `json:"latency_seconds"`
	FailedOperations float64 `json:"failed_operations"`
}

// Summary counts lines per verdict.
type Summary struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
}

// Failed reports whether any check failed (drctl then exits non-zero).
func (r Report) Failed() bool { return r.Summary.Fail > 0 }

// run carries one readiness run's inputs and collects the figures the RPO
// estimate needs.
type run struct {
	Input
	names naming.Names
	now   time.Time

	mu      sync.Mutex
	figures figures
}

// figures are the measurements behind the RPO estimate; nil means unknown.
type figures struct {
	replicationLatency *time.Duration // worst over every rule in the window
	replicationUnknown bool           // a rule's latency could not be read
	pitrLag            *time.Duration // now - latest restorable time, when PITR is on
	pitrOff            bool
	recoveryPointAge   *time.Duration
	primaryAnswered    bool
	replication        []BucketReplication
	restoreTest        *restoretest.Record
	lastFailover       *recoverytime.Failover
	lastFailback       *recoverytime.Failback
}

func (r *run) record(f func(*figures)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.figures)
}

// call runs one AWS call under its own deadline.
func (r *run) call(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.CallTimeout)
	defer cancel()
	return f(ctx)
}

// check is one small, independent checklist item.
type check func(r *run, ctx context.Context) []Line

// Run asks every check concurrently and returns the report. It never
// returns an error: what cannot be read is a FAIL line.
func Run(ctx context.Context, in Input) Report {
	if in.CallTimeout <= 0 {
		in.CallTimeout = 10 * time.Second
	}
	if in.Now == nil {
		in.Now = time.Now
	}
	r := &run{Input: in, now: in.Now().UTC()}
	report := Report{
		GeneratedAt: r.now, Prefix: in.Config.Prefix,
		PrimaryRegion: in.Config.PrimaryRegion, BackupRegion: in.Config.BackupRegion,
		DashboardURL: drmetrics.DashboardURL(in.Config.Prefix, in.Config.BackupRegion),
	}
	identity, account := r.identity(ctx)
	report.Account = account
	if account == "" {
		// Every other name contains the account: checking them with a
		// guessed account would only produce misleading FAIL lines.
		report.Checks = []Line{identity}
		report.Summary = summarize(report.Checks)
		return report
	}
	r.names = in.Config.Names(account)

	checks := []check{
		func(r *run, ctx context.Context) []Line { return r.replication(ctx, naming.Streaming) },
		func(r *run, ctx context.Context) []Line { return r.replication(ctx, naming.Batch) },
		(*run).pitr,
		(*run).recoveryPoint,
		func(r *run, ctx context.Context) []Line { return r.backupSettings(ctx, r.Primary, Fail) },
		func(r *run, ctx context.Context) []Line { return r.backupSettings(ctx, r.Backup, Warn) },
		(*run).bootstrap,
		(*run).accelerator,
		(*run).stacks,
		(*run).restoreTest,
		(*run).lastRecovery,
	}
	results := make([][]Line, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { results[i] = c(r, ctx) })
	}
	wg.Wait()
	report.Checks = []Line{identity}
	for _, lines := range results {
		report.Checks = append(report.Checks, lines...)
	}
	report.RPO = r.estimateRPO()
	report.PrimaryReachable = r.figures.primaryAnswered
	report.Replication = r.figures.replication
	slices.SortFunc(report.Replication, func(a, b BucketReplication) int { return strings.Compare(a.Bucket, b.Bucket) })
	report.RestoreTest = r.figures.restoreTest
	report.LastFailover, report.LastFailback = r.figures.lastFailover, r.figures.lastFailback
	report.Summary = summarize(report.Checks)
	return report
}

func summarize(lines []Line) Summary {
	var s Summary
	for _, l := range lines {
		switch l.Status {
		case OK:
			s.OK++
		case Warn:
			s.Warn++
		case Fail:
			s.Fail++
		}
	}
	return s
}

// identity checks the credentials and picks the account: the configured
// one, which the caller must match, or the caller's.
func (r *run) identity(ctx context.Context) (Line, string) {
	line := Line{Region: r.Backup.Name, Check: "credentials"}
	var out *sts.GetCallerIdentityOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		out, err = r.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		return err
	})
	if err != nil {
		line.Status, line.Detail = Fail, "STS GetCallerIdentity: "+awserr.Explain(err)
		return line, r.Config.Account
	}
	caller := deref(out.Account)
	if r.Config.Account != "" && caller != r.Config.Account {
		line.Status, line.Detail = Fail, fmt.Sprintf("credentials are for account %s but the config names account %s: use credentials for %s", caller, r.Config.Account, r.Config.Account)
		return line, r.Config.Account
	}
	line.Status, line.Detail = OK, fmt.Sprintf("%s (account %s)", deref(out.Arn), caller)
	return line, caller
}

// estimateRPO turns the figures into the data that would be lost if the
// primary region failed now.
//
// The model: the S3 path loses what Firehose still buffers in the primary
// (up to the buffer interval) plus what has landed but not yet replicated
// (the worst replication latency of the last 15 minutes; the 15-minute
// RTC bound when it cannot be read); those add up, since an event can sit
// in the buffer and then wait for replication. The table path loses what
// came after its restore point: PITR's lag (now minus the latest
// restorable time) while PITR is on, else the age of the newest recovery
// point copied to the backup vault. The RPO is the worse of the two paths.
// A cross-region point-in-time restore needs the primary's PITR to answer,
// so when the primary region is lost entirely the table path is the vault
// copy's age: reported separately as TableIfPrimaryLost.
func (r *run) estimateRPO() RPO {
	f := r.figures
	rpo := RPO{FirehoseBuffer: seconds(time.Duration(r.Config.FirehoseBufferSeconds) * time.Second)}
	latency := rtcBound
	rpo.ReplicationLatencySource = "assumed: RTC bound, latency not readable"
	if f.replicationLatency != nil && !f.replicationUnknown {
		latency = *f.replicationLatency
		rpo.ReplicationLatencySource = "measured: worst of the last 15 minutes"
	}
	rpo.ReplicationLatency = seconds(latency)
	rpo.S3 = rpo.FirehoseBuffer + rpo.ReplicationLatency
	switch {
	case f.pitrLag != nil:
		rpo.Table, rpo.TableSource = seconds(*f.pitrLag), "pitr"
	case f.recoveryPointAge != nil:
		rpo.Table, rpo.TableSource = seconds(*f.recoveryPointAge), "backup-vault"
	default:
		rpo.TableSource = "unknown"
	}
	if f.recoveryPointAge != nil {
		v := seconds(*f.recoveryPointAge)
		rpo.TableIfPrimaryLost = &v
	}
	rpo.Seconds, rpo.Bound = rpo.S3, "s3"
	if rpo.Table > rpo.S3 {
		rpo.Seconds, rpo.Bound = rpo.Table, "table"
	}
	rpo.Complete = rpo.TableSource != "unknown" && f.replicationLatency != nil && !f.replicationUnknown
	return rpo
}

// rtcBound is S3 Replication Time Control's promise.
const rtcBound = 15 * time.Minute

// RPO is the estimated recovery point objective now, in seconds.
type RPO struct {
	Seconds float64 `json:"seconds"`
	// Bound names the path that dominates: "s3" or "table".
	Bound string `json:"bound"`
	// Complete is false when a figure was missing and a bound or nothing
	// stood in for it.
	Complete                 bool     `json:"complete"`
	S3                       float64  `json:"s3_seconds"`
	FirehoseBuffer           float64  `json:"firehose_buffer_seconds"`
	ReplicationLatency       float64  `json:"replication_latency_seconds"`
	ReplicationLatencySource string   `json:"replication_latency_source"`
	Table                    float64  `json:"table_seconds"`
	TableSource              string   `json:"table_source"`
	TableIfPrimaryLost       *float64 `json:"table_if_primary_lost_seconds,omitempty"`
}

func seconds(d time.Duration) float64 { return d.Round(time.Second).Seconds() }

func value(d time.Duration) *float64 {
	v := seconds(d)
	return &v
}

func number(n float64) *float64 { return &n }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// answered reports whether a call reached the service: it succeeded or the
// service answered with an error code.
func answered(err error) bool { return err == nil || errorCode(err) != "" }

// errorCode returns the AWS error code of err, or "".
func errorCode(err error) string {
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	return ""
}
