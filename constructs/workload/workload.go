// Package workload is the analytics compute of one region, built the same
// way by the primary stack and by the failover stack: ingest (ALB -> Lambda
// -> Kinesis -> Firehose) and processing (aggregator, nightly compaction).
// Standby is everything that costs nothing while idle; Active is everything
// that costs money while running. In the primary region one stack holds
// both; in the backup region BackupStack holds Standby all the time and
// BackupFailoverStack adds Active only during a disaster.
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

// StandbyProps configures a region's idle compute.
type StandbyProps struct {
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

// Standby is a region's idle compute.
type Standby struct {
	props      StandbyProps
	network    *network.Network
	ingest     *ingest.Standby
	processing *processing.Standby
}

// NewStandby creates the idle compute.
func NewStandby(scope constructs.Construct, id string, props StandbyProps) *Standby {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	cfg, n := props.Config, props.Names
	net := network.New(scope, "Network", network.Props{Name: n.IngestLoadBalancer(), LogRetentionDays: cfg.LogRetentionDays})
	in := ingest.NewStandby(scope, "Ingest", ingest.StandbyProps{
		Names:               n,
		Region:              props.Region,
		Network:             net,
		StreamingBucketName: n.Bucket(naming.Streaming, props.Region),
		ProducerCIDRs:       cfg.ProducerCIDRs,
		ProducerPrefixList:  cfg.ProducerPrefixList,
		ListenerPort:        cfg.ListenerPort(),
		LogRetentionDays:    cfg.LogRetentionDays,
	})
	proc := processing.NewStandby(scope, "Processing", processing.StandbyProps{
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
	return &Standby{props: props, network: net, ingest: in, processing: proc}
}

// Active is a region's running compute.
type Active struct {
	ingest *ingest.Active
}

// NewActive starts the compute on top of a Standby.
func NewActive(scope constructs.Construct, id string, standby *Standby) *Active {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	cfg, region := standby.props.Config, standby.props.Region
	in := ingest.NewActive(scope, "Ingest", ingest.ActiveProps{
		Standby:        standby.ingest,
		AccessLogs:     standby.props.AccessLogs,
		CertificateArn: cfg.CertificateArn(region),
		BufferSeconds:  cfg.FirehoseBufferSeconds,
	})
	processing.NewActive(scope, "Processing", processing.ActiveProps{
		Standby:   standby.processing,
		StreamArn: *in.Stream().StreamArn(),
		Schedule:  cfg.CompactionSchedule,
	})
	return &Active{ingest: in}
}

// DeliveryStream must exist before producers are sent to this region.
func (a *Active) DeliveryStream() constructs.IDependable { return a.ingest.DeliveryStream() }

// LoadBalancer is the ingest ALB, the region's accelerator endpoint.
func (a *Active) LoadBalancer() awselasticloadbalancingv2.ApplicationLoadBalancer {
	return a.ingest.LoadBalancer()
}

// AggregatorFailures is the queue of stream batches the region's
// aggregator gave up on, for the DR dashboard.
func (s *Standby) AggregatorFailures() awssqs.IQueue { return s.processing.AggregatorFailures() }
