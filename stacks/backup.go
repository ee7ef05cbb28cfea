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
	"github.com/dr-analytics/drplan/internal/deployguard"
	"github.com/dr-analytics/drplan/internal/naming"
)

// BackupStackProps configures the backup region's standing stack.
type BackupStackProps struct {
	Config config.Config
	Names  naming.Names
}

// BackupStack holds, in the backup region, everything that must exist before
// a disaster: replicas, catalog, vault, the accelerator, the failover
// foundation (billed only by use) and, in the pilot-light tier only, the
// ingest pipeline pre-built and out of traffic (the one part billed by the
// hour). It never reads from, writes to or waits on the primary region.
type BackupStack struct {
	awscdk.Stack
	Data       *datatier.DataTier
	Foundation *workload.Foundation
	// Pipeline is the pre-built ingest pipeline (pilot-light), else nil.
	Pipeline     *workload.Pipeline
	Accelerator  *traffic.Accelerator
	Restore      *tablerestore.Provider
	DialProvider customresources.Provider
}

// NewBackupStack composes the backup region.
func NewBackupStack(scope constructs.Construct, id string, props BackupStackProps) *BackupStack {
	cfg, names := props.Config, props.Names
	stack := awscdk.NewStack(scope, &id, stackProps(names, id, cfg.BackupRegion,
		"Backup region: replica buckets, catalog, backup vault, accelerator and the failover foundation", true))
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
	pipeline := pilotLight(stack, cfg, names, foundation, accelerator)
	return &BackupStack{Stack: stack, Data: data, Foundation: foundation, Pipeline: pipeline, Accelerator: accelerator, Restore: restore, DialProvider: dial}
}

// pilotLight pre-builds the ingest pipeline and its endpoint, at weight 0,
// in the pilot-light tier (nil in backup-restore). Either way a guard
// refuses a tier switch while a failover is recorded: the pipeline's
// fixed-name resources cannot exist in BackupStack and BackupFailoverStack
// at once.
func pilotLight(stack awscdk.Stack, cfg config.Config, names naming.Names, foundation *workload.Foundation, accelerator *traffic.Accelerator) *workload.Pipeline {
	// No override here: a BackupStack change that needs the guard's
	// consent can wait for the failback.
	guard := deployGuard(stack, cfg, names, naming.BackupStack, "", false, true)
	tier := guard.Check(stack, "TierGuard", "switch the recovery tier to "+cfg.Tier+" while BackupFailoverStack holds resources of the same names",
		map[string]any{"Tier": cfg.Tier, deployguard.PropFailoverStack: names.StackName(naming.BackupFailoverStack)})
	if !cfg.PilotLight() {
		return nil
	}
	pipeline := workload.NewPipeline(stack, "Pipeline", foundation)
	pipeline.Node().AddDependency(tier)
	traffic.NewEndpointGroup(stack, "EndpointGroup", traffic.EndpointGroupProps{
		ListenerArn:     accelerator.ListenerArn(),
		Region:          cfg.BackupRegion,
		LoadBalancerArn: pipeline.LoadBalancer().LoadBalancerArn(),
		TrafficDial:     100,
		// Out of traffic, failover included, until the failover deploy
		// gives it ActiveWeight (Custom::TrafficDial).
		Weight:      traffic.IdleWeight,
		WaitFor:     []constructs.IDependable{pipeline.DeliveryStream()},
		Guard:       guard,
		GuardReason: "set the pre-built backup endpoint's weight back to 0 while it takes the producers' traffic",
	})
	return pipeline
}
