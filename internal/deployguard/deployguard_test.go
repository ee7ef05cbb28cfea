package deployguard

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
)

const (
	parameter = "/dr-analytics/failover/started-at"
	region    = "us-west-2"
)

func event(rt cfn.RequestType, override string) cfn.Event {
	return cfn.Event{
		RequestType: rt, LogicalResourceID: "EndpointGroupGuard", PhysicalResourceID: "deploy-guard-EndpointGroupGuard",
		ResourceProperties: map[string]any{
			PropFailoverParameter: parameter, PropBackupRegion: region,
			PropOverride: override, PropOverrideKey: "allowPrimaryDeployDuringFailover",
			PropStack: "PrimaryStack", PropReason: "set the primary traffic dial back to 100 before drctl failback has run",
			// The mirrored endpoint group properties; the handler ignores them.
			"TrafficDialPercentage": "100",
		},
	}
}

func TestGuardRefusesADeployDuringFailover(t *testing.T) {
	cases := []struct {
		name      string
		request   cfn.RequestType
		record    bool
		override  string
		deadSSM   bool
		wantError []string // substrings; nil means success
		wantCalls int
	}{
		{name: "no failover: the deploy goes on", request: cfn.RequestUpdate, wantCalls: 1},
		{name: "first create: the deploy goes on", request: cfn.RequestCreate, wantCalls: 1},
		{name: "failover in progress: refused with the reason and the override", request: cfn.RequestUpdate, record: true,
			wantError: []string{"PrimaryStack deploy refused", "2026-11-25T11:00:00Z", "drctl failback", "-c allowPrimaryDeployDuringFailover=true"}, wantCalls: 1},
		{name: "operator override: not even read", request: cfn.RequestUpdate, record: true, override: "true"},
		{name: "record unreadable: refused, override named", request: cfn.RequestUpdate, deadSSM: true,
			wantError: []string{"cannot read the failover record", "allowPrimaryDeployDuringFailover=true"}},
		{name: "delete always succeeds", request: cfn.RequestDelete, record: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := awsfake.NewSSM(t, region)
			if tc.record {
				fake.PutParameter(awsfake.Parameter{Name: parameter, Value: "2026-11-25T11:00:00Z"})
			}
			client := fake.Client()
			if tc.deadSSM {
				client = ssm.NewFromConfig(awsfake.Config("http://127.0.0.1:1", region))
			}
			var asked string
			h := &Handler{SSM: func(r string) ParameterReader { asked = r; return client }}
			resp, err := h.OnEvent(context.Background(), event(tc.request, tc.override))
			if tc.wantError == nil {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if resp.PhysicalResourceID != "deploy-guard-EndpointGroupGuard" {
					t.Errorf("physical id %q", resp.PhysicalResourceID)
				}
			} else {
				if err == nil {
					t.Fatal("want the deploy refused, got success")
				}
				for _, want := range tc.wantError {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
			}
			if got := len(fake.CallsTo("GetParameter")); got != tc.wantCalls {
				t.Errorf("GetParameter calls = %d, want %d", got, tc.wantCalls)
			}
			if tc.wantCalls > 0 && asked != region {
				t.Errorf("read the record in %q, want the backup region %q", asked, region)
			}
		})
	}
}

// A guard without an override key (BackupStack's) says only what to do.
func TestGuardWithoutOverrideNamesOnlyFailback(t *testing.T) {
	fake := awsfake.NewSSM(t, region)
	fake.PutParameter(awsfake.Parameter{Name: parameter, Value: "2026-11-25T11:00:00Z"})
	e := event(cfn.RequestUpdate, "false")
	e.ResourceProperties[PropOverrideKey] = ""
	e.ResourceProperties[PropStack] = "BackupStack"
	e.ResourceProperties[PropReason] = "switch the recovery tier to pilot-light"
	h := &Handler{SSM: func(string) ParameterReader { return fake.Client() }}
	_, err := h.OnEvent(context.Background(), e)
	want := "BackupStack deploy refused: a failover is in progress (started 2026-11-25T11:00:00Z, /dr-analytics/failover/started-at in us-west-2), and this deploy would switch the recovery tier to pilot-light; run drctl failback first"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// The tier guard also waits for the failover stack to be gone: failback
// deletes the record, but the stack holds the same fixed-name resources
// until `cdk destroy`.
func TestTierGuardWaitsForTheFailoverStackToBeGone(t *testing.T) {
	const failoverStack = "dr-analytics-backup-failover"
	cases := []struct {
		name, status, wantError string
	}{
		{"no failover stack: the switch goes on", "", ""},
		{"failover stack still there after failback: refused", "CREATE_COMPLETE", "stack dr-analytics-backup-failover still exists in us-west-2 (CREATE_COMPLETE), and this deploy would switch the recovery tier to pilot-light; finish the failback with `cdk destroy BackupFailoverStack --exclusively --force` first"},
		{"a deleted failover stack is gone", "DELETE_COMPLETE", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ssmFake := awsfake.NewSSM(t, region)
			cfnFake := drfake.NewCloudFormation(t, region)
			if tc.status != "" {
				cfnFake.PutStack(drfake.Stack{Name: failoverStack, Status: tc.status})
			}
			e := event(cfn.RequestUpdate, "false")
			e.ResourceProperties[PropOverrideKey] = ""
			e.ResourceProperties[PropStack] = "BackupStack"
			e.ResourceProperties[PropReason] = "switch the recovery tier to pilot-light"
			e.ResourceProperties[PropFailoverStack] = failoverStack
			h := &Handler{
				SSM:            func(string) ParameterReader { return ssmFake.Client() },
				CloudFormation: func(string) StackReader { return cloudformation.NewFromConfig(awsfake.Config(cfnFake.URL(), region)) },
			}
			_, err := h.OnEvent(context.Background(), e)
			switch {
			case tc.wantError == "" && err != nil:
				t.Errorf("want the switch to go on, got %v", err)
			case tc.wantError != "" && (err == nil || !strings.Contains(err.Error(), tc.wantError)):
				t.Errorf("got %v, want %q", err, tc.wantError)
			}
		})
	}
}
