package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/datatier"
	"github.com/dr-analytics/drplan/constructs/registrar"
	"github.com/dr-analytics/drplan/constructs/traffic"
	"github.com/dr-analytics/drplan/constructs/workload"
	"github.com/dr-analytics/drplan/internal/naming"
)

// regionCompute adds what both regions run on top of their data tier: the
// partition registrar over the region's buckets and the idle workload.
func regionCompute(stack awscdk.Stack, cfg config.Config, names naming.Names, region string, data *datatier.DataTier, alarms *alerts.Alerts) *workload.Foundation {
	registrar.New(stack, "PartitionRegistrar", registrar.Props{
		FunctionName:     names.Function("partition-registrar"),
		Database:         data.Catalog().Database(),
		CatalogArns:      data.Catalog().ResourceArns(),
		Routes:           data.RegistrarRoutes(),
		Alerts:           alarms,
		LogRetentionDays: cfg.LogRetentionDays,
	})
	return workload.NewFoundation(stack, "Foundation", workload.FoundationProps{
		Config:      cfg,
		Names:       names,
		Region:      region,
		AccessLogs:  data.AccessLogs(),
		CatalogArns: data.Catalog().ResourceArns(),
		Alerts:      alarms,
	})
}

// deployGuard refuses deploys of the stack with id stackID that would undo
// the failover recorded in the backup region (see traffic.DeployGuard);
// overrideKey names the config key that lets the operator go on anyway, ""
// for none. With watchFailoverStack its checks may also look up the
// failover stack.
func deployGuard(stack awscdk.Stack, cfg config.Config, names naming.Names, stackID, overrideKey string, override, watchFailoverStack bool) *traffic.DeployGuard {
	var failoverStackArn string
	if watchFailoverStack {
		failoverStackArn = names.StackArn(naming.BackupFailoverStack, cfg.BackupRegion)
	}
	return traffic.NewDeployGuard(stack, "DeployGuard", traffic.DeployGuardProps{
		FailoverStackArn:     failoverStackArn,
		Stack:                stackID,
		FunctionName:         names.Function("deploy-guard"),
		FailoverParameter:    names.FailoverStartedParameter(),
		FailoverParameterArn: names.FailoverStartedParameterArn(cfg.BackupRegion),
		BackupRegion:         cfg.BackupRegion,
		Override:             override,
		OverrideKey:          overrideKey,
		LogRetentionDays:     cfg.LogRetentionDays,
	})
}
