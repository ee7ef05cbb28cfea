package trafficdial_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/trafficdial"
)

const (
	listenerArn = "arn:aws:globalaccelerator::123456789012:accelerator/1234abcd-abcd-1234-abcd-1234abcdefgh/listener/0123vxyz"
	primaryArn  = listenerArn + "/endpoint-group/east0001"
	backupArn   = listenerArn + "/endpoint-group/west0001"
	physicalID  = "dial-0123vxyz-us-east-1"
	// goneListenerArn is a well-formed listener the fake does not have.
	goneListenerArn = "arn:aws:globalaccelerator::123456789012:accelerator/1234abcd-abcd-1234-abcd-1234abcdefgh/listener/9999gone"
)

type fixture struct {
	ga   *awsfake.GlobalAccelerator
	h    *trafficdial.Handler
	logs *bytes.Buffer
}

// newFixture serves a listener with a backup-region group first and the
// primary group on the second page, so the lookup must paginate.
func newFixture(t testing.TB, primaryDial *float32) *fixture {
	t.Helper()
	f := &fixture{ga: awsfake.NewGlobalAccelerator(t), logs: &bytes.Buffer{}}
	f.ga.SetPageSize(1)
	f.ga.PutListener(listenerArn,
		awsfake.EndpointGroup{Arn: backupArn, Region: "us-west-2"},
		awsfake.EndpointGroup{Arn: primaryArn, Region: "us-east-1", Dial: primaryDial},
	)
	f.h = &trafficdial.Handler{GlobalAccelerator: f.ga.Client(), CallTimeout: 5 * time.Second,
		Log: slog.New(slog.NewJSONHandler(f.logs, nil))}
	return f
}

func props(overrides map[string]any) map[string]any {
	p := map[string]any{"ServiceToken": "arn:x", "ListenerArn": listenerArn, "PrimaryRegion": "us-east-1", "DialPercentage": "0"}
	for k, v := range overrides {
		if v == nil {
			delete(p, k)
			continue
		}
		p[k] = v
	}
	return p
}

func event(rt cfn.RequestType, p map[string]any) cfn.Event {
	e := cfn.Event{RequestType: rt, RequestID: "req-1", LogicalResourceID: "PrimaryTrafficDial",
		ResourceType: "Custom::TrafficDial", ResourceProperties: p}
	if rt != cfn.RequestCreate {
		e.PhysicalResourceID = physicalID
	}
	return e
}

func dialOf(t *testing.T, f *fixture, arn string) *float32 {
	t.Helper()
	eg, ok := f.ga.EndpointGroup(arn)
	if !ok {
		t.Fatalf("endpoint group %s gone", arn)
	}
	return eg.Dial
}

func TestCreateDrainsPrimaryGroupAndDeleteRestoresIt(t *testing.T) {
	f := newFixture(t, nil) // an unset dial is 100
	ctx := context.Background()

	resp, err := f.h.OnEvent(ctx, event(cfn.RequestCreate, props(map[string]any{"DialPercentage": nil})))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if resp.PhysicalResourceID != physicalID {
		t.Errorf("PhysicalResourceId = %q, want %q", resp.PhysicalResourceID, physicalID)
	}
	want := map[string]string{"EndpointGroupArn": primaryArn, "PreviousDial": "100", "Dial": "0", "PrimaryGroup": "found"}
	if !maps.Equal(resp.Data, want) {
		t.Errorf("Data = %v, want %v", resp.Data, want)
	}
	updates := f.ga.CallsTo("UpdateEndpointGroup")
	if len(updates) != 1 {
		t.Fatalf("%d UpdateEndpointGroup calls, want 1", len(updates))
	}
	var body map[string]any
	if err := updates[0].Decode(&body); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(body, map[string]any{"EndpointGroupArn": primaryArn, "TrafficDialPercentage": 0.0}) {
		t.Errorf("UpdateEndpointGroup request = %v", body)
	}
	if d := dialOf(t, f, primaryArn); d == nil || *d != 0 {
		t.Errorf("primary dial = %v, want 0", d)
	}
	if d := dialOf(t, f, backupArn); d != nil {
		t.Errorf("backup group's dial changed to %v", *d)
	}

	resp, err = f.h.OnEvent(ctx, event(cfn.RequestDelete, props(nil)))
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if d := dialOf(t, f, primaryArn); d == nil || *d != 100 {
		t.Errorf("primary dial after Delete = %v, want 100", d)
	}
	want = map[string]string{"EndpointGroupArn": primaryArn, "PreviousDial": "0", "Dial": "100", "PrimaryGroup": "found"}
	if resp.PhysicalResourceID != physicalID || !maps.Equal(resp.Data, want) {
		t.Errorf("Delete answered %+v, want id %s and Data %v", resp, physicalID, want)
	}
}

func TestDialAlreadySetMakesNoChange(t *testing.T) {
	f := newFixture(t, aws.Float32(0))
	resp, err := f.h.OnEvent(context.Background(), event(cfn.RequestCreate, props(nil)))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if n := len(f.ga.CallsTo("UpdateEndpointGroup")); n != 0 {
		t.Errorf("%d UpdateEndpointGroup calls for a dial already at 0", n)
	}
	if resp.Data["PreviousDial"] != "0" || resp.Data["Dial"] != "0" {
		t.Errorf("Data = %v", resp.Data)
	}
}

func TestUpdateSetsNewDial(t *testing.T) {
	f := newFixture(t, aws.Float32(0))
	e := event(cfn.RequestUpdate, props(map[string]any{"DialPercentage": "12.5"}))
	e.OldResourceProperties = props(nil)
	resp, err := f.h.OnEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if d := dialOf(t, f, primaryArn); d == nil || *d != 12.5 {
		t.Errorf("primary dial = %v, want 12.5", d)
	}
	if resp.Data["PreviousDial"] != "0" || resp.Data["Dial"] != "12.5" || resp.PhysicalResourceID != physicalID {
		t.Errorf("Update answered %+v", resp)
	}
}

func TestNoPrimaryGroupMeansNothingToDrain(t *testing.T) {
	for _, rt := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate, cfn.RequestDelete} {
		t.Run(string(rt), func(t *testing.T) {
			f := newFixture(t, nil)
			f.ga.PutListener(listenerArn, awsfake.EndpointGroup{Arn: backupArn, Region: "us-west-2"})
			resp, err := f.h.OnEvent(context.Background(), event(rt, props(nil)))
			if err != nil {
				t.Fatalf("%s: %v", rt, err)
			}
			want := map[string]string{"EndpointGroupArn": "none", "PreviousDial": "none", "Dial": "none", "PrimaryGroup": "none"}
			if !maps.Equal(resp.Data, want) || resp.PhysicalResourceID != physicalID {
				t.Errorf("answered %+v, want id %s and Data %v", resp, physicalID, want)
			}
			if n := len(f.ga.CallsTo("UpdateEndpointGroup")); n != 0 {
				t.Errorf("%d UpdateEndpointGroup calls with no primary group", n)
			}
			if !strings.Contains(f.logs.String(), "nothing to drain") {
				t.Errorf("no log line says there is nothing to drain:\n%s", f.logs)
			}
		})
	}
}

func TestDeleteSucceedsWhenThereIsNothingToReset(t *testing.T) {
	cases := map[string]func(f *fixture) map[string]any{
		"listener gone": func(f *fixture) map[string]any {
			return props(map[string]any{"ListenerArn": goneListenerArn})
		},
		"endpoint group removed between list and update": func(f *fixture) map[string]any {
			f.ga.Inject("UpdateEndpointGroup", awsfake.Fault{Code: "EndpointGroupNotFoundException", Message: "gone"})
			return props(nil)
		},
		"properties invalid (the create failed on them)": func(f *fixture) map[string]any {
			return props(map[string]any{"ListenerArn": "not-an-arn"})
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, aws.Float32(0))
			resp, err := f.h.OnEvent(context.Background(), event(cfn.RequestDelete, setup(f)))
			if err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if resp.PhysicalResourceID != physicalID {
				t.Errorf("PhysicalResourceId = %q, want the unchanged %q", resp.PhysicalResourceID, physicalID)
			}
		})
	}
}

func TestEveryFailureIsOneLineNamingTheListener(t *testing.T) {
	cases := []struct {
		name  string
		rt    cfn.RequestType
		props map[string]any
		fault func(f *fixture)
		want  []string
	}{
		{name: "listener missing on create", rt: cfn.RequestCreate, props: map[string]any{"ListenerArn": goneListenerArn},
			want: []string{"on listener " + goneListenerArn, "ListenerNotFoundException", "check ListenerArn"}},
		{name: "listing denied", rt: cfn.RequestUpdate,
			fault: func(f *fixture) {
				f.ga.Inject("ListEndpointGroups", awsfake.Fault{Code: "AccessDeniedException", Message: "not\nauthorized"})
			},
			want: []string{"on listener " + listenerArn, "not authorized", "allow globalaccelerator:ListEndpointGroups"}},
		{name: "update denied", rt: cfn.RequestCreate,
			fault: func(f *fixture) {
				f.ga.Inject("UpdateEndpointGroup", awsfake.Fault{Code: "AccessDeniedException", Message: "denied"})
			},
			want: []string{"endpoint group " + primaryArn + " (us-east-1) on listener " + listenerArn + " to 0%", "allow globalaccelerator:UpdateEndpointGroup"}},
		{name: "reset refused on delete", rt: cfn.RequestDelete,
			fault: func(f *fixture) {
				f.ga.Inject("UpdateEndpointGroup", awsfake.Fault{Code: "InternalServiceErrorException", Message: "try later", Status: 500})
			},
			want: []string{"endpoint group " + primaryArn, "to 100%", "InternalServiceErrorException"}},
		{name: "control plane hangs", rt: cfn.RequestCreate, fault: func(f *fixture) { f.ga.Hang() },
			want: []string{"on listener " + listenerArn, "context deadline exceeded"}},
		{name: "listener ARN invalid", rt: cfn.RequestCreate, props: map[string]any{"ListenerArn": "arn:aws:elasticloadbalancing:x"},
			want: []string{"traffic dial PrimaryTrafficDial", `property ListenerArn is "arn:aws:elasticloadbalancing:x"`}},
		{name: "region invalid", rt: cfn.RequestCreate, props: map[string]any{"PrimaryRegion": "east"},
			want: []string{"traffic dial PrimaryTrafficDial", `property PrimaryRegion is "east"`}},
		{name: "dial above 100", rt: cfn.RequestUpdate, props: map[string]any{"DialPercentage": "150"},
			want: []string{"traffic dial PrimaryTrafficDial", `property DialPercentage is "150": give a number from 0 to 100`}},
		{name: "dial not a number", rt: cfn.RequestCreate, props: map[string]any{"DialPercentage": "half"},
			want: []string{"traffic dial PrimaryTrafficDial", `property DialPercentage is "half"`}},
		{name: "dial not a string", rt: cfn.RequestCreate, props: map[string]any{"DialPercentage": 0.0},
			want: []string{"traffic dial PrimaryTrafficDial", "property DialPercentage is 0 (float64)"}},
		{name: "unknown request type", rt: "Replace",
			want: []string{`RequestType "Replace" is not Create, Update or Delete`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if tc.rt == cfn.RequestDelete {
				f.ga.PutListener(listenerArn, awsfake.EndpointGroup{Arn: primaryArn, Region: "us-east-1", Dial: aws.Float32(0)})
			}
			f.h.CallTimeout = 300 * time.Millisecond
			if tc.fault != nil {
				tc.fault(f)
			}
			_, err := f.h.OnEvent(context.Background(), event(tc.rt, props(tc.props)))
			if err == nil {
				t.Fatal("no error")
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error spans lines: %q", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\ndoes not contain %q", err, want)
				}
			}
		})
	}
}

func TestClientTalksToControlPlaneRegion(t *testing.T) {
	h := trafficdial.New(aws.Config{Region: "eu-central-1"})
	if got := h.GlobalAccelerator.Options().Region; got != config.GlobalAcceleratorControlRegion {
		t.Errorf("Global Accelerator client region = %q, want %q", got, config.GlobalAcceleratorControlRegion)
	}
}

func TestPanicBecomesError(t *testing.T) {
	h := trafficdial.Handler{Log: slog.New(slog.DiscardHandler)} // no client: the first call panics
	_, err := h.OnEvent(context.Background(), event(cfn.RequestCreate, props(nil)))
	if err == nil || !strings.Contains(err.Error(), "traffic dial: internal error") {
		t.Errorf("error = %v, want an internal error instead of a panic", err)
	}
}

func TestResponseSpeaksTheProviderFrameworkJSON(t *testing.T) {
	f := newFixture(t, nil)
	var e cfn.Event
	in := `{"RequestType":"Create","RequestId":"r","LogicalResourceId":"PrimaryTrafficDial","ResourceType":"Custom::TrafficDial",
		"ResourceProperties":{"ServiceToken":"arn:x","ListenerArn":"` + listenerArn + `","PrimaryRegion":"us-east-1","DialPercentage":"0"}}`
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	resp, err := f.h.OnEvent(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(resp)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if out["PhysicalResourceId"] != physicalID || out["Data"].(map[string]any)["Dial"] != "0" {
		t.Errorf("answered %s", raw)
	}
}
