// Command app is the CDK app: it reads the configuration once and wires the
// stacks. Everything else lives in config/, stacks/ and constructs/.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/constructs/gofunction"
	"github.com/dr-analytics/drplan/stacks"
)

func main() {
	// No jsii.Close(): jsii-runtime-go's Close races its own wait on the
	// Node.js child and prints "Runtime process exited abnormally"; the child
	// ends by itself when this process exits.
	app := awscdk.NewApp(nil)
	context, _ := app.Node().GetAllContext(nil).(map[string]any)
	cfg, warnings, err := config.LoadContext(context, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	gofunction.Prebuild() // the Lambdas build while the stacks are composed
	stacks.NewDeployment(app, cfg)
	app.Synth(nil)
}
