package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/datatier"
	"github.com/dr-analytics/drplan/constructs/traffic"
	"github.com/dr-analytics/drplan/constructs/workload"
	"github.com/dr-analytics/drplan/internal/naming"
)

// PrimaryStackProps configures the primary region's stack.
type PrimaryStackProps struct {
	Config config.Config
	Names  naming.Names
}

// PrimaryStack runs the workload in the primary region and keeps its data
// flowing to the backup region.
type PrimaryStack struct {
	awscdk.Stack
	Data *datatier.DataTier
}

// NewPrimaryStack composes the primary region.
func NewPrimaryStack(scope constructs.Construct, id string, props PrimaryStackProps) *PrimaryStack {
	cfg, names := props.Config, props.Names
	stack := awscdk.NewStack(scope, &id, stackProps(names, id, cfg.PrimaryRegion,
		"Primary region: data buckets replicating to the backup region, aggregates table, catalog and the workload", true))
	alarms := alerts.New(stack, "Alerts", alerts.Props{TopicName: names.Prefix + "-alarms", Email: cfg.AlarmEmail})
	data := datatier.NewPrimary(stack, "Data", datatier.PrimaryProps{
		Props: datatier.Props{
			Names: names, Region: cfg.PrimaryRegion, NoncurrentVersionDays: cfg.NoncurrentVersionDays, Alerts: alarms,
		},
		BackupRegion:                cfg.BackupRegion,
		BackupFrequencyHours:        cfg.BackupFrequencyHours,
		BackupRetentionDays:         cfg.BackupRetentionDays,
		FrequentBackupRetentionDays: cfg.FrequentBackupRetentionDays,
	})
	foundation := regionCompute(stack, cfg, names, cfg.PrimaryRegion, data, alarms)
	pipeline := workload.NewPipeline(stack, "Pipeline", foundation)
	workload.NewCompactionSchedule(stack, "NightlyCompaction", foundation)
	listenerArn := traffic.LookupListenerArn(stack, "ListenerLookup", traffic.LookupProps{
		ParameterName:    names.ListenerParameter(),
		ParameterArn:     names.ListenerParameterArn(cfg.BackupRegion),
		Region:           cfg.BackupRegion,
		LogRetentionDays: cfg.LogRetentionDays,
	})
	// Failback moves traffic back first, so once it has deleted the record
	// the primary's dial may be sent again: no failover-stack check here.
	guard := deployGuard(stack, cfg, names, id, config.KeyAllowPrimaryDeployDuringFailover, cfg.AllowPrimaryDeployDuringFailover, false)
	traffic.NewEndpointGroup(stack, "EndpointGroup", traffic.EndpointGroupProps{
		ListenerArn:     listenerArn,
		Region:          cfg.PrimaryRegion,
		LoadBalancerArn: pipeline.LoadBalancer().LoadBalancerArn(),
		TrafficDial:     100,
		Weight:          traffic.ActiveWeight,
		WaitFor:         []constructs.IDependable{pipeline.DeliveryStream()},
		Guard:           guard,
		GuardReason:     "set the primary traffic dial back to 100 before drctl failback has run",
	})
	return &PrimaryStack{Stack: stack, Data: data}
}
