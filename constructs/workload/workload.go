// Package workload is the analytics compute of one region, built the same
// way by the primary stack and by the failover stack: ingest (ALB -> Lambda
// -> Kinesis -> Firehose) and processing (aggregator, nightly compaction).
// Foundation is everything billed only by use (functions, roles, keys, log
// groups, network); Pipeline is the live data path (load balancer, stream,
// delivery stream, event source mapping, schedule), the part billed by the
// hour. In the primary region one stack holds both; in the backup region
// BackupStack holds the Foundation all the time and BackupFailoverStack adds
// the Pipeline only during a disaster.
package workload

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/constructs/alerts"
	"github.com/dr-analytics/drplan/constructs/ingest"
	"github.com/dr-analytics/drplan/constructs/network"
	"github.com/dr-analytics/drplan/constructs/processing"
	"github.com/dr-analytics/drplan/internal/naming"
)

// FoundationProps configures a region's Foundation.
type FoundationProps struct {
	// Config supplies the producer, retention and aggregation settings.
	Config config.Config
	// Names derives every physical name.
	Names naming.Names
	// Region is where the compute runs.
	Region string
	// AccessLogs is the region's access-log bucket.
	AccessLogs awss3.IBucket
	// CatalogArns are the region's Glue catalog, database and table ARNs.
	CatalogArns []string
	// Alerts receives the region's alarms.
	Alerts *alerts.Alerts
}

// Foundation is a region's compute billed only by use.
type Foundation struct {
	props      FoundationProps
	network    *network.Network
	ingest     *ingest.Foundation
	processing *processing.Foundation
}

// NewFoundation creates it.
func NewFoundation(scope constructs.Construct, id string, props FoundationProps) *Foundation {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := props.Config, props.Names
	net := network.New(scope, "Network", network.Props{Name: n.IngestLoadBalancer(), LogRetentionDays: cfg.LogRetentionDays})
	in := ingest.NewFoundation(scope, "Ingest", ingest.FoundationProps{
		Names:               n,
		Region:              props.Region,
		Network:             net,
		StreamingBucketName: n.Bucket(naming.Streaming, props.Region),
		ProducerCIDRs:       cfg.ProducerCIDRs,
		ProducerPrefixList:  cfg.ProducerPrefixList,
		ListenerPort:        cfg.ListenerPort(),
		LogRetentionDays:    cfg.LogRetentionDays,
	})
	proc := processing.NewFoundation(scope, "Processing", processing.FoundationProps{
		Names:                 n,
		Region:                props.Region,
		StreamKey:             in.StreamKey(),
		StreamingBucketName:   n.Bucket(naming.Streaming, props.Region),
		BatchBucketName:       n.Bucket(naming.Batch, props.Region),
		AccessLogs:            props.AccessLogs,
		CatalogArns:           props.CatalogArns,
		AggregateKey:          cfg.AggregateKey,
		NoncurrentVersionDays: cfg.NoncurrentVersionDays,
		LogRetentionDays:      cfg.LogRetentionDays,
		Alerts:                props.Alerts,
	})
	return &Foundation{props: props, network: net, ingest: in, processing: proc}
}

// Pipeline is a region's live data path, billed by the hour.
// It is a construct, so other resources can be ordered before or after it.
type Pipeline struct {
	constructs.Construct
	ingest *ingest.Pipeline
}

// NewPipeline starts the compute on top of a Foundation.
func NewPipeline(scope constructs.Construct, id string, foundation *Foundation) *Pipeline {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	cfg, region := foundation.props.Config, foundation.props.Region
	in := ingest.NewPipeline(scope, "Ingest", ingest.PipelineProps{
		Foundation:     foundation.ingest,
		AccessLogs:     foundation.props.AccessLogs,
		CertificateArn: cfg.CertificateArn(region),
		BufferSeconds:  cfg.FirehoseBufferSeconds,
	})
	processing.NewPipeline(scope, "Processing", processing.PipelineProps{
		Foundation: foundation.processing,
		StreamArn:  *in.Stream().StreamArn(),
	})
	return &Pipeline{Construct: scope, ingest: in}
}

// NewCompactionSchedule starts the region's nightly compaction: only in the
// region that takes traffic (the primary, or the backup during failover).
func NewCompactionSchedule(scope constructs.Construct, id string, foundation *Foundation) {
	processing.NewSchedule(scope, id, processing.ScheduleProps{
		Foundation: foundation.processing,
		Schedule:   foundation.props.Config.CompactionSchedule,
	})
}

// DeliveryStream must exist before producers are sent to this region.
func (p *Pipeline) DeliveryStream() constructs.IDependable { return p.ingest.DeliveryStream() }

// LoadBalancer is the ingest ALB, the region's accelerator endpoint.
func (p *Pipeline) LoadBalancer() awselasticloadbalancingv2.ApplicationLoadBalancer {
	return p.ingest.LoadBalancer()
}

// AggregatorFailures is the queue of stream batches the region's
// aggregator gave up on, for the DR dashboard.
func (s *Foundation) AggregatorFailures() awssqs.IQueue { return s.processing.AggregatorFailures() }
