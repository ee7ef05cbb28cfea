// Package goprovider wraps Go custom resource handlers in CDK's provider
// framework. The framework answers CloudFormation whatever the handler does
// (error, panic, timeout), so a failed custom resource fails its stack
// operation with the handler's message instead of hanging it for an hour;
// with an isComplete handler it polls until the resource is ready, up to an
// hour, without keeping a Lambda running.
package goprovider

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/gofunction"
	"github.com/dr-analytics/drplan/constructs/loggroup"
	"github.com/dr-analytics/drplan/constructs/nag"
)

// Props configures a provider.
type Props struct {
	// OnEvent handles Create, Update and Delete.
	OnEvent *gofunction.GoFunction
	// IsComplete, when set, is polled until it reports the resource ready.
	IsComplete *gofunction.GoFunction
	// QueryInterval between isComplete polls, e.g. 30 * time.Second.
	QueryInterval time.Duration
	// TotalTimeout bounds the whole operation; the framework allows at most an hour.
	TotalTimeout time.Duration
	// LogRetentionDays for the framework's own logs.
	LogRetentionDays int
}

// New creates the provider; use its ServiceToken in custom resources.
func New(scope constructs.Construct, id string, props Props) customresources.Provider {
	p := &customresources.ProviderProps{
		OnEventHandler: props.OnEvent.Function(),
		LogGroup:       loggroup.New(scope, id+"FrameworkLogs", props.LogRetentionDays, ""),
	}
	if props.IsComplete != nil {
		p.IsCompleteHandler = props.IsComplete.Function()
		p.QueryInterval = awscdk.Duration_Seconds(jsii.Number(props.QueryInterval.Seconds()))
		p.TotalTimeout = awscdk.Duration_Seconds(jsii.Number(props.TotalTimeout.Seconds()))
		// CDK leaves the waiter's logging off unless told otherwise
		// (DisableWaiterStateMachineLogging defaults to true).
		p.DisableWaiterStateMachineLogging = jsii.Bool(false)
		p.WaiterStateMachineLogOptions = &customresources.LogOptions{
			Destination: loggroup.New(scope, id+"WaiterLogs", props.LogRetentionDays, ""),
			Level:       awsstepfunctions.LogLevel_ALL,
		}
	}
	provider := customresources.NewProvider(scope, jsii.String(id), p)
	nag.Suppress(provider, "IAM4", "CDK's provider framework functions use AWSLambdaBasicExecutionRole for their own logs; they run only CDK's framework code.")
	nag.Suppress(provider, "IAM5", "The framework may invoke the handler function and its versions (function ARN with :*), and its waiter may run its own state machine executions.")
	nag.Suppress(provider, "L1", "The framework's Node.js runtime is chosen and updated by the CDK version in go.mod, not by this app.")
	nag.Suppress(provider, "SF1", "The framework's waiter state machine logs ALL events to a retained log group (WaiterStateMachineLogOptions); the rule cannot see the framework's wiring.")
	nag.Suppress(provider, "SF2", "The waiter state machine only polls the isComplete function; X-Ray tracing of it adds no insight beyond its logs.")
	return provider
}
