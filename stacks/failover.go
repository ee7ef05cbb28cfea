package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/constructs/tablerestore"
	"github.com/dr-analytics/drplan/constructs/traffic"
	"github.com/dr-analytics/drplan/constructs/workload"
	"github.com/dr-analytics/drplan/internal/naming"
)

// BackupFailoverStackProps configures the failover.
type BackupFailoverStackProps struct {
	Config config.Config
	Names  naming.Names
	// Backup is the standing backup-region stack: the only stack this one uses.
	Backup *BackupStack
}

// BackupFailoverStack is deployed during a disaster: it starts the compute
// in the backup region, restores the table, and moves producers' traffic.
// It uses nothing from the primary region at synth or deploy time.
type BackupFailoverStack struct {
	awscdk.Stack
}

// NewBackupFailoverStack composes the failover.
func NewBackupFailoverStack(scope constructs.Construct, id string, props BackupFailoverStackProps) *BackupFailoverStack {
	cfg, names, backup := props.Config, props.Names, props.Backup
	stack := awscdk.NewStack(scope, &id, stackProps(names, id, cfg.BackupRegion,
		"Failover: compute, restored table and traffic in the backup region (deploy during a disaster, destroy after failback)", false))
	restore := tablerestore.NewTableRestore(stack, "AggregatesTable", tablerestore.TableRestoreProps{
		Provider: backup.Restore,
		Source:   cfg.RestoreSource,
		Tags:     map[string]string{"project": names.Prefix},
	})
	workload.NewCompactionSchedule(stack, "NightlyCompaction", backup.Foundation)
	dial := traffic.NewTrafficSwitch(stack, "PrimaryTrafficDial", traffic.TrafficSwitchProps{
		ServiceToken:  backup.DialProvider.ServiceToken(),
		ListenerArn:   backup.Accelerator.ListenerArn(),
		PrimaryRegion: cfg.PrimaryRegion,
		BackupRegion:  cfg.BackupRegion,
		// Pilot-light: the pre-built endpoint joins at ActiveWeight first.
		JoinBackupEndpoint: backup.Pipeline != nil,
	})
	// Producers come only once the table restore has started: a restore
	// that cannot start fails the deploy before any producer is sent here.
	dial.Node().AddDependency(restore.Start())
	if backup.Pipeline == nil {
		// Backup-restore: the pipeline is created now, and producers come
		// only once Firehose reads the stream (it reads from LATEST).
		pipeline := workload.NewPipeline(stack, "Pipeline", backup.Foundation)
		group := traffic.NewEndpointGroup(stack, "EndpointGroup", traffic.EndpointGroupProps{
			ListenerArn:     backup.Accelerator.ListenerArn(),
			Region:          cfg.BackupRegion,
			LoadBalancerArn: pipeline.LoadBalancer().LoadBalancerArn(),
			TrafficDial:     100,
			Weight:          traffic.ActiveWeight,
			WaitFor:         []constructs.IDependable{pipeline.DeliveryStream(), restore.Start()},
		})
		dial.Node().AddDependency(group)
	}

	awscdk.NewCfnOutput(stack, jsii.String("RestoreSource"), &awscdk.CfnOutputProps{
		Description: jsii.String("Where the aggregates table came from: pitr (primary answered), backup (vault copy) or existing"),
		Value:       restore.Source(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("RestorePointInTime"), &awscdk.CfnOutputProps{
		Description: jsii.String("Point in time of the restored table: aggregates after it are rebuilt from the stream or lost (RPO)"),
		Value:       restore.PointInTime(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("RestoreStatus"), &awscdk.CfnOutputProps{
		Description: jsii.String("ACTIVE: the restored table is ready with PITR and deletion protection; RESTORING: still restoring, see drctl status"),
		Value:       restore.Status(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("FailoverStartedAt"), &awscdk.CfnOutputProps{
		Description: jsii.String("When the first failover attempt began: drctl failback brings back everything written since"),
		Value:       restore.FailoverStartedAt(),
	})
	return &BackupFailoverStack{Stack: stack}
}
