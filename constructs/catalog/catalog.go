// Package catalog builds a region's Glue catalog for the product: one
// database with a `raw` table (JSON Lines from Firehose, partitioned by
// year/month/day/hour) over the streaming bucket and a `compacted` table
// (Parquet from the nightly job, partitioned by dt) over the batch bucket.
// Partitions are not declared here: the partition registrar adds them as data
// lands, reading the partition keys and storage descriptor from these tables.
package catalog

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglue"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/schema"
)

// Props configures a catalog.
type Props struct {
	// Database name, e.g. "dr_analytics".
	Database string
	// StreamingBucket and BatchBucket are this region's bucket names.
	StreamingBucket string
	BatchBucket     string
}

// Catalog is a region's Glue database and tables.
type Catalog struct {
	database string
	region   string
}

// New creates the database and both tables.
func New(scope constructs.Construct, id string, props Props) *Catalog {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	db := awsglue.NewCfnDatabase(scope, jsii.String("Database"), &awsglue.CfnDatabaseProps{
		CatalogId: awscdk.Aws_ACCOUNT_ID(),
		DatabaseInput: &awsglue.CfnDatabase_DatabaseInputProperty{
			Name:        jsii.String(props.Database),
			Description: jsii.String("Analytics events: raw JSON from the stream and the nightly compacted Parquet."),
		},
	})
	db.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE, nil)

	raw := table(scope, "RawTable", props.Database, tableSpec{
		name:          naming.RawTable,
		description:   "Raw events as delivered by Firehose (GZIP JSON Lines), one partition per hour of arrival.",
		location:      fmt.Sprintf("s3://%s/%s", props.StreamingBucket, naming.RawPrefix),
		partitionKeys: schema.RawPartitionKeys,
		parameters:    map[string]string{"classification": "json", "compressionType": "gzip"},
		inputFormat:   "org.apache.hadoop.mapred.TextInputFormat",
		outputFormat:  "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
		serde:         "org.openx.data.jsonserde.JsonSerDe",
		// A malformed line must not fail a whole query or the nightly job.
		serdeParameters: map[string]string{"ignore.malformed.json": "true"},
		compressed:      true,
	})
	compacted := table(scope, "CompactedTable", props.Database, tableSpec{
		name:          naming.CompactedTable,
		description:   "Events compacted nightly into Snappy Parquet, one partition per UTC day.",
		location:      fmt.Sprintf("s3://%s/%s", props.BatchBucket, naming.CompactedPrefix),
		partitionKeys: schema.CompactedPartitionKeys,
		parameters:    map[string]string{"classification": "parquet", "parquet.compression": "SNAPPY"},
		inputFormat:   "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		outputFormat:  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		serde:         "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
	})
	raw.AddResourceDependency(db, jsii.String("a table lives in its database"))
	compacted.AddResourceDependency(db, jsii.String("a table lives in its database"))
	return &Catalog{database: props.Database, region: *awscdk.Stack_Of(scope).Region()}
}

// Database is the database name.
func (c *Catalog) Database() string { return c.database }

// ResourceArns are the catalog, database and both tables: what a caller
// needs to read table definitions or add partitions, and nothing more.
func (c *Catalog) ResourceArns() []string {
	base := fmt.Sprintf("arn:aws:glue:%s:%s:", c.region, *awscdk.Aws_ACCOUNT_ID())
	return []string{
		base + "catalog",
		base + "database/" + c.database,
		base + "table/" + c.database + "/" + naming.RawTable,
		base + "table/" + c.database + "/" + naming.CompactedTable,
	}
}

type tableSpec struct {
	name, description, location      string
	partitionKeys                    []string
	parameters, serdeParameters      map[string]string
	inputFormat, outputFormat, serde string
	compressed                       bool
}

func table(scope constructs.Construct, id, database string, s tableSpec) awsglue.CfnTable {
	columns := make([]any, len(schema.EventColumns))
	for i, c := range schema.EventColumns {
		columns[i] = &awsglue.CfnTable_ColumnProperty{Name: jsii.String(c.Name), Type: jsii.String(c.Type)}
	}
	keys := make([]any, len(s.partitionKeys))
	for i, k := range s.partitionKeys {
		keys[i] = &awsglue.CfnTable_ColumnProperty{Name: jsii.String(k), Type: jsii.String("string")}
	}
	t := awsglue.NewCfnTable(scope, jsii.String(id), &awsglue.CfnTableProps{
		CatalogId:    awscdk.Aws_ACCOUNT_ID(),
		DatabaseName: jsii.String(database),
		TableInput: &awsglue.CfnTable_TableInputProperty{
			Name:          jsii.String(s.name),
			Description:   jsii.String(s.description),
			TableType:     jsii.String("EXTERNAL_TABLE"),
			Parameters:    stringMap(s.parameters),
			PartitionKeys: &keys,
			StorageDescriptor: &awsglue.CfnTable_StorageDescriptorProperty{
				Columns:      &columns,
				Location:     jsii.String(s.location),
				InputFormat:  jsii.String(s.inputFormat),
				OutputFormat: jsii.String(s.outputFormat),
				Compressed:   jsii.Bool(s.compressed),
				SerdeInfo: &awsglue.CfnTable_SerdeInfoProperty{
					SerializationLibrary: jsii.String(s.serde),
					Parameters:           stringMap(s.serdeParameters),
				},
			},
		},
	})
	t.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE, nil)
	return t
}

func stringMap(m map[string]string) *map[string]*string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = jsii.String(v)
	}
	return &out
}
