// Package alerts gives each region one place where alarms go: an SNS topic
// encrypted with a rotating customer managed key that CloudWatch may use,
// reachable only over TLS, with an e-mail subscription when one is configured.
package alerts

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Props configures the alarm topic.
type Props struct {
	// TopicName, e.g. "dr-analytics-alarms".
	TopicName string
	// Email receives alarms when set, e.g. "ops@example.com".
	Email string
}

// Alerts is a region's alarm topic.
type Alerts struct {
	topic awssns.Topic
}

// New creates the topic and its key.
func New(scope constructs.Construct, id string, props Props) *Alerts {
	scope = constructs.NewConstruct(scope, jsii.String(id))
	key := awskms.NewKey(scope, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Encrypts the " + props.TopicName + " alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE,
	})
	// CloudWatch publishes alarm notifications; an encrypted topic is only
	// usable by it when the key lets the service encrypt.
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"), // in a key policy "*" means this key
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	}), jsii.Bool(false))
	topic := awssns.NewTopic(scope, jsii.String("Topic"), &awssns.TopicProps{
		TopicName:  jsii.String(props.TopicName),
		MasterKey:  key,
		EnforceSSL: jsii.Bool(true),
	})
	// EnforceSSL gives the topic its own policy, which replaces SNS's default
	// one: CloudWatch must now be allowed to publish explicitly, or every
	// alarm action fails with "not authorized to perform SNS:Publish".
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  jsii.Strings(*topic.TopicArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()},
			"ArnLike":      map[string]any{"aws:SourceArn": "arn:aws:cloudwatch:" + *awscdk.Aws_REGION() + ":" + *awscdk.Aws_ACCOUNT_ID() + ":alarm:*"},
		},
	}))
	if props.Email != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.Email), nil))
	}
	return &Alerts{topic: topic}
}

// Notify sends an alarm's state changes (into and out of ALARM) to the topic.
func (a *Alerts) Notify(alarm awscloudwatch.Alarm) {
	action := awscloudwatchactions.NewSnsAction(a.topic)
	alarm.AddAlarmAction(action)
	alarm.AddOkAction(action)
}

// Alarm creates an alarm and sends its state changes to the topic.
func (a *Alerts) Alarm(scope constructs.Construct, id string, props *awscloudwatch.AlarmProps) awscloudwatch.Alarm {
	alarm := awscloudwatch.NewAlarm(scope, jsii.String(id), props)
	a.Notify(alarm)
	return alarm
}
