package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/backoff"
	"github.com/dr-analytics/drplan/internal/cli"
	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/readiness"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // a FAIL line, a refused or failed failback, a mismatch
	exitUsage = 2 // bad command line or config
)

// environment is everything drctl takes from the outside world, so tests
// can run it against fakes.
type environment struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// loadAWS loads the base SDK config (credentials, retries, endpoints).
	loadAWS func(context.Context) (aws.Config, error)
	// endpoint overrides a service's endpoint in a region; nil in production.
	endpoint func(service, region string) string
	now      func() time.Time
	// sleep waits between drain polls and retries.
	sleep func(context.Context, time.Duration) error
	// terminal reports whether stderr is an interactive terminal
	// (progress lines).
	terminal bool
}

func productionEnvironment() environment {
	return environment{
		stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, loadAWS: loadAWSConfig,
		now: time.Now, terminal: cli.IsTerminal(os.Stderr),
	}
}

const usage = `drctl: disaster-recovery operations for the DR analytics deployment.

Usage:
  drctl status [-json] [-timeout 10s]
      Readiness checklist for both regions (OK / WARN / FAIL per line) and the
      estimated RPO right now. Exits 1 when any line FAILs.
  drctl failback [-json] [-dry-run] [-since RFC3339] [-workers 32] [-segments 8]
                 [-engine auto|local|batch] [-drain-timeout 30m] [-quiet-period 5m]
                 [-drained-at RFC3339]
                 [-compaction-timeout 1h] [-progress]
      Brings traffic and everything written during the disaster back to the
      primary region: dials, drain, copy objects, merge table items, repair
      partitions, recompact the days since failover, clear the failover
      record, report. Every step is idempotent: run it again to resume.
  drctl repair-partitions -region REGION [-json] [-since RFC3339]
      Registers every Glue partition missing from a region's catalog for the
      objects under raw/ and compacted/ in that region's data buckets.
  drctl help [command]
  drctl -version

Every command reads the CDK app's context from ./cdk.json (-config PATH) and
takes the same overrides as the CDK app (-c key=value, repeatable), so it uses
the same names. Every command has -timeout: it bounds getting credentials and
each AWS call (S3 copies, which move up to 5 GB each, get at least 30m).
Credentials, profiles and endpoints come from the standard AWS SDK settings
(AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_<SERVICE>, ...).
Run "drctl help <command>" for a command's flags.
Exit status: 0 done, 1 a check or step failed, 2 bad command line or config,
130 interrupted.
`

// exitInterrupted is 128 + SIGINT, as shells report an interrupted command.
const exitInterrupted = 130

func run(ctx context.Context, args []string, env environment) int {
	code := dispatch(ctx, args, env)
	if ctx.Err() != nil && code != exitOK {
		return exitInterrupted
	}
	return code
}

func dispatch(ctx context.Context, args []string, env environment) int {
	if len(args) == 0 {
		fmt.Fprint(env.stderr, "drctl: no command: use status, failback, repair-partitions or help (drctl help)\n")
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "status":
		return statusCommand(ctx, rest, env)
	case "failback":
		return failbackCommand(ctx, rest, env)
	case "repair-partitions":
		return repairCommand(ctx, rest, env)
	case "-version", "--version", "version":
		fmt.Fprintln(env.stdout, "drctl", cli.Version())
		return exitOK
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return dispatch(ctx, []string{rest[0], "-h"}, env)
		}
		fmt.Fprint(env.stdout, usage)
		return exitOK
	}
	fmt.Fprintf(env.stderr, "drctl: unknown command %q: use status, failback, repair-partitions or help\n", cmd)
	return exitUsage
}

// commonFlags are the flags every command shares: where the config comes
// from, the per-call deadline and JSON output.
type commonFlags struct {
	configPath string
	overrides  contextOverrides
	timeout    time.Duration
	json       bool
}

// register adds the shared flags; timeoutUse says what -timeout bounds
// for the command.
func (c *commonFlags) register(fs *flag.FlagSet, timeoutUse string) {
	fs.StringVar(&c.configPath, "config", "cdk.json", "the CDK app's cdk.json, whose \"context\" names the deployment")
	fs.Var(&c.overrides, "c", "context override `key=value`, as with cdk -c (repeatable)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, timeoutUse)
	fs.BoolVar(&c.json, "json", false, "print the report as JSON on stdout")
}

// contextOverrides collects -c key=value flags.
type contextOverrides map[string]string

func (o *contextOverrides) String() string { return "" }

func (o *contextOverrides) Set(v string) error {
	key, value, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(key) == "" {
		return fmt.Errorf("want key=value (e.g. -c primaryRegion=us-east-1), got %q", v)
	}
	if *o == nil {
		*o = contextOverrides{}
	}
	(*o)[strings.TrimSpace(key)] = value
	return nil
}

// loadConfig reads cdk.json's context with the overrides, exactly as the
// CDK app does (config.LoadContext), and prints config's warnings as synth
// does.
func (c *commonFlags) loadConfig(env environment) (config.Config, error) {
	raw, err := os.ReadFile(c.configPath)
	if err != nil {
		return config.Config{}, fmt.Errorf("read %s: %w: run drctl in the CDK app's folder or pass -config path/to/cdk.json", c.configPath, err)
	}
	var file struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return config.Config{}, fmt.Errorf("read %s: not valid JSON: %w", c.configPath, err)
	}
	context := file.Context
	if context == nil {
		context = map[string]any{}
	}
	for key, value := range c.overrides {
		context[key] = value
	}
	cfg, warnings, err := config.LoadContext(context, env.getenv)
	if err != nil {
		return config.Config{}, fmt.Errorf("%s: %w", c.configPath, err)
	}
	for _, w := range warnings {
		fmt.Fprintf(env.stderr, "drctl: warning: %s\n", w)
	}
	return cfg, nil
}

// factory loads the SDK configuration and resolves credentials within
// -timeout, naming the real cause when that fails; every client it then
// builds gives each call its own deadline.
func (c *commonFlags) factory(ctx context.Context, env environment) (clientFactory, error) {
	base, err := env.loadAWS(ctx)
	if err != nil {
		return clientFactory{}, err
	}
	if err := resolveCredentials(ctx, base, c.timeout); err != nil {
		return clientFactory{}, err
	}
	base.APIOptions = append(base.APIOptions, callDeadline(c.timeout))
	return clientFactory{base: base, endpoint: env.endpoint}, nil
}

// parse parses a command's flags; it returns a non-negative exit code
// when the command should stop: help (on stdout, exit 0) or a usage error
// (one line on stderr, exit 2).
func parse(fs *flag.FlagSet, args []string, c *commonFlags, env environment) int {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(env.stdout)
			fs.Usage()
			return exitOK
		}
		fmt.Fprintf(env.stderr, "drctl %s: %v (see drctl help %s)\n", fs.Name(), err, fs.Name())
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.stderr, "drctl %s: unexpected argument %q: every option is a flag (see drctl help %s)\n", fs.Name(), fs.Arg(0), fs.Name())
		return exitUsage
	}
	if c.timeout <= 0 {
		fmt.Fprintf(env.stderr, "drctl %s: -timeout must be a positive duration such as 10s; got %s\n", fs.Name(), c.timeout)
		return exitUsage
	}
	return -1
}

// writeJSON prints v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func statusCommand(ctx context.Context, args []string, env environment) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var c commonFlags
	c.register(fs, "deadline of getting credentials and of each AWS call")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: drctl status [flags]\n\nReadiness checklist for both regions and the estimated RPO. Exits 1 when a check FAILs.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code := parse(fs, args, &c, env); code >= 0 {
		return code
	}
	cfg, err := c.loadConfig(env)
	if err != nil {
		fmt.Fprintf(env.stderr, "drctl status: %v\n", err)
		return exitUsage
	}
	stopWaiting := waiting(env, "drctl status: getting credentials")
	clients, err := c.factory(ctx, env)
	stopWaiting()
	if err != nil {
		fmt.Fprintf(env.stderr, "drctl status: %v\n", err)
		return exitFail
	}
	stopWaiting = waiting(env, fmt.Sprintf("drctl status: checking %s and %s", cfg.PrimaryRegion, cfg.BackupRegion))
	report := readiness.Run(ctx, readiness.Input{
		Config: cfg, Primary: clients.readinessRegion(cfg.PrimaryRegion), Backup: clients.readinessRegion(cfg.BackupRegion),
		GlobalAccelerator: clients.globalAccelerator(), STS: clients.sts(cfg.BackupRegion),
		CallTimeout: c.timeout, Now: env.now,
	})
	stopWaiting()
	if c.json {
		err = report.WriteJSON(env.stdout)
	} else {
		err = report.WriteText(env.stdout)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "drctl status: write report: %v\n", err)
		return exitFail
	}
	if report.Failed() {
		return exitFail
	}
	return exitOK
}

// timeFlag parses RFC 3339 times.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(v string) error {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time such as 2026-11-25T08:00:00Z, got %q", v)
	}
	f.t = t
	return nil
}

func failbackCommand(ctx context.Context, args []string, env environment) int {
	fs := flag.NewFlagSet("failback", flag.ContinueOnError)
	var c commonFlags
	c.register(fs, "deadline of getting credentials, of the pre-flight calls and of each later AWS call")
	var since timeFlag
	fs.Var(&since, "since", "failover time (RFC 3339); default: the earlier of the first failover attempt's start (recorded in SSM) and BackupFailoverStack's creation")
	dryRun := fs.Bool("dry-run", false, "read and report what would be done; change nothing")
	workers := fs.Int("workers", 32, "objects copied in parallel (1-1024)")
	segments := fs.Int("segments", 8, "parallel queries of the backup table's index by writing region and hour (1-1000)")
	drainTimeout := fs.Duration("drain-timeout", failback.DefaultDrainTimeout, "how long to wait for producers to leave the backup region and its stream and Firehose to drain (the ingest ALB ends every client connection after 60 s)")
	quietPeriod := fs.Duration("quiet-period", failback.DefaultQuietPeriod, "how long the backup load balancer and stream must see nothing before the pipeline counts as drained")
	var drainedAt timeFlag
	fs.Var(&drainedAt, "drained-at", "skip the drain's measurement: the backup pipeline drained at this time (RFC 3339), on your word (CloudWatch down, a stream that never empties); the report records it as yours")
	drainPoll := fs.Duration("drain-poll", 30*time.Second, "interval between looks at the backup pipeline's metrics")
	compactionTimeout := fs.Duration("compaction-timeout", time.Hour, "how long to wait for the primary's compaction of the days since failover")
	compactionPoll := fs.Duration("compaction-poll", 30*time.Second, "interval between looks at the compaction executions")
	engine := fs.String("engine", failback.EngineAuto, fmt.Sprintf("how to copy objects: auto (S3 Batch Operations from %d objects, or when an earlier run started a job), local (this process) or batch (S3 Batch Operations in the primary region)", failback.DefaultBatchThreshold))
	partSize := fs.Int64("part-size", failback.DefaultPartSize>>20, "part size in MiB of multipart copies of objects over 5 GiB (5-5120)")
	progress := fs.Bool("progress", false, "draw progress bars on stderr even when it is not a terminal")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: drctl failback [flags]\n\nSets the traffic dials back, waits for the backup pipeline to drain, copies objects written\nduring the disaster back to the primary buckets, merges the backup region's table items into\nthe primary table, repairs the primary's partitions, recompacts every whole day since the\nfailover in the primary and, once everything matches, deletes the recorded failover start.\nResumable: run it again after an error.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code := parse(fs, args, &c, env); code >= 0 {
		return code
	}
	for _, check := range []struct {
		ok   bool
		flag string
		want string
		got  any
	}{
		{*workers >= 1 && *workers <= 1024, "workers", "a whole number from 1 to 1024", *workers},
		{*segments >= 1 && *segments <= 1000, "segments", "a whole number from 1 to 1000", *segments},
		{*drainTimeout > 0, "drain-timeout", "a positive duration such as 30m", *drainTimeout},
		{*drainPoll > 0, "drain-poll", "a positive duration such as 30s", *drainPoll},
		{*quietPeriod >= time.Minute, "quiet-period", "a duration of at least 1m, such as 5m", *quietPeriod},
		{drainedAt.t.IsZero() || !drainedAt.t.After(env.now()), "drained-at", "a time in the past", drainedAt.String()},
		{*compactionTimeout > 0, "compaction-timeout", "a positive duration such as 1h", *compactionTimeout},
		{*compactionPoll > 0, "compaction-poll", "a positive duration such as 30s", *compactionPoll},
		{*partSize >= 5 && *partSize <= 5120, "part-size", "MiB from 5 to 5120", *partSize},
		{*engine == failback.EngineAuto || *engine == failback.EngineLocal || *engine == failback.EngineBatch, "engine", "auto, local or batch", *engine},
		{since.t.IsZero() || !since.t.After(env.now()), "since", "a time in the past", since.String()},
	} {
		if !check.ok {
			fmt.Fprintf(env.stderr, "drctl failback: -%s must be %s; got %v\n", check.flag, check.want, check.got)
			return exitUsage
		}
	}
	cfg, err := c.loadConfig(env)
	if err != nil {
		fmt.Fprintf(env.stderr, "drctl failback: %v\n", err)
		return exitUsage
	}
	clients, err := c.factory(ctx, env)
	if err != nil {
		fmt.Fprintf(env.stderr, "drctl failback: %v\n", err)
		return exitFail
	}
	in := failback.Input{
		Config: cfg, Primary: clients.failbackRegion(cfg.PrimaryRegion), Backup: clients.failbackRegion(cfg.BackupRegion),
		GlobalAccelerator: clients.globalAccelerator(), STS: clients.sts(cfg.BackupRegion),
		Since: since.t, DryRun: *dryRun, Workers: *workers, Segments: *segments,
		DrainTimeout: *drainTimeout, DrainPoll: *drainPoll, QuietPeriod: *quietPeriod, DrainedAt: drainedAt.t, PreflightTimeout: c.timeout,
		CompactionTimeout: *compactionTimeout, CompactionPoll: *compactionPoll,
		PartSize: *partSize << 20, Engine: *engine, Now: env.now, Retry: backoff.Policy{Sleep: env.sleep},
	}
	if *progress || env.terminal {
		in.Progress = newProgressBar(env.stderr, env.now)
	}
	report, err := failback.Run(ctx, in)
	var refusal *failback.Refusal
	if errors.As(err, &refusal) {
		fmt.Fprintf(env.stderr, "drctl failback: %v\n", err)
		return exitFail
	}
	write := report.WriteText
	if c.json {
		write = func(w io.Writer) error { return writeJSON(w, report) }
	}
	if werr := write(env.stdout); werr != nil {
		fmt.Fprintf(env.stderr, "drctl failback: write report: %v\n", werr)
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "drctl failback: %v\n", err)
		return exitFail
	}
	if !report.OK() {
		return exitFail
	}
	return exitOK
}

func repairCommand(ctx context.Context, args []string, env environment) int {
	fs := flag.NewFlagSet("repair-partitions", flag.ContinueOnError)
	var c commonFlags
	c.register(fs, "deadline of getting credentials and of each AWS call")
	region := fs.String("region", "", "the region whose catalog to repair: the config's primaryRegion or backupRegion (required)")
	var since timeFlag
	fs.Var(&since, "since", "only objects modified at or after this RFC 3339 time (default: all)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: drctl repair-partitions -region REGION [flags]\n\nRegisters every Glue partition missing from the region's catalog for the objects under\nraw/ and compacted/ in the region's data buckets.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code := parse(fs, args, &c, env); code >= 0 {
		return code
	}
	cfg, err := c.loadConfig(env)
	if err != nil {
		fmt.Fprintf(env.stderr, "drctl repair-partitions: %v\n", err)
		return exitUsage
	}
	if *region != cfg.PrimaryRegion && *region != cfg.BackupRegion {
		fmt.Fprintf(env.stderr, "drctl repair-partitions: -region must be %s (primaryRegion) or %s (backupRegion); got %q\n", cfg.PrimaryRegion, cfg.BackupRegion, *region)
		return exitUsage
	}
	clients, err := c.factory(ctx, env)
	if err != nil {
		fmt.Fprintf(env.stderr, "drctl repair-partitions: %v\n", err)
		return exitFail
	}
	account := cfg.Account
	if account == "" {
		id, err := clients.sts(*region).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			fmt.Fprintf(env.stderr, "drctl repair-partitions: cannot verify credentials (STS GetCallerIdentity in %s): %v\n", *region, err)
			return exitFail
		}
		account = aws.ToString(id.Account)
	}
	rep, err := failback.RepairPartitions(ctx, failback.RepairInput{
		S3: clients.s3(*region), Glue: clients.glue(*region), Names: cfg.Names(account), Region: *region, Since: since.t,
		Retry: backoff.Policy{Sleep: env.sleep},
	})
	if c.json {
		doc := repairReport{Region: *region, Objects: rep.Objects, Actions: rep.Step.Actions, Mismatches: rep.Step.Mismatches}
		if !since.t.IsZero() {
			doc.Since = &since.t
		}
		if err != nil {
			doc.Error = err.Error()
		}
		if werr := writeJSON(env.stdout, doc); werr != nil {
			fmt.Fprintf(env.stderr, "drctl repair-partitions: write report: %v\n", werr)
			return exitFail
		}
	} else {
		fmt.Fprintf(env.stdout, "Partition repair in %s (%d objects under raw/ and compacted/", *region, rep.Objects)
		if !since.t.IsZero() {
			fmt.Fprintf(env.stdout, " modified since %s", since.t.Format(time.RFC3339))
		}
		fmt.Fprintln(env.stdout, ")")
		for _, a := range rep.Step.Actions {
			fmt.Fprintf(env.stdout, "  %s\n", a)
		}
		for _, m := range rep.Step.Mismatches {
			fmt.Fprintf(env.stdout, "  ! %s\n", m)
		}
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "drctl repair-partitions: %v\n", err)
		return exitFail
	}
	if len(rep.Step.Mismatches) > 0 {
		return exitFail
	}
	return exitOK
}

// repairReport is repair-partitions' -json document.
type repairReport struct {
	Region     string     `json:"region"`
	Since      *time.Time `json:"since,omitempty"`
	Objects    int        `json:"objects"`
	Actions    []string   `json:"actions"`
	Mismatches []string   `json:"mismatches"`
	Error      string     `json:"error,omitempty"`
}
