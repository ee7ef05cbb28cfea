// Package gofunction builds every Lambda function of the product the same way:
// Go on arm64 and provided.al2023, bundled by a local reproducible `go build`
// (no Docker), logging to its own log group with a fixed retention, under a
// role that may write to that log group and nothing else until callers grant more.
package gofunction

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/dr-analytics/drplan/constructs/loggroup"
	"github.com/dr-analytics/drplan/internal/moduleroot"
)

// Props configures a Go function.
type Props struct {
	// Package is the main package to build, relative to the module root, e.g. "./lambdas/ingest".
	Package string
	// FunctionName is the physical name, e.g. "dr-analytics-ingest".
	FunctionName string
	// Description shows in the console, e.g. "Accepts producer events from the ALB".
	Description string
	// Environment variables, e.g. {"STREAM_NAME": "dr-analytics-events"}.
	Environment map[string]string
	// Timeout, e.g. 30 * time.Second. Default 30 s.
	Timeout time.Duration
	// MemoryMB, e.g. 256. Default 256.
	MemoryMB int
	// LogRetentionDays for the function's log group, e.g. 90.
	LogRetentionDays int
}

// GoFunction is a bundled Go Lambda with its log group and role.
type GoFunction struct {
	function awslambda.Function
	role     awsiam.Role
}

// New builds the function. It panics on invalid props: they are programming
// errors in this repository, not operator input.
func New(scope constructs.Construct, id string, props Props) *GoFunction {
	if props.Package == "" || props.FunctionName == "" || props.LogRetentionDays == 0 {
		panic(fmt.Sprintf("gofunction %s: Package, FunctionName and LogRetentionDays are required", id))
	}
	root, err := moduleroot.Find()
	if err != nil {
		panic(fmt.Sprintf("gofunction %s: %v", id, err))
	}
	scope = constructs.NewConstruct(scope, jsii.String(id))

	logGroup := loggroup.New(scope, "Logs", props.LogRetentionDays, "")
	role := awsiam.NewRole(scope, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Runs " + props.FunctionName),
	})
	// Only this function's own log group: no AWSLambdaBasicExecutionRole, which
	// allows writing to every log group in the account.
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))

	timeout := props.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	memory := props.MemoryMB
	if memory == 0 {
		memory = 256
	}
	fn := awslambda.NewFunction(scope, jsii.String("Function"), &awslambda.FunctionProps{
		FunctionName: jsii.String(props.FunctionName),
		Description:  jsii.String(props.Description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         code(root, props.Package),
		Environment:  environment(props.Environment),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(timeout.Seconds())),
		MemorySize:   jsii.Number(memory),
		Role:         role,
		LogGroup:     logGroup,
	})
	return &GoFunction{function: fn, role: role}
}

// Function is the Lambda function.
func (g *GoFunction) Function() awslambda.Function { return g.function }

// Role is the function's execution role, for grants.
func (g *GoFunction) Role() awsiam.Role { return g.role }

// AllowTo adds one least-privilege statement to the function's role.
func (g *GoFunction) AllowTo(actions []string, resources ...string) {
	g.role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(resources...),
	}))
}

func code(root, pkg string) awslambda.Code {
	if !strings.HasPrefix(pkg, "./") {
		pkg = "./" + pkg
	}
	return awslambda.Code_FromAsset(jsii.String(filepath.Join(root, pkg)), &awss3assets.AssetOptions{
		// The binary's hash, not the source folder's: the folder holds only
		// main.go while the logic lives in internal/.
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			Image: awscdk.DockerImage_FromRegistry(jsii.String("unused-local-go-build")),
			Local: &localBuilder{moduleRoot: root, pkg: pkg},
		},
	})
}

func environment(env map[string]string) *map[string]*string {
	if len(env) == 0 {
		return nil
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]*string, len(env))
	for _, k := range keys {
		out[k] = jsii.String(env[k])
	}
	return &out
}
