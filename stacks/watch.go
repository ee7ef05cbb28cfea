package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/dashboard"
	"github.com/dr-analytics/drplan/constructs/datatier"
	"github.com/dr-analytics/drplan/constructs/readiness"
	"github.com/dr-analytics/drplan/constructs/restoretest"
	"github.com/dr-analytics/drplan/constructs/traffic"
	"github.com/dr-analytics/drplan/constructs/workload"
	"github.com/dr-analytics/drplan/internal/naming"
	checks "github.com/dr-analytics/drplan/internal/readiness"
)

// watchDR composes what watches DR from the backup region: the scheduled
// readiness run, the table restore test and the dashboard.
func watchDR(stack awscdk.Stack, cfg config.Config, names naming.Names, alarms *alerts.Alerts, data *datatier.DataTier,
	accelerator *traffic.Accelerator, foundation *workload.Foundation) {
	schedule, maxAge := "", checks.RestoreTestMaxAge(cfg.RestoreTestSchedule)
	if cfg.RestoreTestEnabled() {
		schedule = cfg.RestoreTestSchedule
	} else {
		maxAge = 0
	}
	ready := readiness.New(stack, "Readiness", readiness.Props{
		Names: names, PrimaryRegion: cfg.PrimaryRegion, BackupRegion: cfg.BackupRegion,
		ContextJSON: checks.ContextJSON(cfg), IntervalMinutes: cfg.ReadinessIntervalMinutes,
		RPOTargetMinutes: cfg.RPOTargetMinutes, RestoreTestMaxAge: maxAge,
		Accelerator: accelerator.Accelerator(), Alerts: alarms, LogRetentionDays: cfg.LogRetentionDays,
	})
	test := restoretest.New(stack, "RestoreTest", restoretest.Props{
		Names: names, PrimaryRegion: cfg.PrimaryRegion, BackupRegion: cfg.BackupRegion, Schedule: schedule,
		RTOTargetMinutes: cfg.RTOTargetMinutes, RestoreRole: data.Vault().RestoreRole(), Alerts: alarms,
		LogRetentionDays: cfg.LogRetentionDays,
	})
	dashboard.New(stack, "Dashboard", dashboard.Props{
		Names: names, PrimaryRegion: cfg.PrimaryRegion, BackupRegion: cfg.BackupRegion,
		RPOTargetMinutes: cfg.RPOTargetMinutes, RTOTargetMinutes: cfg.RTOTargetMinutes, RestoreTestMaxAgeHours: maxAge.Hours(),
		Accelerator: accelerator.Accelerator(), AggregatorFailures: foundation.AggregatorFailures(), Alarms: append(ready.Alarms(), test.Alarms()...),
	})
}
