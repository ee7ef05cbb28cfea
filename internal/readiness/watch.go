package readiness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dr-analytics/drplan/config"
)

// ContextVariable is the environment variable that carries the scheduled
// readiness function's configuration: a JSON object of CDK context keys,
// validated by config.Load like cdk.json.
const ContextVariable = "DR_CONTEXT"

// WatchCallTimeout bounds every AWS call of the scheduled run: a primary
// region that does not answer costs this once per call, concurrently.
const WatchCallTimeout = 4 * time.Second

// Watcher is the scheduled readiness run: the same checks as `drctl
// status`, published as metrics.
type Watcher struct {
	Input   Input
	Metrics io.Writer
	Logger  *slog.Logger
}

// NewWatcher builds the clients for both regions from one SDK config and
// the JSON context in ContextVariable.
func NewWatcher(base aws.Config, contextJSON string, metrics io.Writer, logger *slog.Logger) (*Watcher, error) {
	values := map[string]any{}
	if err := json.Unmarshal([]byte(contextJSON), &values); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object of context keys: %w", ContextVariable, err)
	}
	cfg, _, err := config.Load(func(k string) any { return values[k] }, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ContextVariable, err)
	}
	at := func(region string) aws.Config {
		c := base.Copy()
		c.Region = region
		return c
	}
	region := func(name string) Region {
		c := at(name)
		return Region{
			Name: name, S3: s3.NewFromConfig(c), CloudWatch: cloudwatch.NewFromConfig(c), DynamoDB: dynamodb.NewFromConfig(c),
			Backup: backup.NewFromConfig(c), SSM: ssm.NewFromConfig(c), CloudFormation: cloudformation.NewFromConfig(c),
		}
	}
	return &Watcher{
		Input: Input{
			Config: cfg, Primary: region(cfg.PrimaryRegion), Backup: region(cfg.BackupRegion),
			GlobalAccelerator: globalaccelerator.NewFromConfig(at(config.GlobalAcceleratorControlRegion)),
			STS:               sts.NewFromConfig(at(cfg.BackupRegion)),
			CallTimeout:       WatchCallTimeout,
		},
		Metrics: metrics, Logger: logger,
	}, nil
}

// Run checks once and publishes. It fails only when the metrics cannot be
// written: a region that does not answer is a finding, not an error.
func (w *Watcher) Run(ctx context.Context) (Summary, error) {
	report := Run(ctx, w.Input)
	for _, l := range report.Checks {
		if l.Status != OK {
			w.Logger.Warn("check", "status", l.Status, "region", l.Region, "check", l.Check, "detail", l.Detail)
		}
	}
	w.Logger.Info("readiness", "ok", report.Summary.OK, "warn", report.Summary.Warn, "fail", report.Summary.Fail,
		"primary_reachable", report.PrimaryReachable, "rpo_seconds", report.RPO.Seconds, "rpo_bound", report.RPO.Bound)
	if err := Publish(w.Metrics, report); err != nil {
		return report.Summary, fmt.Errorf("publish readiness metrics: %w", err)
	}
	return report.Summary, nil
}

// ContextJSON is the configuration the scheduled function needs, as the
// JSON object of context keys NewWatcher reads: the same keys and rules as
// cdk.json, so the function judges with the deployed settings.
func ContextJSON(c config.Config) string {
	values := map[string]any{
		config.KeyPrefix:                c.Prefix,
		config.KeyPrimaryRegion:         c.PrimaryRegion,
		config.KeyBackupRegion:          c.BackupRegion,
		config.KeyAccount:               c.Account,
		config.KeyBackupFrequencyHours:  c.BackupFrequencyHours,
		config.KeyFirehoseBufferSeconds: c.FirehoseBufferSeconds,
		config.KeyReadinessInterval:     c.ReadinessIntervalMinutes,
		config.KeyRPOTarget:             c.RPOTargetMinutes,
		config.KeyRTOTarget:             c.RTOTargetMinutes,
		config.KeyRestoreTestSchedule:   c.RestoreTestSchedule,
	}
	out, err := json.Marshal(values)
	if err != nil { // cannot happen: strings and ints
		panic(fmt.Sprintf("encode readiness context: %v", err))
	}
	return string(out)
}
