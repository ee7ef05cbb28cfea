// Package stacks composes constructs into the app's three stacks. It holds
// no resource details: those live in constructs/.
package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Deployment is the whole app: the backup region's standing stack, the
// primary stack, and the failover stack deployed only during a disaster.
type Deployment struct {
	Backup   *BackupStack
	Primary  *PrimaryStack
	Failover *BackupFailoverStack
}

// NewDeployment adds every stack to app and checks them with cdk-nag's
// AwsSolutions rules, exactly as `cdk synth` and the tests see them.
func NewDeployment(app awscdk.App, cfg config.Config) *Deployment {
	names := cfg.Names(account(cfg))
	backup := NewBackupStack(app, naming.BackupStack, BackupStackProps{Config: cfg, Names: names})
	primary := NewPrimaryStack(app, naming.PrimaryStack, PrimaryStackProps{Config: cfg, Names: names})
	// PrimaryStack deploys BackupStack first as a dependency. The failover
	// never does: its runbook deploys it with --exclusively, so an
	// operator's flags or toolchain cannot change BackupStack mid-disaster.
	// Replication targets, the backup vault and the accelerator listener
	// must exist before the primary stack points at them.
	primary.AddStackDependency(backup.Stack, jsii.String("replica buckets, backup vault and accelerator live in the backup region"))
	failover := NewBackupFailoverStack(app, naming.BackupFailoverStack, BackupFailoverStackProps{Config: cfg, Names: names, Backup: backup})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return &Deployment{Backup: backup, Primary: primary, Failover: failover}
}

// account is the configured account, or the deploy-time account when none
// is configured: synth then needs no credentials and names resolve in
// CloudFormation.
func account(cfg config.Config) string {
	if cfg.Account != "" {
		return cfg.Account
	}
	return *awscdk.Aws_ACCOUNT_ID()
}

// stackProps names the stack with the prefix (naming.Names.StackName), so
// deployments with different prefixes can share an account while the CDK
// ids stay what operators type.
func stackProps(names naming.Names, id, region, description string, terminationProtection bool) *awscdk.StackProps {
	return &awscdk.StackProps{
		StackName:             jsii.String(names.StackName(id)),
		Env:                   &awscdk.Environment{Region: jsii.String(region)},
		Description:           jsii.String(description),
		TerminationProtection: jsii.Bool(terminationProtection),
	}
}
