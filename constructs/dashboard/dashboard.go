// Package dashboard deploys the one CloudWatch dashboard for DR, whose
// body internal/drdashboard generates from the names the stacks use, and
// outputs its console URL in the backup region. A dashboard costs a flat
// monthly fee, nothing by the hour, and needs nothing in the primary region.
package dashboard

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglobalaccelerator"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/internal/drdashboard"
	"github.com/dr-analytics/drplan/internal/drmetrics"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Props configures the dashboard.
type Props struct {
	// Names derives every physical name.
	Names naming.Names
	// PrimaryRegion and BackupRegion, e.g. "us-east-1" and "us-west-2".
	PrimaryRegion, BackupRegion string
	// RPOTargetMinutes and RTOTargetMinutes are drawn as thresholds, e.g. 60.
	RPOTargetMinutes, RTOTargetMinutes int
	// RestoreTestMaxAgeHours is drawn on the restore test's age, e.g. 174.25; 0 hides it.
	RestoreTestMaxAgeHours float64
	// Accelerator whose endpoint groups' flows show which region takes traffic.
	Accelerator awsglobalaccelerator.Accelerator
	// AggregatorFailures is the backup region's aggregator on-failure queue.
	AggregatorFailures awssqs.IQueue
	// Alarms are shown with their state.
	Alarms []awscloudwatch.Alarm
}

// New creates the dashboard and the DashboardUrl output.
func New(scope constructs.Construct, id string, props Props) awscloudwatch.CfnDashboard {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	var alarms []string
	for _, a := range props.Alarms {
		alarms = append(alarms, *a.AlarmArn())
	}
	body, err := drdashboard.Body(drdashboard.Input{
		Names: props.Names, PrimaryRegion: props.PrimaryRegion, BackupRegion: props.BackupRegion,
		RPOTargetMinutes: props.RPOTargetMinutes, RTOTargetMinutes: props.RTOTargetMinutes,
		RestoreTestMaxAgeHours: props.RestoreTestMaxAgeHours,
		// arn:aws:globalaccelerator::<account>:accelerator/<id>
		AcceleratorID:           *awscdk.Fn_Select(jsii.Number(1), awscdk.Fn_Split(jsii.String("/"), props.Accelerator.AcceleratorArn(), nil)),
		AggregatorFailuresQueue: *props.AggregatorFailures.QueueName(),
		AlarmArns:               alarms,
	})
	if err != nil {
		panic(fmt.Sprintf("dashboard %s: %v", id, err))
	}
	d := awscloudwatch.NewCfnDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.CfnDashboardProps{
		DashboardName: jsii.String(drmetrics.DashboardName(props.Names.Prefix)),
		DashboardBody: jsii.String(body),
	})
	awscdk.NewCfnOutput(scope, jsii.String("DashboardUrl"), &awscdk.CfnOutputProps{
		Key:         jsii.String("DashboardUrl"),
		Description: jsii.String("The DR dashboard in the backup region's console"),
		Value:       jsii.String(drmetrics.DashboardURL(props.Names.Prefix, props.BackupRegion)),
	})
	return d
}
