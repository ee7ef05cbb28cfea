package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/datatier"
	"github.com/dr-analytics/drplan/constructs/tablerestore"
	"github.com/dr-analytics/drplan/constructs/traffic"
	"github.com/dr-analytics/drplan/constructs/workload"
	"github.com/dr-analytics/drplan/internal/naming"
)

// BackupStackProps configures the backup region's standing stack.
type BackupStackProps struct {
	Config config.Config
	Names  naming.Names
}

// BackupStack holds, in the backup region, everything that must exist before
// a disaster and costs nothing (or next to nothing) while idle: replicas,
// catalog, vault, the accelerator, and the failover compute at rest. It never
// reads from, writes to or waits on the primary region.
type BackupStack struct {
	awscdk.Stack
	Data         *datatier.DataTier
	Foundation   *workload.Foundation
	Accelerator  *traffic.Accelerator
	Restore      *tablerestore.Provider
	DialProvider customresources.Provider
}

// NewBackupStack composes the backup region.
func NewBackupStack(scope constructs.Construct, id string, props BackupStackProps) *BackupStack {
	cfg, names := props.Config, props.Names
	stack := awscdk.NewStack(scope, &id, stackProps(names, id, cfg.BackupRegion,
		"Backup region: replica buckets, catalog, backup vault, accelerator and the idle failover compute", true))
	alarms := alerts.New(stack, "Alerts", alerts.Props{TopicName: names.Prefix + "-alarms", Email: cfg.AlarmEmail})
	data := datatier.NewBackup(stack, "Data", datatier.Props{
		Names: names, Region: cfg.BackupRegion, NoncurrentVersionDays: cfg.NoncurrentVersionDays, Alerts: alarms,
	})
	accelerator := traffic.NewAccelerator(stack, "Accelerator", traffic.AcceleratorProps{
		Name:              names.Accelerator(),
		Port:              cfg.ListenerPort(),
		ListenerParameter: names.ListenerParameter(),
	})
	foundation := regionCompute(stack, cfg, names, cfg.BackupRegion, data, alarms)
	restore := tablerestore.NewProvider(stack, "TableRestore", tablerestore.ProviderProps{
		Names:            names,
		PrimaryRegion:    cfg.PrimaryRegion,
		BackupRegion:     cfg.BackupRegion,
		RestoreRole:      data.Vault().RestoreRole(),
		LogRetentionDays: cfg.LogRetentionDays,
	})
	dial := traffic.NewDialProvider(stack, "TrafficDial", traffic.DialProviderProps{
		FunctionName:               names.Function("traffic-dial"),
		Accelerator:                accelerator.Accelerator(),
		FailoverRecordParameter:    names.FailoverRecordParameter(),
		FailoverRecordParameterArn: names.FailoverRecordParameterArn(cfg.BackupRegion),
		LogRetentionDays:           cfg.LogRetentionDays,
	})
	watchDR(stack, cfg, names, alarms, data, accelerator, foundation)
	return &BackupStack{Stack: stack, Data: data, Foundation: foundation, Accelerator: accelerator, Restore: restore, DialProvider: dial}
}
