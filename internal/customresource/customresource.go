// Package customresource is what every CloudFormation custom resource
// handler here shares with the CDK Provider framework: the request and
// response shapes, the guard that runs a request, per-call deadlines,
// property reading and logger defaulting.
//
// Guarantees: a handler run through Guard never panics out (a panic becomes
// an error), every error it returns is one line (the framework hands it to
// CloudFormation as the failure reason, which must fit in one), and every
// AWS call made under CallContext has a deadline, so CloudFormation always
// gets an answer.
package customresource

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
)

// DefaultCallTimeout bounds one AWS call when a handler sets no timeout.
const DefaultCallTimeout = 20 * time.Second

// Response is the onEvent answer to the Provider framework.
type Response struct {
	PhysicalResourceID string            `json:"PhysicalResourceId"`
	Data               map[string]string `json:"Data,omitempty"`
}

// CompletionEvent is what isComplete receives: the CloudFormation event with
// the onEvent response's PhysicalResourceId and Data merged in. onEvent
// receives the same shape without Data, so one Lambda entry point can take
// both.
type CompletionEvent struct {
	cfn.Event
	Data map[string]any `json:"Data,omitempty"`
}

// DataString reads one string value of the merged Data; "" when absent.
func (e CompletionEvent) DataString(key string) string {
	s, _ := e.Data[key].(string)
	return s
}

// CompletionResponse is the isComplete answer; the framework polls until
// IsComplete is true and merges Data over the onEvent Data.
type CompletionResponse struct {
	IsComplete bool              `json:"IsComplete"`
	Data       map[string]string `json:"Data,omitempty"`
}

// Handler modes of a provider Lambda that serves both framework calls: the
// values of its HANDLER environment variable.
const (
	ModeOnEvent    = "onEvent"
	ModeIsComplete = "isComplete"
)

// Dispatch returns the Lambda handler for mode (the HANDLER variable) of the
// resource named resource, served by onEvent and isComplete. Both calls
// take a CompletionEvent, which reads either framework call. An unknown
// mode still yields a handler, one that fails every event with a message
// saying how to fix the function, so it never crash-loops.
func Dispatch(resource, mode string, onEvent func(context.Context, cfn.Event) (Response, error),
	isComplete func(context.Context, CompletionEvent) (CompletionResponse, error)) func(context.Context, CompletionEvent) (any, error) {
	switch mode {
	case ModeOnEvent:
		return func(ctx context.Context, e CompletionEvent) (any, error) { return onEvent(ctx, e.Event) }
	case ModeIsComplete:
		return func(ctx context.Context, e CompletionEvent) (any, error) { return isComplete(ctx, e) }
	}
	return func(context.Context, CompletionEvent) (any, error) {
		return nil, fmt.Errorf("%s function: environment variable HANDLER is %q: set it to %s or %s", resource, mode, ModeOnEvent, ModeIsComplete)
	}
}

// Guard runs one request of the resource named resource (e.g. "table
// restore"): a panic becomes an error, every error becomes one line, and
// each failure is logged with the request it belongs to.
func Guard[T any](log *slog.Logger, resource string, e cfn.Event, run func() (T, error)) (out T, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero T
			out = zero
			err = fmt.Errorf("%s: internal error (%v); report it with this function's log", resource, r)
		}
		if err != nil {
			err = OneLine(err)
			Logger(log).Error("request failed", "resource_type", e.ResourceType, "request_type", e.RequestType,
				"logical_id", e.LogicalResourceID, "request_id", e.RequestID, "error", err.Error())
		}
	}()
	return run()
}

// OneLine returns err with every run of white space in its message,
// line breaks included, turned into one space; errors.Is and errors.As
// still see the original. nil stays nil.
func OneLine(err error) error {
	if err == nil {
		return nil
	}
	return oneLine{err}
}

type oneLine struct{ err error }

func (o oneLine) Error() string { return strings.Join(strings.Fields(o.err.Error()), " ") }
func (o oneLine) Unwrap() error { return o.err }

// CallContext bounds one AWS call: timeout, or DefaultCallTimeout when
// timeout is not positive.
func CallContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	return context.WithTimeout(ctx, timeout)
}

// Logger returns log, or a JSON logger to stdout (what Lambda ships to
// CloudWatch Logs) when log is nil.
func Logger(log *slog.Logger) *slog.Logger {
	if log != nil {
		return log
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, nil))
}

// StringProperty reads one resource property as trimmed text; absent or
// null is "". CloudFormation passes every scalar as a string, so anything
// else is an error that names the property.
func StringProperty(props map[string]any, key string) (string, error) {
	v, present := props[key]
	if !present || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("property %s is %v (%T): give a string", key, v, v)
	}
	return strings.TrimSpace(s), nil
}

// DurationProperty reads text, a property's number of units (e.g. "5" with
// unit time.Second), as a duration; "" is fallback. ok is false unless the
// duration is above 0 and at most max.
func DurationProperty(text string, unit, fallback, max time.Duration) (d time.Duration, ok bool) {
	if text == "" {
		return fallback, true
	}
	n, err := strconv.ParseFloat(text, 64)
	d = time.Duration(n * float64(unit))
	return d, err == nil && d > 0 && d <= max
}

// Completion is the isComplete event the Provider framework builds from an
// event and its onEvent answer: the answer's PhysicalResourceId and Data
// merged in.
func Completion(e cfn.Event, resp Response) CompletionEvent {
	e.PhysicalResourceID = resp.PhysicalResourceID
	data := map[string]any{}
	for k, v := range resp.Data {
		data[k] = v
	}
	return CompletionEvent{Event: e, Data: data}
}

// UnknownRequestType is the error for a RequestType CloudFormation does not send.
func UnknownRequestType(resource string, rt cfn.RequestType) error {
	return fmt.Errorf("%s: RequestType %q is not Create, Update or Delete", resource, rt)
}
