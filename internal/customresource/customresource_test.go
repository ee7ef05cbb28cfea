package customresource_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/dr-analytics/drplan/internal/customresource"
)

var event = cfn.Event{RequestType: cfn.RequestCreate, RequestID: "req-1", ResourceType: "Custom::Thing", LogicalResourceID: "Thing"}

func TestGuardAnswersEveryRequestWithOneLine(t *testing.T) {
	cases := []struct {
		name    string
		run     func() (string, error)
		wantOut string
		wantErr string // "" means no error
	}{
		{name: "success passes through", run: func() (string, error) { return "done", nil }, wantOut: "done"},
		{name: "multi-line error becomes one line",
			run:     func() (string, error) { return "partial", errors.New("access denied\n\tto  table\r\nx") },
			wantErr: "access denied to table x"},
		{name: "panic becomes an error",
			run:     func() (string, error) { panic("nil map") },
			wantErr: "thing: internal error (nil map); report it with this function's log"},
		{name: "panic with a multi-line value is one line too",
			run:     func() (string, error) { panic(errors.New("line one\nline two")) },
			wantErr: "thing: internal error (line one line two); report it with this function's log"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			out, err := customresource.Guard(slog.New(slog.NewJSONHandler(&logs, nil)), "thing", event, tc.run)
			if tc.wantErr == "" {
				if err != nil || out != tc.wantOut {
					t.Fatalf("Guard = %q, %v; want %q, nil", out, err, tc.wantOut)
				}
				if logs.Len() != 0 {
					t.Errorf("a success logged a failure: %s", logs.String())
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			var line map[string]any
			if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
				t.Fatalf("failure log is not one JSON line: %q", logs.String())
			}
			if line["level"] != "ERROR" || line["error"] != tc.wantErr || line["request_id"] != "req-1" ||
				line["resource_type"] != "Custom::Thing" || line["logical_id"] != "Thing" || line["request_type"] != "Create" {
				t.Errorf("failure log = %v", line)
			}
		})
	}
}

func TestOneLineKeepsTheErrorChain(t *testing.T) {
	err := customresource.OneLine(errors.Join(errors.New("read config"), fs.ErrNotExist))
	if err.Error() != "read config file does not exist" {
		t.Errorf("message = %q", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is no longer finds the cause")
	}
	if customresource.OneLine(nil) != nil {
		t.Error("OneLine(nil) is not nil")
	}
}

func TestCallContextAlwaysHasADeadline(t *testing.T) {
	for name, tc := range map[string]struct {
		timeout, want time.Duration
	}{
		"given":    {timeout: time.Second, want: time.Second},
		"zero":     {timeout: 0, want: customresource.DefaultCallTimeout},
		"negative": {timeout: -time.Second, want: customresource.DefaultCallTimeout},
	} {
		t.Run(name, func(t *testing.T) {
			before := time.Now()
			ctx, cancel := customresource.CallContext(context.Background(), tc.timeout)
			defer cancel()
			deadline, ok := ctx.Deadline()
			if !ok {
				t.Fatal("no deadline")
			}
			if d := deadline.Sub(before); d < tc.want || d > tc.want+time.Minute {
				t.Errorf("deadline in %s, want %s", d, tc.want)
			}
		})
	}
}

func TestLoggerDefaultsToJSON(t *testing.T) {
	given := slog.New(slog.DiscardHandler)
	if customresource.Logger(given) != given {
		t.Error("a given logger was replaced")
	}
	if _, ok := customresource.Logger(nil).Handler().(*slog.JSONHandler); !ok {
		t.Errorf("default logger handler is %T, want *slog.JSONHandler", customresource.Logger(nil).Handler())
	}
}

func TestStringPropertyNamesWhatIsWrong(t *testing.T) {
	props := map[string]any{"Name": "  orders ", "Null": nil, "Count": 5.0, "Tags": map[string]any{}}
	cases := []struct {
		key, want, wantErr string
	}{
		{key: "Name", want: "orders"},
		{key: "Absent"},
		{key: "Null"},
		{key: "Count", wantErr: "property Count is 5 (float64): give a string"},
		{key: "Tags", wantErr: "property Tags is map[] (map[string]interface {}): give a string"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			got, err := customresource.StringProperty(props, tc.key)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("StringProperty = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// One entry point takes both framework calls: an onEvent event decodes
// with no Data, an isComplete event with the onEvent Data merged in.
func TestCompletionEventReadsBothFrameworkCalls(t *testing.T) {
	var onEvent, isComplete customresource.CompletionEvent
	if err := json.Unmarshal([]byte(`{"RequestType":"Create","ResourceType":"Custom::Thing","ResourceProperties":{"A":"1"}}`), &onEvent); err != nil {
		t.Fatal(err)
	}
	if onEvent.RequestType != cfn.RequestCreate || onEvent.ResourceProperties["A"] != "1" || onEvent.Data != nil {
		t.Errorf("onEvent decoded as %+v", onEvent)
	}
	if err := json.Unmarshal([]byte(`{"RequestType":"Create","PhysicalResourceId":"p","Data":{"Started":"2025-06-01T12:00:00Z","N":3}}`), &isComplete); err != nil {
		t.Fatal(err)
	}
	if isComplete.PhysicalResourceID != "p" || isComplete.DataString("Started") != "2025-06-01T12:00:00Z" ||
		isComplete.DataString("N") != "" || isComplete.DataString("Missing") != "" {
		t.Errorf("isComplete decoded as %+v", isComplete)
	}
	raw, _ := json.Marshal(customresource.Response{PhysicalResourceID: "p", Data: map[string]string{"K": "v"}})
	if string(raw) != `{"PhysicalResourceId":"p","Data":{"K":"v"}}` {
		t.Errorf("Response encodes as %s", raw)
	}
	raw, _ = json.Marshal(customresource.CompletionResponse{IsComplete: false})
	if string(raw) != `{"IsComplete":false}` {
		t.Errorf("CompletionResponse encodes as %s", raw)
	}
}

func TestUnknownRequestTypeSaysWhatIsExpected(t *testing.T) {
	err := customresource.UnknownRequestType("thing", "Replace")
	if !strings.Contains(err.Error(), `thing: RequestType "Replace" is not Create, Update or Delete`) {
		t.Errorf("error = %v", err)
	}
}

func TestDispatchPicksTheCallByMode(t *testing.T) {
	onEvent := func(context.Context, cfn.Event) (customresource.Response, error) {
		return customresource.Response{PhysicalResourceID: "from-onEvent"}, nil
	}
	isComplete := func(_ context.Context, e customresource.CompletionEvent) (customresource.CompletionResponse, error) {
		return customresource.CompletionResponse{IsComplete: e.DataString("done") == "yes"}, nil
	}
	e := customresource.CompletionEvent{Event: event, Data: map[string]any{"done": "yes"}}
	ctx := context.Background()

	out, err := customresource.Dispatch("thing", "onEvent", onEvent, isComplete)(ctx, e)
	if resp, ok := out.(customresource.Response); err != nil || !ok || resp.PhysicalResourceID != "from-onEvent" {
		t.Errorf("onEvent mode answered %#v, %v", out, err)
	}
	out, err = customresource.Dispatch("thing", "isComplete", onEvent, isComplete)(ctx, e)
	if resp, ok := out.(customresource.CompletionResponse); err != nil || !ok || !resp.IsComplete {
		t.Errorf("isComplete mode answered %#v, %v", out, err)
	}
	for _, mode := range []string{"", "OnEvent", "onComplete"} {
		_, err := customresource.Dispatch("thing", mode, onEvent, isComplete)(ctx, e)
		want := `thing function: environment variable HANDLER is "` + mode + `": set it to onEvent or isComplete`
		if err == nil || err.Error() != want {
			t.Errorf("mode %q: error %v, want %q", mode, err, want)
		}
	}
}

func TestDurationPropertyBoundsTheValue(t *testing.T) {
	cases := []struct {
		text string
		want time.Duration
		ok   bool
	}{
		{"", time.Minute, true},
		{"5", 5 * time.Second, true},
		{"0.2", 200 * time.Millisecond, true},
		{"600", 10 * time.Minute, true},
		{"601", 601 * time.Second, false},
		{"0", 0, false},
		{"-1", -time.Second, false},
		{"5s", 0, false},
	}
	for _, tc := range cases {
		got, ok := customresource.DurationProperty(tc.text, time.Second, time.Minute, 10*time.Minute)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("DurationProperty(%q) = %v, %v; want %v, %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCompletionMergesTheOnEventAnswer(t *testing.T) {
	c := customresource.Completion(event, customresource.Response{PhysicalResourceID: "thing-1", Data: map[string]string{"Arn": "arn:x"}})
	if c.PhysicalResourceID != "thing-1" || c.DataString("Arn") != "arn:x" || c.RequestID != event.RequestID {
		t.Errorf("Completion = %+v", c)
	}
}
