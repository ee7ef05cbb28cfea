// Package tablerestore restores the aggregates table in the backup region
// during failover, through a Go custom resource provider that lives in the
// backup region before any disaster. The restore uses point-in-time recovery
// from the primary table when the primary region answers within seconds,
// else the newest recovery point copied into the backup vault. Create
// restores once, Update never restores again, Delete keeps the table; every
// failure reaches CloudFormation with the handler's reason. (The handler
// itself is internal/tablerestore.)
package tablerestore

import (
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/gofunction"
	"github.com/dr-analytics/drplan/constructs/goprovider"
	"github.com/dr-analytics/drplan/constructs/nag"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/recoverytime"
	restorehandler "github.com/dr-analytics/drplan/internal/tablerestore"
)

// ProbeTimeout is how long the restore waits for the primary region to
// answer before it uses the backup vault instead.
const ProbeTimeout = 5 * time.Second

// ProviderProps configures the restore provider.
type ProviderProps struct {
	// Names derives the table and vault names.
	Names naming.Names
	// PrimaryRegion holds the source table, e.g. "us-east-1".
	PrimaryRegion string
	// BackupRegion is where the table is restored, e.g. "us-west-2".
	BackupRegion string
	// RestoreRole is the role AWS Backup assumes to restore from the vault.
	RestoreRole awsiam.IRole
	// LogRetentionDays for the functions' logs.
	LogRetentionDays int
}

// Provider is the restore provider, idle in the backup region.
type Provider struct {
	provider customresources.Provider
	props    ProviderProps
}

// NewProvider creates the provider's functions and framework.
func NewProvider(scope constructs.Construct, id string, props ProviderProps) *Provider {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	n := props.Names
	target := n.TableArn(props.BackupRegion)
	source := n.TableArn(props.PrimaryRegion)
	vault := n.BackupVaultArn(props.BackupRegion)
	recoveryPoints := "arn:aws:backup:" + props.BackupRegion + ":" + n.Account + ":recovery-point:*"

	// Both handlers get the same permissions: a permission missing in the
	// middle of a disaster costs far more than the small overlap.
	handler := func(id, mode, description string, timeout time.Duration) *gofunction.GoFunction {
		fn := gofunction.New(scope, id, gofunction.Props{
			Package:          "./lambdas/tablerestore",
			FunctionName:     n.Function("table-restore-" + strings.ToLower(mode)),
			Description:      description,
			Environment:      map[string]string{"HANDLER": mode, recoverytime.EnvFailoverRecordParameter: n.FailoverRecordParameter()},
			Timeout:          timeout,
			LogRetentionDays: props.LogRetentionDays,
		})
		fn.AllowTo([]string{"dynamodb:DescribeContinuousBackups", "dynamodb:RestoreTableToPointInTime"}, source)
		fn.AllowTo([]string{
			"dynamodb:DescribeTable", "dynamodb:ListTagsOfResource", "dynamodb:TagResource", "dynamodb:UpdateTable",
			"dynamodb:DescribeContinuousBackups", "dynamodb:UpdateContinuousBackups", "dynamodb:RestoreTableToPointInTime",
			// A point-in-time restore writes the items into the new table as the caller.
			"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
			"dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchWriteItem",
		}, target)
		fn.AllowTo([]string{"backup:ListRecoveryPointsByBackupVault"}, vault)
		fn.AllowTo([]string{"backup:StartRestoreJob"}, recoveryPoints)
		// Neither call has resource-level permissions: they find and follow
		// this failover's running restore job instead of starting another.
		fn.AllowTo([]string{"backup:ListRestoreJobs", "backup:GetRestoreJobMetadata"}, "*")
		// Start records when the failover began, once (see naming.FailoverStartedParameter).
		fn.AllowTo([]string{"ssm:PutParameter", "ssm:GetParameter"}, n.FailoverStartedParameterArn(props.BackupRegion))
		// Start and Ready add their moments to the failover's measured times.
		fn.AllowTo([]string{"ssm:GetParameter", "ssm:PutParameter"}, n.FailoverRecordParameterArn(props.BackupRegion))
		fn.Role().AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:    jsii.Strings("iam:PassRole"),
			Resources:  jsii.Strings(*props.RestoreRole.RoleArn()),
			Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "backup.amazonaws.com"}},
		}))
		nag.Suppress(fn.Role(), "IAM5", "ListRestoreJobs and GetRestoreJobMetadata have no resource-level permissions, and the newest recovery point's id is only known at restore time; both are limited to AWS Backup in this account and region.",
			nag.AnyResource, nag.Resource(recoveryPoints))
		return fn
	}
	// onEvent probes the primary (up to 60 s) and makes a few 20 s-capped calls.
	onEvent := handler("OnEvent", "onEvent", "Starts the failover restore of the aggregates table (PITR or backup vault)", 3*time.Minute)
	isComplete := handler("IsComplete", "isComplete", "Finishes the failover restore: PITR, deletion protection and tags once the table is active", 2*time.Minute)
	provider := goprovider.New(scope, "Provider", goprovider.Props{
		OnEvent:          onEvent,
		IsComplete:       isComplete,
		QueryInterval:    30 * time.Second,
		TotalTimeout:     time.Hour,
		LogRetentionDays: props.LogRetentionDays,
	})
	return &Provider{provider: provider, props: props}
}

// TableRestoreProps configures the restore during failover.
type TableRestoreProps struct {
	// Provider created in the backup stack.
	Provider *Provider
	// Source forces the restore path for drills: "auto", "pitr" or "backup".
	Source string
	// Tags for the restored table, e.g. {"project": "dr-analytics"}.
	Tags map[string]string
}

// WaitMinutes is how long the Ready resource waits for the restored table
// before it reports RESTORING and lets the failover complete; it stays
// below the provider's one-hour limit by more than a poll.
const WaitMinutes = 50

// TableRestore is the restore as the failover stack sees it, in two
// resources. Start begins the restore (or adopts the table an earlier
// attempt restored) and records when the failover began; it fails fast,
// before traffic moves, when no restore can start. Ready waits for the
// table, then turns on PITR and deletion protection and tags it; ingest
// runs meanwhile, and a restore slower than WaitMinutes ends as RESTORING
// instead of rolling back a working failover.
type TableRestore struct {
	start awscdk.CustomResource
	ready awscdk.CustomResource
}

// NewTableRestore restores the table under the name the aggregator expects.
func NewTableRestore(scope constructs.Construct, id string, props TableRestoreProps) *TableRestore {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	p := props.Provider.props
	token := props.Provider.provider.ServiceToken()
	start := awscdk.NewCustomResource(scope, jsii.String("Start"), &awscdk.CustomResourceProps{
		ServiceToken: token,
		ResourceType: jsii.String(ResourceTypeStart),
		Properties: &map[string]any{
			"TableName":                p.Names.Table(),
			"SourceTableArn":           p.Names.TableArn(p.PrimaryRegion),
			"SourceRegion":             p.PrimaryRegion,
			"VaultName":                p.Names.BackupVault(),
			"RestoreRoleArn":           p.RestoreRole.RoleArn(),
			"Source":                   props.Source,
			"ProbeTimeoutSeconds":      strconv.Itoa(int(ProbeTimeout.Seconds())),
			"FailoverStartedParameter": p.Names.FailoverStartedParameter(),
		},
	})
	tags := map[string]any{}
	for k, v := range props.Tags {
		tags[k] = v
	}
	// Ready can restore in place (a failed restore falls back to the vault),
	// so it gets the vault and role as well.
	properties := map[string]any{
		"Tags": tags, "WaitMinutes": strconv.Itoa(WaitMinutes),
		"VaultName": p.Names.BackupVault(), "RestoreRoleArn": p.RestoreRole.RoleArn(),
	}
	for _, key := range []string{"TableName", "Source", "PointInTime", "RestoreJobId", "RecoveryPointArn", "SourceTableArn", "FailoverStartedAt"} {
		properties[key] = start.GetAttString(jsii.String(key))
	}
	ready := awscdk.NewCustomResource(scope, jsii.String("Ready"), &awscdk.CustomResourceProps{
		ServiceToken: token,
		ResourceType: jsii.String(ResourceTypeReady),
		Properties:   &properties,
	})
	return &TableRestore{start: start, ready: ready}
}

// Start is the resource that begins the restore; traffic waits for it.
func (r *TableRestore) Start() awscdk.CustomResource { return r.start }

// Source is the restore path used: pitr, backup or existing.
func (r *TableRestore) Source() *string { return r.start.GetAttString(jsii.String("Source")) }

// PointInTime is the restored data's point in time (RFC 3339): the RPO.
func (r *TableRestore) PointInTime() *string {
	return r.start.GetAttString(jsii.String("PointInTime"))
}

// FailoverStartedAt is when the first failover attempt began (RFC 3339);
// failback brings back everything written since.
func (r *TableRestore) FailoverStartedAt() *string {
	return r.start.GetAttString(jsii.String("FailoverStartedAt"))
}

// Status is ACTIVE once the table is ready and protected, or RESTORING when
// the restore outlasted WaitMinutes (drctl status tracks it from there).
func (r *TableRestore) Status() *string { return r.ready.GetAttString(jsii.String("Status")) }

// Resource types the handler serves (internal/tablerestore).
const (
	ResourceTypeStart = restorehandler.ResourceTypeStart
	ResourceTypeReady = restorehandler.ResourceTypeReady
)
