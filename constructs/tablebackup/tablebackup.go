// Package tablebackup gives the aggregates table a restore path that does not
// need the primary region: AWS Backup takes recovery points on a schedule in
// the primary region and copies each one into a vault in the backup region.
// Both vaults refuse manual deletion of recovery points and are retained.
package tablebackup

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbackup"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/nag"
)

// Vault is a region's backup vault.
type Vault struct {
	vault       awsbackup.BackupVault
	restoreRole awsiam.Role
}

// NewVault creates a vault named name (encrypted with the AWS Backup managed
// key) and the role AWS Backup assumes to restore from it.
func NewVault(scope constructs.Construct, id, name string) *Vault {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	vault := awsbackup.NewBackupVault(scope, jsii.String("Vault"), &awsbackup.BackupVaultProps{
		BackupVaultName: jsii.String(name),
		// Recovery points expire by their lifecycle only: nobody can delete
		// one by hand, so a compromised or careless operator cannot erase the
		// only copy of the table outside the primary region.
		BlockRecoveryPointDeletion: jsii.Bool(true),
		// A rolled-back first create removes the (still empty) vault, so the
		// retry does not fail on its fixed name.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
	})
	role := awsiam.NewRole(scope, jsii.String("RestoreRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("backup.amazonaws.com"), nil),
		Description: jsii.String("AWS Backup restores DynamoDB recovery points from " + name),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AWSBackupServiceRolePolicyForRestores")),
		},
	})
	nag.Suppress(role, "IAM4", "AWS Backup's own restore policy, maintained by AWS as the service adds restore requirements; the role can only be assumed by backup.amazonaws.com.")
	return &Vault{vault: vault, restoreRole: role}
}

// BackupVault is the vault.
func (v *Vault) BackupVault() awsbackup.BackupVault { return v.vault }

// RestoreRole is the role to pass to StartRestoreJob.
func (v *Vault) RestoreRole() awsiam.Role { return v.restoreRole }

// PlanProps configures the table's backup plan.
type PlanProps struct {
	// Table to back up.
	Table awsdynamodb.ITable
	// PlanName, e.g. "dr-analytics-aggregates".
	PlanName string
	// LocalVault receives the recovery points in the table's region.
	LocalVault awsbackup.IBackupVault
	// CopyVaultArn is the vault in the backup region, e.g.
	// "arn:aws:backup:us-west-2:123456789012:backup-vault:dr-analytics-vault".
	CopyVaultArn string
	// FrequencyHours divides 24, e.g. 1 for hourly.
	FrequencyHours int
	// FrequentRetentionDays keeps the frequent recovery points and their
	// copies, e.g. 2.
	FrequentRetentionDays int
	// RetentionDays keeps the daily recovery points and their copies, e.g. 35.
	RetentionDays int
}

// StartWindow is how long AWS Backup may wait to start a scheduled backup
// (60 minutes is the least it accepts; unset, it is 8 hours), and
// CompletionWindow how long the backup may run. Both count in the vault
// path's RPO.
const (
	StartWindow      = time.Hour
	CompletionWindow = 2 * time.Hour
)

// NewPlan backs the table up in two tiers, each recovery point copied to
// the backup region's vault: every FrequencyHours (kept
// FrequentRetentionDays, for a short RPO when the primary region is lost)
// and daily at 00:00 UTC (kept RetentionDays, for history). DynamoDB backups
// are full copies, so keeping every hourly point for 35 days would store 840
// full copies per vault; the frequent rule skips midnight, where the daily
// rule runs, so no hour is backed up twice.
func NewPlan(scope constructs.Construct, id string, props PlanProps) awsbackup.BackupPlan {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	copyVault := awsbackup.BackupVault_FromBackupVaultArn(scope, jsii.String("CopyVault"), jsii.String(props.CopyVaultArn))
	rule := func(name, schedule string, retentionDays int) awsbackup.BackupPlanRule {
		retention := awscdk.Duration_Days(jsii.Number(retentionDays))
		return awsbackup.NewBackupPlanRule(&awsbackup.BackupPlanRuleProps{
			RuleName:           jsii.String(name),
			ScheduleExpression: awsevents.Schedule_Expression(jsii.String(schedule)),
			StartWindow:        awscdk.Duration_Minutes(jsii.Number(StartWindow.Minutes())),
			CompletionWindow:   awscdk.Duration_Minutes(jsii.Number(CompletionWindow.Minutes())),
			DeleteAfter:        retention,
			CopyActions: &[]*awsbackup.BackupPlanCopyActionProps{{
				DestinationBackupVault: copyVault,
				DeleteAfter:            retention,
			}},
		})
	}
	rules := []awsbackup.BackupPlanRule{rule("daily-copied-to-backup-region", Schedule(24), props.RetentionDays)}
	if props.FrequencyHours < 24 {
		rules = append(rules, rule(fmt.Sprintf("every-%dh-copied-to-backup-region", props.FrequencyHours), Schedule(props.FrequencyHours), props.FrequentRetentionDays))
	}
	plan := awsbackup.NewBackupPlan(scope, jsii.String("Plan"), &awsbackup.BackupPlanProps{
		BackupPlanName:  jsii.String(props.PlanName),
		BackupVault:     props.LocalVault,
		BackupPlanRules: &rules,
	})
	selection := plan.AddSelection(jsii.String("Table"), &awsbackup.BackupSelectionOptions{
		Resources: &[]awsbackup.BackupResource{awsbackup.BackupResource_FromDynamoDbTable(props.Table)},
	})
	nag.Suppress(selection, "IAM4", "AWS Backup's own backup policy, maintained by AWS; the role can only be assumed by backup.amazonaws.com and the selection names one table.")
	return plan
}

// Schedule is the AWS Backup cron for a frequency that divides 24 hours,
// at minute 0 UTC: daily at 00:00 for 24, else every frequencyHours from
// frequencyHours on, which leaves 00:00 to the daily rule.
func Schedule(frequencyHours int) string {
	if frequencyHours >= 24 {
		return "cron(0 0 * * ? *)"
	}
	return fmt.Sprintf("cron(0 %d/%d * * ? *)", frequencyHours, frequencyHours)
}
