// Package loggroup creates the product's log groups: fixed retention (from
// config), retained when a stack is deleted so the record of an incident
// outlives the compute that wrote it.
package loggroup

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// retention maps the CloudWatch Logs retention periods (days) to CDK's enum.
// config validates days against the same set.
var retention = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// Retention converts validated config days to CDK's enum.
func Retention(days int) awslogs.RetentionDays {
	r, ok := retention[days]
	if !ok {
		panic(fmt.Sprintf("log retention of %d days is not a CloudWatch Logs value; config validation should have refused it", days))
	}
	return r
}

// New creates a retained log group with the given retention. name may be ""
// to let CloudFormation name it.
func New(scope constructs.Construct, id string, days int, name string) awslogs.LogGroup {
	props := &awslogs.LogGroupProps{
		Retention:     Retention(days),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	}
	if name != "" {
		props.LogGroupName = jsii.String(name)
	}
	return awslogs.NewLogGroup(scope, jsii.String(id), props)
}
