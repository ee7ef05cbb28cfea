// Package datatier builds one region's data tier. In the primary region: the
// streaming and batch buckets replicating to the backup region, the
// aggregates table (point-in-time recovery, deletion protection, encryption)
// backed up by AWS Backup with copies into the backup region, and the Glue
// catalog. In the backup region: the replica buckets, the vault that receives
// the copies, and a catalog over the replicas. Nothing here is ever deleted
// with its stack.
package datatier

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/catalog"
	"github.com/dr-analytics/drplan/constructs/databucket"
	"github.com/dr-analytics/drplan/constructs/registrar"
	"github.com/dr-analytics/drplan/constructs/tablebackup"
	"github.com/dr-analytics/drplan/internal/aggregate/writerhour"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Props configures either region's data tier.
type Props struct {
	// Names derives every physical name.
	Names naming.Names
	// Region is this tier's region, e.g. "us-east-1".
	Region string
	// NoncurrentVersionDays expires overwritten object versions, e.g. 30.
	NoncurrentVersionDays int
	// Alerts receives this region's alarms.
	Alerts *alerts.Alerts
}

// PrimaryProps adds what only the primary region has.
type PrimaryProps struct {
	Props
	// BackupRegion receives the replicas and the backup copies, e.g. "us-west-2".
	BackupRegion string
	// BackupFrequencyHours divides 24, e.g. 1.
	BackupFrequencyHours int
	// BackupRetentionDays keeps daily recovery points and copies, e.g. 35.
	BackupRetentionDays int
	// FrequentBackupRetentionDays keeps the frequent ones, e.g. 2.
	FrequentBackupRetentionDays int
}

// DataTier is one region's data tier.
type DataTier struct {
	accessLogs awss3.Bucket
	streaming  *databucket.DataBucket
	batch      *databucket.DataBucket
	catalog    *catalog.Catalog
	table      awsdynamodb.Table
	vault      *tablebackup.Vault
}

// NewPrimary builds the primary region's data tier.
func NewPrimary(scope constructs.Construct, id string, props PrimaryProps) *DataTier {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	replica := func(p naming.Purpose) *databucket.Replica {
		return &databucket.Replica{
			BucketName: props.Names.Bucket(p, props.BackupRegion),
			Region:     props.BackupRegion,
			RuleID:     string(p) + "-to-" + props.BackupRegion,
			Alerts:     props.Alerts,
		}
	}
	d := newBuckets(scope, props.Props, replica)
	d.table = awsdynamodb.NewTable(scope, jsii.String("AggregatesTable"), &awsdynamodb.TableProps{
		TableName:    jsii.String(props.Names.Table()),
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("pk"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String("sk"), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(true),
		Encryption:         awsdynamodb.TableEncryption_AWS_MANAGED,
		// Retained on update and delete; a rolled-back first create deletes
		// the empty table, except that deletion protection refuses that
		// delete: see README "When the first deploy fails".
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
	})
	// What a region wrote, by hour, for failback's merge (see writerhour).
	// Restores, point-in-time or from a backup, bring the index along
	// ("RestoreTableToPointInTime", DynamoDB API Reference), so the table
	// restored in the backup region has it too.
	d.table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:      jsii.String(writerhour.Index),
		PartitionKey:   &awsdynamodb.Attribute{Name: jsii.String(writerhour.Attribute), Type: awsdynamodb.AttributeType_STRING},
		SortKey:        &awsdynamodb.Attribute{Name: jsii.String(writerhour.SortKey), Type: awsdynamodb.AttributeType_STRING},
		ProjectionType: awsdynamodb.ProjectionType_ALL,
	})
	newFailbackCopyRole(scope, props.Names, props.Region, props.BackupRegion)
	d.vault = tablebackup.NewVault(scope, "LocalVault", props.Names.BackupVault())
	tablebackup.NewPlan(scope, "TableBackup", tablebackup.PlanProps{
		Table:                 d.table,
		PlanName:              props.Names.Table(),
		LocalVault:            d.vault.BackupVault(),
		CopyVaultArn:          props.Names.BackupVaultArn(props.BackupRegion),
		FrequencyHours:        props.BackupFrequencyHours,
		FrequentRetentionDays: props.FrequentBackupRetentionDays,
		RetentionDays:         props.BackupRetentionDays,
	})
	return d
}

// NewBackup builds the backup region's data tier: replicas, catalog, vault.
func NewBackup(scope constructs.Construct, id string, props Props) *DataTier {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	d := newBuckets(scope, props, func(naming.Purpose) *databucket.Replica { return nil })
	d.vault = tablebackup.NewVault(scope, "Vault", props.Names.BackupVault())
	return d
}

func newBuckets(scope constructs.Construct, props Props, replica func(naming.Purpose) *databucket.Replica) *DataTier {
	n := props.Names
	d := &DataTier{}
	d.accessLogs = databucket.NewAccessLogs(scope, "AccessLogs", databucket.AccessLogsProps{
		Region:                props.Region,
		Account:               n.Account,
		NoncurrentVersionDays: props.NoncurrentVersionDays,
	})
	d.streaming = databucket.New(scope, "Streaming", databucket.Props{
		BucketName:            n.Bucket(naming.Streaming, props.Region),
		AccessLogs:            d.accessLogs,
		NoncurrentVersionDays: props.NoncurrentVersionDays,
		Replica:               replica(naming.Streaming),
	})
	d.batch = databucket.New(scope, "Batch", databucket.Props{
		BucketName:            n.Bucket(naming.Batch, props.Region),
		AccessLogs:            d.accessLogs,
		NoncurrentVersionDays: props.NoncurrentVersionDays,
		Replica:               replica(naming.Batch),
	})
	d.catalog = catalog.New(scope, "Catalog", catalog.Props{
		Database:        n.Database(),
		StreamingBucket: n.Bucket(naming.Streaming, props.Region),
		BatchBucket:     n.Bucket(naming.Batch, props.Region),
	})
	return d
}

// AccessLogs receives S3 and ALB access logs for the region.
func (d *DataTier) AccessLogs() awss3.Bucket { return d.accessLogs }

// Catalog is the region's Glue database and tables.
func (d *DataTier) Catalog() *catalog.Catalog { return d.catalog }

// Table is the aggregates table (primary region only; nil in the backup
// region, where failover restores it).
func (d *DataTier) Table() awsdynamodb.Table { return d.table }

// Vault is the region's backup vault: in the primary region it receives the
// table's recovery points, in the backup region their copies.
func (d *DataTier) Vault() *tablebackup.Vault { return d.vault }

// RegistrarRoutes are the data prefixes whose objects carry partitions
// (naming.DataRoutes: raw/ in the streaming bucket, compacted/ in the batch
// bucket), with this region's buckets.
func (d *DataTier) RegistrarRoutes() []registrar.Route {
	buckets := map[naming.Purpose]*databucket.DataBucket{naming.Streaming: d.streaming, naming.Batch: d.batch}
	routes := make([]registrar.Route, len(naming.DataRoutes))
	for i, r := range naming.DataRoutes {
		b := buckets[r.Purpose]
		routes[i] = registrar.Route{Bucket: b.Cfn(), BucketName: b.Name(), Prefix: r.Prefix, Table: r.Table}
	}
	return routes
}
