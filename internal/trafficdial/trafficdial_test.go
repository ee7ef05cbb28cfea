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
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/customresource"
	"github.com/dr-analytics/drplan/internal/recoverytime"
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

const backupALB = "arn:aws:elasticloadbalancing:us-west-2:123456789012:loadbalancer/app/ingest/6d0ecf831eec9f09"

var start = time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC)

type fixture struct {
	ga   *awsfake.GlobalAccelerator
	h    *trafficdial.Handler
	logs *bytes.Buffer
	now  time.Time
}

// newFixture serves a listener with a backup-region group (its ALB
// HEALTHY) first and the primary group on the second page, so the lookup
// must paginate.
func newFixture(t testing.TB, primaryDial *float32) *fixture {
	t.Helper()
	f := &fixture{ga: awsfake.NewGlobalAccelerator(t), logs: &bytes.Buffer{}, now: start}
	f.ga.SetPageSize(1)
	f.ga.PutListener(listenerArn,
		awsfake.EndpointGroup{Arn: backupArn, Region: "us-west-2"},
		awsfake.EndpointGroup{Arn: primaryArn, Region: "us-east-1", Dial: primaryDial},
	)
	f.ga.SetEndpoints(backupArn, awsfake.Endpoint{ID: backupALB, Health: "HEALTHY"})
	f.h = &trafficdial.Handler{GlobalAccelerator: f.ga.Client(), CallTimeout: 5 * time.Second,
		Now: func() time.Time { return f.now }, Log: slog.New(slog.NewJSONHandler(f.logs, nil))}
	return f
}

// run is what the Provider framework does with one event: onEvent, then
// (for Create and Update) isComplete with onEvent's answer merged in, once.
func (f *fixture) run(ctx context.Context, e cfn.Event) (trafficdial.Response, trafficdial.CompletionResponse, error) {
	resp, err := f.h.OnEvent(ctx, e)
	if err != nil || e.RequestType == cfn.RequestDelete {
		return resp, trafficdial.CompletionResponse{}, err
	}
	done, err := f.h.IsComplete(ctx, customresource.Completion(e, resp))
	return resp, done, err
}

// merged is the resource's final Data: isComplete's over onEvent's.
func merged(resp trafficdial.Response, done trafficdial.CompletionResponse) map[string]string {
	out := maps.Clone(resp.Data)
	maps.Copy(out, done.Data)
	return out
}

func props(overrides map[string]any) map[string]any {
	p := map[string]any{"ServiceToken": "arn:x", "ListenerArn": listenerArn, "PrimaryRegion": "us-east-1", "DialPercentage": "0",
		"BackupRegion": "us-west-2", "HealthyTimeoutSeconds": "600"}
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

	resp, done, err := f.run(ctx, event(cfn.RequestCreate, props(map[string]any{"DialPercentage": nil})))
	if err != nil || !done.IsComplete {
		t.Fatalf("Create: complete %v, %v", done.IsComplete, err)
	}
	if resp.PhysicalResourceID != physicalID {
		t.Errorf("PhysicalResourceId = %q, want %q", resp.PhysicalResourceID, physicalID)
	}
	want := map[string]string{"EndpointGroupArn": primaryArn, "PreviousDial": "100", "Dial": "0", "PrimaryGroup": "found",
		"BackupEndpointGroupArn": backupArn, "WaitStartedAt": "2026-11-29T16:00:00Z"}
	if got := merged(resp, done); !maps.Equal(got, want) {
		t.Errorf("Data = %v, want %v", got, want)
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

	// Delete does not wait for anything, even with the backup group unhealthy.
	f.ga.SetEndpoints(backupArn, awsfake.Endpoint{ID: backupALB, Health: "UNHEALTHY"})
	resp, err = f.h.OnEvent(ctx, event(cfn.RequestDelete, props(nil)))
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if d := dialOf(t, f, primaryArn); d == nil || *d != 100 {
		t.Errorf("primary dial after Delete = %v, want 100", d)
	}
	if done, err := f.h.IsComplete(ctx, customresource.Completion(event(cfn.RequestDelete, props(nil)), resp)); err != nil || !done.IsComplete {
		t.Errorf("isComplete of Delete: complete %v, %v", done.IsComplete, err)
	}
	want = map[string]string{"EndpointGroupArn": primaryArn, "PreviousDial": "0", "Dial": "100", "PrimaryGroup": "found", "BackupEndpointGroupArn": "none"}
	if resp.PhysicalResourceID != physicalID || !maps.Equal(resp.Data, want) {
		t.Errorf("Delete answered %+v, want id %s and Data %v", resp, physicalID, want)
	}
}

func TestDialAlreadySetMakesNoChange(t *testing.T) {
	f := newFixture(t, aws.Float32(0))
	_, done, err := f.run(context.Background(), event(cfn.RequestCreate, props(nil)))
	if err != nil || !done.IsComplete {
		t.Fatalf("Create: complete %v, %v", done.IsComplete, err)
	}
	if n := len(f.ga.CallsTo("UpdateEndpointGroup")); n != 0 {
		t.Errorf("%d UpdateEndpointGroup calls for a dial already at 0", n)
	}
	if done.Data["PreviousDial"] != "0" || done.Data["Dial"] != "0" {
		t.Errorf("Data = %v", done.Data)
	}
}

func TestUpdateSetsNewDial(t *testing.T) {
	f := newFixture(t, aws.Float32(0))
	e := event(cfn.RequestUpdate, props(map[string]any{"DialPercentage": "12.5"}))
	e.OldResourceProperties = props(nil)
	resp, done, err := f.run(context.Background(), e)
	if err != nil || !done.IsComplete {
		t.Fatalf("Update: complete %v, %v", done.IsComplete, err)
	}
	if d := dialOf(t, f, primaryArn); d == nil || *d != 12.5 {
		t.Errorf("primary dial = %v, want 12.5", d)
	}
	if done.Data["PreviousDial"] != "0" || done.Data["Dial"] != "12.5" || resp.PhysicalResourceID != physicalID {
		t.Errorf("Update answered %+v then %+v", resp, done)
	}
}

func TestNoPrimaryGroupMeansNothingToDrain(t *testing.T) {
	for _, rt := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate, cfn.RequestDelete} {
		t.Run(string(rt), func(t *testing.T) {
			f := newFixture(t, nil)
			f.ga.PutListener(listenerArn, awsfake.EndpointGroup{Arn: backupArn, Region: "us-west-2"})
			resp, done, err := f.run(context.Background(), event(rt, props(nil)))
			if err != nil {
				t.Fatalf("%s: %v", rt, err)
			}
			want := map[string]string{"EndpointGroupArn": "none", "PreviousDial": "none", "Dial": "none", "PrimaryGroup": "none",
				"BackupEndpointGroupArn": "none"}
			if rt != cfn.RequestDelete {
				want["BackupEndpointGroupArn"], want["WaitStartedAt"] = backupArn, "2026-11-29T16:00:00Z"
			}
			if got := merged(resp, done); !maps.Equal(got, want) || resp.PhysicalResourceID != physicalID {
				t.Errorf("answered %+v, want id %s and Data %v", got, physicalID, want)
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
		{name: "backup region missing", rt: cfn.RequestCreate, props: map[string]any{"BackupRegion": nil},
			want: []string{"traffic dial PrimaryTrafficDial", `property BackupRegion is ""`}},
		{name: "backup region is the primary", rt: cfn.RequestUpdate, props: map[string]any{"BackupRegion": "us-east-1"},
			want: []string{`property BackupRegion is "us-east-1"`, "other than PrimaryRegion us-east-1"}},
		{name: "healthy timeout not a number", rt: cfn.RequestCreate, props: map[string]any{"HealthyTimeoutSeconds": "10m"},
			want: []string{`property HealthyTimeoutSeconds is "10m": give seconds above 0 and at most 6600`}},
		{name: "healthy timeout beyond the provider's", rt: cfn.RequestCreate, props: map[string]any{"HealthyTimeoutSeconds": "7200"},
			want: []string{`property HealthyTimeoutSeconds is "7200"`}},
		{name: "describing the backup group denied", rt: cfn.RequestCreate,
			fault: func(f *fixture) {
				f.ga.Inject("DescribeEndpointGroup", awsfake.Fault{Code: "AccessDeniedException", Message: "denied"})
			},
			want: []string{"describe backup endpoint group " + backupArn + " (us-west-2) on listener " + listenerArn, "allow globalaccelerator:DescribeEndpointGroup"}},
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
			_, _, err := f.run(context.Background(), event(tc.rt, props(tc.props)))
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
	_, err := h.OnEvent(context.Background(), event(cfn.RequestDelete, props(nil)))
	if err == nil || !strings.Contains(err.Error(), "traffic dial: internal error") {
		t.Errorf("onEvent error = %v, want an internal error instead of a panic", err)
	}
	_, err = h.IsComplete(context.Background(), trafficdial.CompletionEvent{Event: event(cfn.RequestCreate, props(nil))})
	if err == nil || !strings.Contains(err.Error(), "traffic dial: internal error") {
		t.Errorf("isComplete error = %v, want an internal error instead of a panic", err)
	}
}

func TestResponseSpeaksTheProviderFrameworkJSON(t *testing.T) {
	f := newFixture(t, nil)
	var e cfn.Event
	in := `{"RequestType":"Create","RequestId":"r","LogicalResourceId":"PrimaryTrafficDial","ResourceType":"Custom::TrafficDial",
		"ResourceProperties":{"ServiceToken":"arn:x","ListenerArn":"` + listenerArn + `","PrimaryRegion":"us-east-1","DialPercentage":"0","BackupRegion":"us-west-2"}}`
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
	if out["PhysicalResourceId"] != physicalID || out["Data"].(map[string]any)["WaitStartedAt"] != "2026-11-29T16:00:00Z" {
		t.Errorf("onEvent answered %s", raw)
	}
	// The framework hands isComplete the event with onEvent's answer merged in.
	var c trafficdial.CompletionEvent
	data, _ := json.Marshal(resp.Data)
	if err := json.Unmarshal([]byte(in[:len(in)-1]+`,"PhysicalResourceId":"`+physicalID+`","Data":`+string(data)+`}`), &c); err != nil {
		t.Fatal(err)
	}
	done, err := f.h.IsComplete(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(done)
	if !strings.Contains(string(raw), `"IsComplete":true`) || !strings.Contains(string(raw), `"Dial":"0"`) {
		t.Errorf("isComplete answered %s", raw)
	}
}

func TestPrimaryDialMovesOnlyOnceTheBackupGroupIsHealthy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.ga.SetEndpoints(backupArn, awsfake.Endpoint{ID: backupALB, Health: "INITIAL"})
	e := event(cfn.RequestCreate, props(nil))
	resp, err := f.h.OnEvent(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.ga.CallsTo("UpdateEndpointGroup")); n != 0 {
		t.Fatalf("onEvent made %d UpdateEndpointGroup calls; the dial must wait for the backup group", n)
	}
	polls := []struct {
		after  time.Duration
		health string
		done   bool
	}{
		{10 * time.Second, "INITIAL", false},
		{time.Minute, "UNHEALTHY", false},
		{2 * time.Minute, "HEALTHY", true},
	}
	for _, poll := range polls {
		f.now = start.Add(poll.after)
		f.ga.SetEndpoints(backupArn, awsfake.Endpoint{ID: backupALB, Health: poll.health})
		done, err := f.h.IsComplete(ctx, customresource.Completion(e, resp))
		if err != nil || done.IsComplete != poll.done {
			t.Fatalf("poll with the backup ALB %s: complete %v, %v; want complete %v", poll.health, done.IsComplete, err, poll.done)
		}
		if !poll.done && done.Data != nil {
			t.Errorf("a poll that is not complete answered Data %v; the framework refuses that", done.Data)
		}
		dial := dialOf(t, f, primaryArn)
		if moved := dial != nil && *dial == 0; moved != poll.done {
			t.Errorf("backup ALB %s: primary dial %v", poll.health, dial)
		}
	}
}

func TestOneHealthyWeightedEndpointIsEnough(t *testing.T) {
	cases := []struct {
		name      string
		endpoints []awsfake.Endpoint
		healthy   bool
	}{
		{"one of two HEALTHY", []awsfake.Endpoint{{ID: "alb-1", Health: "UNHEALTHY"}, {ID: "alb-2", Health: "HEALTHY"}}, true},
		{"HEALTHY with weight 0 does not count", []awsfake.Endpoint{{ID: "alb-1", Health: "HEALTHY", Weight: aws.Int32(0)}}, false},
		{"no endpoints", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.ga.SetEndpoints(backupArn, tc.endpoints...)
			_, done, err := f.run(context.Background(), event(cfn.RequestCreate, props(nil)))
			if err != nil || done.IsComplete != tc.healthy {
				t.Errorf("complete %v, %v; want %v", done.IsComplete, err, tc.healthy)
			}
		})
	}
}

func TestBackupGroupNotHealthyInTimeFailsAndLeavesTheDial(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *fixture)
		want  []string
	}{
		{"backup ALB unhealthy", func(f *fixture) {
			f.ga.SetEndpoints(backupArn, awsfake.Endpoint{ID: backupALB, Health: "UNHEALTHY"})
		}, []string{"backup endpoint group " + backupArn + " (us-west-2) on listener " + listenerArn,
			"did not report a HEALTHY endpoint within 10m0s", "(endpoints: " + backupALB + "=UNHEALTHY)"}},
		{"no backup group", func(f *fixture) {
			f.ga.PutListener(listenerArn, awsfake.EndpointGroup{Arn: primaryArn, Region: "us-east-1"})
		}, []string{"no endpoint group in us-west-2 on listener " + listenerArn, "(endpoints: none)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, nil)
			tc.setup(f)
			e := event(cfn.RequestCreate, props(nil))
			resp, err := f.h.OnEvent(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			f.now = start.Add(10 * time.Minute)
			if done, err := f.h.IsComplete(ctx, customresource.Completion(e, resp)); err != nil || done.IsComplete {
				t.Fatalf("at the timeout: complete %v, %v; want still waiting", done.IsComplete, err)
			}
			f.now = start.Add(10*time.Minute + time.Second)
			_, err = f.h.IsComplete(ctx, customresource.Completion(e, resp))
			if err == nil {
				t.Fatal("no error past the timeout")
			}
			msg := err.Error()
			want := append(tc.want, "the primary group's dial was left unchanged",
				"check the ingest target group's health (GET /health), the Kinesis stream and the Firehose delivery stream in us-west-2", "run the same deploy again")
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			if n := len(f.ga.CallsTo("UpdateEndpointGroup")); n != 0 {
				t.Errorf("%d UpdateEndpointGroup calls; the dial must stay", n)
			}
		})
	}
}

func TestUnknownHandlerModeFailsEveryEventWithTheFix(t *testing.T) {
	h := trafficdial.Handler{Log: slog.New(slog.DiscardHandler)}
	_, err := h.Dispatch("onevent")(context.Background(), trafficdial.CompletionEvent{Event: event(cfn.RequestCreate, props(nil))})
	if err == nil || err.Error() != `traffic dial function: environment variable HANDLER is "onevent": set it to onEvent or isComplete` {
		t.Errorf("error = %v", err)
	}
	for _, mode := range []string{trafficdial.ModeOnEvent, trafficdial.ModeIsComplete} {
		f := newFixture(t, nil)
		if _, err := f.h.Dispatch(mode)(context.Background(), trafficdial.CompletionEvent{Event: event(cfn.RequestDelete, props(nil))}); err != nil {
			t.Errorf("%s: %v", mode, err)
		}
	}
}

// Delete needs only the listener and the primary region: the dial goes back
// to 100 whatever the wait's properties say.
func TestDeleteResetsTheDialWithoutTheWaitProperties(t *testing.T) {
	f := newFixture(t, aws.Float32(0))
	e := event(cfn.RequestDelete, props(map[string]any{"BackupRegion": nil, "HealthyTimeoutSeconds": "never"}))
	if _, err := f.h.OnEvent(context.Background(), e); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if d := dialOf(t, f, primaryArn); d == nil || *d != 100 {
		t.Errorf("primary dial after Delete = %v, want 100", d)
	}
}

// The pilot-light tier's pre-built backup endpoint sits at weight 0 (out of
// traffic even when Global Accelerator fails over); the failover gives it
// weight, keeps its client IP preservation, moves the primary dial once it
// is HEALTHY, and Delete (after failback) puts it back to idle.
func TestPilotLightEndpointJoinsOnCreateAndIdlesOnDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.ga.SetEndpoints(backupArn, awsfake.Endpoint{ID: backupALB, Health: "HEALTHY", Weight: aws.Int32(0), ClientIPPreservation: true})
	p := props(map[string]any{trafficdial.PropBackupEndpointWeight: "128"})
	if _, done, err := f.run(ctx, event(cfn.RequestCreate, p)); err != nil || !done.IsComplete {
		t.Fatalf("create: complete %v, %v", done.IsComplete, err)
	}
	g, _ := f.ga.Endpoints(backupArn)
	if len(g) != 1 || g[0].Weight == nil || *g[0].Weight != 128 || !g[0].ClientIPPreservation {
		t.Errorf("backup endpoints after failover %+v, want weight 128 with client IP preservation", g)
	}
	if dial := dialOf(t, f, primaryArn); dial == nil || *dial != 0 {
		t.Errorf("primary dial %v, want 0", dial)
	}
	if _, err := f.h.OnEvent(ctx, event(cfn.RequestDelete, p)); err != nil {
		t.Fatal(err)
	}
	g, _ = f.ga.Endpoints(backupArn)
	if len(g) != 1 || g[0].Weight == nil || *g[0].Weight != trafficdial.IdleEndpointWeight {
		t.Errorf("backup endpoints after delete %+v, want weight 0", g)
	}
	if dial := dialOf(t, f, primaryArn); dial == nil || *dial != 100 {
		t.Errorf("primary dial after delete %v, want 100", dial)
	}
}

// After a failback (backup dial 0, left there by drctl) and the destroy
// (weight 0), the next failover must open both again: a dial of 0 cuts the
// region off whatever the weight.
func TestPilotLightSecondFailoverOpensTheBackupDialToo(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.ga.SetEndpoints(backupArn, awsfake.Endpoint{ID: backupALB, Health: "HEALTHY", Weight: aws.Int32(0), ClientIPPreservation: true})
	if _, err := f.ga.Client().UpdateEndpointGroup(ctx, &globalaccelerator.UpdateEndpointGroupInput{
		EndpointGroupArn: aws.String(backupArn), TrafficDialPercentage: aws.Float32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, done, err := f.run(ctx, event(cfn.RequestCreate, props(map[string]any{trafficdial.PropBackupEndpointWeight: "128"}))); err != nil || !done.IsComplete {
		t.Fatalf("create: complete %v, %v", done.IsComplete, err)
	}
	if dial := dialOf(t, f, backupArn); dial == nil || *dial != 100 {
		t.Errorf("backup dial %v after the second failover, want 100", dial)
	}
	if g, _ := f.ga.Endpoints(backupArn); len(g) != 1 || g[0].Weight == nil || *g[0].Weight != 128 {
		t.Errorf("backup endpoints %+v, want weight 128", g)
	}
}

func TestBackupEndpointWeightIsChecked(t *testing.T) {
	for _, weight := range []string{"256", "-1", "heavy"} {
		f := newFixture(t, nil)
		_, err := f.h.OnEvent(context.Background(), event(cfn.RequestCreate, props(map[string]any{trafficdial.PropBackupEndpointWeight: weight})))
		if err == nil || !strings.Contains(err.Error(), "BackupEndpointWeight is \""+weight+"\": give an endpoint weight from 0 to 255") {
			t.Errorf("weight %s: %v", weight, err)
		}
	}
}

func TestTheMomentTrafficMovedIsRecordedInTheFailoverRecord(t *testing.T) {
	ctx := context.Background()
	const record = "/dr-analytics/failover/last"
	failoverStart := start.Add(-5 * time.Minute)
	newRecorded := func(t *testing.T) (*fixture, *awsfake.SSM) {
		f := newFixture(t, nil)
		s := awsfake.NewSSM(t, "us-west-2")
		f.h.SSM, f.h.FailoverRecordParameter = s.Client(), record
		if _, err := recoverytime.RecordFailover(ctx, s.Client(), record, recoverytime.Failover{StartedAt: &failoverStart}); err != nil {
			t.Fatal(err)
		}
		return f, s
	}
	read := func(t *testing.T, s *awsfake.SSM) recoverytime.Failover {
		rec, err := recoverytime.ReadFailover(ctx, s.Client(), record)
		if err != nil || rec == nil {
			t.Fatalf("ReadFailover = %v, %v", rec, err)
		}
		return *rec
	}

	t.Run("the poll that moves the dial records the healthy and moved moments beside the start", func(t *testing.T) {
		f, s := newRecorded(t)
		f.ga.SetEndpoints(backupArn, awsfake.Endpoint{ID: backupALB, Health: "INITIAL"})
		e := event(cfn.RequestCreate, props(nil))
		resp, err := f.h.OnEvent(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		f.now = start.Add(time.Minute)
		if done, err := f.h.IsComplete(ctx, customresource.Completion(e, resp)); err != nil || done.IsComplete {
			t.Fatalf("poll while INITIAL: %+v, %v", done, err)
		}
		if rec := read(t, s); rec.EndpointHealthyAt != nil || rec.TrafficMovedAt != nil {
			t.Fatalf("recorded %+v before the backup group was HEALTHY", rec)
		}
		f.now = start.Add(3 * time.Minute)
		f.ga.SetEndpoints(backupArn, awsfake.Endpoint{ID: backupALB, Health: "HEALTHY"})
		if done, err := f.h.IsComplete(ctx, customresource.Completion(e, resp)); err != nil || !done.IsComplete {
			t.Fatalf("poll when HEALTHY: %+v, %v", done, err)
		}
		rec := read(t, s)
		if rec.EndpointHealthyAt == nil || !rec.EndpointHealthyAt.Equal(f.now) || rec.TrafficMovedAt == nil || !rec.TrafficMovedAt.Equal(f.now) {
			t.Errorf("record %+v, want healthy and moved at %s", rec, f.now)
		}
		if rto, ok := rec.TrafficRTO(); !ok || rto != 8*time.Minute {
			t.Errorf("TrafficRTO = %s, %v; want 8m0s from the failover start", rto, ok)
		}

		f.now = start.Add(24 * time.Hour)
		if _, _, err := f.run(ctx, event(cfn.RequestUpdate, props(nil))); err != nil {
			t.Fatal(err)
		}
		if again := read(t, s); !again.TrafficMovedAt.Equal(*rec.TrafficMovedAt) {
			t.Errorf("an Update a day later moved the recorded moment to %s", again.TrafficMovedAt)
		}
	})
	t.Run("a record that cannot be written is logged and the dial still moves", func(t *testing.T) {
		f, s := newRecorded(t)
		s.PutParameter(awsfake.Parameter{Name: record, Value: "not json"})
		if _, done, err := f.run(ctx, event(cfn.RequestCreate, props(nil))); err != nil || !done.IsComplete {
			t.Fatalf("run = %+v, %v; want the dial set", done, err)
		}
		if dial := dialOf(t, f, primaryArn); dial == nil || *dial != 0 {
			t.Errorf("primary dial %v, want 0", dial)
		}
		if !strings.Contains(f.logs.String(), "failover times not recorded") {
			t.Errorf("no warning logged: %s", f.logs.String())
		}
	})
}
