package drfake

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// Outcome is how a fake execution ends.
type Outcome struct {
	// Status is the final status: SUCCEEDED (when empty), FAILED,
	// TIMED_OUT or ABORTED.
	Status string
	// Error and Cause explain a failure, as Step Functions reports them.
	Error, Cause string
	// Running is how many DescribeExecution calls answer RUNNING first.
	Running int
}

// Execution is one execution as the fake keeps it.
type Execution struct {
	Arn, StateMachineArn, Name, Input string
	Started                           time.Time
	Outcome                           Outcome
	described                         int
}

// StepFunctions fakes one region's StartExecution and DescribeExecution
// (awsJson1_0, X-Amz-Target AWSStepFunctions.<Operation>) with Standard
// workflow semantics: starting a running execution's name again with the
// same input returns that execution, any other reuse of a name is
// ExecutionAlreadyExists. Executions do nothing; Outcome decides how they
// end.
type StepFunctions struct {
	base
	clock *Clock

	mu         sync.Mutex
	machines   map[string]bool
	executions map[string]*Execution
	started    []string
	outcome    func(name, input string) Outcome
}

// NewStepFunctions starts a fake whose dates come from clock; it stops
// when the test ends.
func NewStepFunctions(tb testing.TB, clock *Clock) *StepFunctions {
	s := &StepFunctions{clock: clock, machines: map[string]bool{}, executions: map[string]*Execution{}}
	s.url = awsfake.Serve(tb, &awsfake.JSONRPC{
		Service:      "drfake.StepFunctions",
		TargetPrefix: "AWSStepFunctions.",
		ContentType:  "application/x-amz-json-1.0",
		Recorder:     &s.recorder,
		Lock:         &s.mu,
		Operations: map[string]awsfake.Operation{
			"StartExecution":    awsfake.Decoding(s.start),
			"DescribeExecution": awsfake.Decoding(s.describe),
		},
	}).URL
	return s
}

// AddStateMachine makes a state machine exist.
func (s *StepFunctions) AddStateMachine(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.machines[arn] = true
}

// SetOutcome decides how executions started from now on end; the default
// is SUCCEEDED after one RUNNING answer.
func (s *StepFunctions) SetOutcome(f func(name, input string) Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcome = f
}

// Executions returns every execution in the order they started.
func (s *StepFunctions) Executions() []Execution {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Execution, len(s.started))
	for i, arn := range s.started {
		out[i] = *s.executions[arn]
	}
	return out
}

type startExecutionInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Input           string `json:"input"`
}

func (s *StepFunctions) start(in startExecutionInput) (any, *awsfake.APIError) {
	if !s.machines[in.StateMachineArn] {
		return nil, awsfake.Errorf("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", in.StateMachineArn)
	}
	if in.Name == "" || len(in.Name) > 80 {
		return nil, awsfake.Errorf("InvalidName", "Invalid Name: '%s'", in.Name)
	}
	arn := strings.Replace(in.StateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + in.Name
	if e, exists := s.executions[arn]; exists {
		if e.Input == in.Input && s.status(e) == "RUNNING" {
			return map[string]any{"executionArn": arn, "startDate": awsfake.EpochSeconds(e.Started)}, nil
		}
		return nil, awsfake.Errorf("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
	}
	outcome := Outcome{Running: 1}
	if s.outcome != nil {
		outcome = s.outcome(in.Name, in.Input)
	}
	if outcome.Status == "" {
		outcome.Status = "SUCCEEDED"
	}
	e := &Execution{Arn: arn, StateMachineArn: in.StateMachineArn, Name: in.Name, Input: in.Input, Started: s.clock.Now(), Outcome: outcome}
	s.executions[arn] = e
	s.started = append(s.started, arn)
	return map[string]any{"executionArn": arn, "startDate": awsfake.EpochSeconds(e.Started)}, nil
}

// status is what the execution reports now, without counting a look.
func (s *StepFunctions) status(e *Execution) string {
	if e.described < e.Outcome.Running {
		return "RUNNING"
	}
	return e.Outcome.Status
}

type describeExecutionInput struct {
	ExecutionArn string `json:"executionArn"`
}

func (s *StepFunctions) describe(in describeExecutionInput) (any, *awsfake.APIError) {
	e, ok := s.executions[in.ExecutionArn]
	if !ok {
		return nil, awsfake.Errorf("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", in.ExecutionArn)
	}
	status := s.status(e)
	e.described++
	out := map[string]any{
		"executionArn": e.Arn, "stateMachineArn": e.StateMachineArn, "name": e.Name, "status": status,
		"startDate": awsfake.EpochSeconds(e.Started), "input": e.Input,
	}
	if status != "RUNNING" {
		out["stopDate"] = awsfake.EpochSeconds(s.clock.Now())
		if e.Outcome.Error != "" {
			out["error"], out["cause"] = e.Outcome.Error, e.Outcome.Cause
		}
	}
	return out, nil
}
