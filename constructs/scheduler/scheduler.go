// Package scheduler holds what every EventBridge Scheduler schedule of the
// product shares: the service principal its execution roles trust, limited
// to schedules of this account. The Scheduler User Guide recommends the
// aws:SourceAccount condition on the execution role's trust policy to
// prevent the confused deputy problem ("Set up the execution role",
// https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role).
package scheduler

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// Principal is EventBridge Scheduler acting for this account's schedules.
func Principal() awsiam.IPrincipal {
	return awsiam.NewServicePrincipal(jsii.String("scheduler.amazonaws.com"), nil).WithConditions(&map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
	})
}
