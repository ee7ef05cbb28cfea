package awsfake_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	gatypes "github.com/aws/aws-sdk-go-v2/service/globalaccelerator/types"
	"github.com/aws/smithy-go"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

func TestBackupRegionSettingsReportDynamoDBAdvancedFeatures(t *testing.T) {
	ctx := context.Background()
	b := awsfake.NewBackup(t, "us-west-2", "123456789012")
	describe := func() *backup.DescribeRegionSettingsOutput {
		t.Helper()
		out, err := b.Client().DescribeRegionSettings(ctx, &backup.DescribeRegionSettingsInput{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Run("a new region has DynamoDB opted in with advanced features on", func(t *testing.T) {
		out := describe()
		if !out.ResourceTypeManagementPreference["DynamoDB"] || !out.ResourceTypeOptInPreference["DynamoDB"] {
			t.Errorf("management %v, opt-in %v; want DynamoDB true in both", out.ResourceTypeManagementPreference, out.ResourceTypeOptInPreference)
		}
	})
	t.Run("turning advanced features off leaves the opt-in alone", func(t *testing.T) {
		b.SetDynamoDBAdvancedFeatures(false)
		out := describe()
		if out.ResourceTypeManagementPreference["DynamoDB"] || !out.ResourceTypeOptInPreference["DynamoDB"] {
			t.Errorf("management %v, opt-in %v; want management off, opt-in on", out.ResourceTypeManagementPreference, out.ResourceTypeOptInPreference)
		}
		b.SetDynamoDBAdvancedFeatures(true)
		if out := describe(); !out.ResourceTypeManagementPreference["DynamoDB"] {
			t.Errorf("management %v after turning it back on", out.ResourceTypeManagementPreference)
		}
	})
}

func TestAcceleratorIsDescribedAsPut(t *testing.T) {
	ctx := context.Background()
	g := awsfake.NewGlobalAccelerator(t)
	g.PutAccelerator(awsfake.Accelerator{Arn: "arn:acc", Name: "dr", DNSName: "a1.awsglobalaccelerator.com", Status: "IN_PROGRESS", Enabled: false})
	out, err := g.Client().DescribeAccelerator(ctx, &globalaccelerator.DescribeAcceleratorInput{AcceleratorArn: aws.String("arn:acc")})
	if err != nil {
		t.Fatal(err)
	}
	a := out.Accelerator
	if got := fmt.Sprintf("%s %s %s %s %t", aws.ToString(a.AcceleratorArn), aws.ToString(a.Name), aws.ToString(a.DnsName), a.Status, aws.ToBool(a.Enabled)); got != "arn:acc dr a1.awsglobalaccelerator.com IN_PROGRESS false" {
		t.Errorf("DescribeAccelerator = %s", got)
	}
	_, err = g.Client().DescribeAccelerator(ctx, &globalaccelerator.DescribeAcceleratorInput{AcceleratorArn: aws.String("arn:missing")})
	if !errors.As(err, new(*gatypes.AcceleratorNotFoundException)) {
		t.Errorf("DescribeAccelerator of a missing accelerator: %v, want AcceleratorNotFoundException", err)
	}
}

func TestEndpointGroupsAnswerWithEndpointHealth(t *testing.T) {
	ctx := context.Background()
	g := awsfake.NewGlobalAccelerator(t)
	g.PutListener("arn:l", awsfake.EndpointGroup{Arn: "arn:primary", Region: "us-east-1"}, awsfake.EndpointGroup{Arn: "arn:backup", Region: "us-west-2"})
	g.SetEndpoints("arn:primary", awsfake.Endpoint{ID: "alb-1", Health: "HEALTHY"}, awsfake.Endpoint{ID: "alb-2", Health: "UNHEALTHY"})
	health := func(descriptions []gatypes.EndpointDescription) string {
		var out []string
		for _, e := range descriptions {
			out = append(out, aws.ToString(e.EndpointId)+"="+string(e.HealthState))
		}
		return fmt.Sprint(out)
	}
	describe := func(t *testing.T, arn string) string {
		t.Helper()
		out, err := g.Client().DescribeEndpointGroup(ctx, &globalaccelerator.DescribeEndpointGroupInput{EndpointGroupArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		return health(out.EndpointGroup.EndpointDescriptions)
	}
	list := func(t *testing.T) map[string]string {
		t.Helper()
		out, err := g.Client().ListEndpointGroups(ctx, &globalaccelerator.ListEndpointGroupsInput{ListenerArn: aws.String("arn:l")})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, eg := range out.EndpointGroups {
			got[aws.ToString(eg.EndpointGroupArn)] = health(eg.EndpointDescriptions)
		}
		return got
	}
	const primaryHealth, noEndpoints = "[alb-1=HEALTHY alb-2=UNHEALTHY]", "[]"
	t.Run("ListEndpointGroups carries each group's endpoints", func(t *testing.T) {
		if got := list(t); got["arn:primary"] != primaryHealth || got["arn:backup"] != noEndpoints {
			t.Errorf("listed %v", got)
		}
	})
	t.Run("DescribeEndpointGroup carries the group's endpoints", func(t *testing.T) {
		if got := describe(t, "arn:primary"); got != primaryHealth {
			t.Errorf("primary = %s, want %s", got, primaryHealth)
		}
		if got := describe(t, "arn:backup"); got != noEndpoints {
			t.Errorf("backup = %s, want none", got)
		}
	})
	t.Run("endpoints outlive a change of the listener's groups", func(t *testing.T) {
		zero := float32(0)
		g.PutListener("arn:l", awsfake.EndpointGroup{Arn: "arn:primary", Region: "us-east-1", Dial: &zero}, awsfake.EndpointGroup{Arn: "arn:backup", Region: "us-west-2"})
		g.SetEndpoints("arn:backup", awsfake.Endpoint{ID: "alb-3", Health: "INITIAL"})
		if got := list(t); got["arn:primary"] != primaryHealth || got["arn:backup"] != "[alb-3=INITIAL]" {
			t.Errorf("listed %v", got)
		}
	})
	t.Run("a missing group is EndpointGroupNotFoundException", func(t *testing.T) {
		_, err := g.Client().DescribeEndpointGroup(ctx, &globalaccelerator.DescribeEndpointGroupInput{EndpointGroupArn: aws.String("arn:missing")})
		if !errors.As(err, new(*gatypes.EndpointGroupNotFoundException)) {
			t.Errorf("DescribeEndpointGroup of a missing group: %v", err)
		}
	})
}

// faulted is what every fake offers for fault injection and recording.
type faulted interface {
	Inject(op string, f awsfake.Fault)
	CallsTo(op string) []awsfake.Call
}

func TestNewOperationsTakeInjectedFaultsAndAreRecorded(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		op    string
		start func(t *testing.T) (faulted, func() error)
	}{
		{"DescribeRegionSettings", func(t *testing.T) (faulted, func() error) {
			b := awsfake.NewBackup(t, "us-west-2", "123456789012")
			return b, func() error {
				_, err := b.Client().DescribeRegionSettings(ctx, &backup.DescribeRegionSettingsInput{})
				return err
			}
		}},
		{"DescribeAccelerator", func(t *testing.T) (faulted, func() error) {
			g := awsfake.NewGlobalAccelerator(t)
			g.PutAccelerator(awsfake.Accelerator{Arn: "arn:acc", Status: "DEPLOYED", Enabled: true})
			return g, func() error {
				_, err := g.Client().DescribeAccelerator(ctx, &globalaccelerator.DescribeAcceleratorInput{AcceleratorArn: aws.String("arn:acc")})
				return err
			}
		}},
		{"DescribeEndpointGroup", func(t *testing.T) (faulted, func() error) {
			g := awsfake.NewGlobalAccelerator(t)
			g.PutListener("arn:l", awsfake.EndpointGroup{Arn: "arn:eg", Region: "us-east-1"})
			return g, func() error {
				_, err := g.Client().DescribeEndpointGroup(ctx, &globalaccelerator.DescribeEndpointGroupInput{EndpointGroupArn: aws.String("arn:eg")})
				return err
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			fake, call := tc.start(t)
			fake.Inject(tc.op, awsfake.Fault{Code: "AccessDeniedException", Message: "not authorized", Times: 1})
			var apiErr smithy.APIError
			if err := call(); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" {
				t.Errorf("first call: %v, want the injected AccessDeniedException", err)
			}
			if err := call(); err != nil {
				t.Errorf("second call, after the fault was used up: %v", err)
			}
			if n := len(fake.CallsTo(tc.op)); n != 2 {
				t.Errorf("%d %s calls recorded, want 2", n, tc.op)
			}
		})
	}
}
