// Package nag records cdk-nag decisions next to the resources they concern.
// Every suppression names the rule, the findings it covers, and a reason in
// words; tests refuse suppressions without a real reason.
package nag

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Suppress accepts rule's findings on c and its children for reason. With
// findings (see Resource), only those granular findings are accepted.
func Suppress(c constructs.IConstruct, rule, reason string, findings ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String("AwsSolutions-" + rule), Reason: jsii.String(reason)}
	if len(findings) > 0 {
		applies := make([]any, len(findings))
		for i, f := range findings {
			applies[i] = jsii.String(f)
		}
		s.AppliesTo = &applies
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}

// Resource is the granular IAM5 finding for a resource ARN as cdk-nag
// prints it: a deploy-time account appears as <AWS::AccountId>.
func Resource(arn string) string {
	return "Resource::" + strings.ReplaceAll(arn, *awscdk.Aws_ACCOUNT_ID(), "<AWS::AccountId>")
}

// AnyResource is the finding for Resource "*".
const AnyResource = "Resource::*"

// Attribute is the granular IAM5 finding for an attribute of a resource in
// the same stack plus a suffix, e.g. "<HandlerFunction1234.Arn>:*".
func Attribute(resource constructs.IConstruct, attribute, suffix string) string {
	element := resource.Node().DefaultChild().(awscdk.CfnElement)
	return "Resource::<" + *awscdk.Stack_Of(resource).GetLogicalId(element) + "." + attribute + ">" + suffix
}
