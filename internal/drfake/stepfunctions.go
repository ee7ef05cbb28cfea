package drfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
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
	recorder
	url   string
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
	s := &StepFunctions{recorder: newRecorder(), clock: clock, machines: map[string]bool{}, executions: map[string]*Execution{}}
	s.url = serve(tb, s.serve).URL
	return s
}

// URL is the endpoint for an SDK client.
func (s *StepFunctions) URL() string { return s.url }

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

func (s *StepFunctions) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	if !ok || r.Method != http.MethodPost || r.Header.Get("Content-Type") != awsJSON10 {
		op = "Unknown"
	}
	if f := s.record(op); f != nil {
		writeJSONError(w, f.Status, awsJSON10, f.Code, f.Message)
		return
	}
	var in struct {
		StateMachineArn string `json:"stateMachineArn"`
		ExecutionArn    string `json:"executionArn"`
		Name            string `json:"name"`
		Input           string `json:"input"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSONError(w, http.StatusBadRequest, awsJSON10, "ValidationException", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch op {
	case "StartExecution":
		s.start(w, in.StateMachineArn, in.Name, in.Input)
	case "DescribeExecution":
		s.describe(w, in.ExecutionArn)
	default:
		writeJSONError(w, http.StatusBadRequest, awsJSON10, "UnknownOperationException", "drfake.StepFunctions does not serve "+op)
	}
}

func (s *StepFunctions) start(w http.ResponseWriter, machine, name, input string) {
	if !s.machines[machine] {
		writeJSONError(w, http.StatusBadRequest, awsJSON10, "StateMachineDoesNotExist", "State Machine Does Not Exist: '"+machine+"'")
		return
	}
	if name == "" || len(name) > 80 {
		writeJSONError(w, http.StatusBadRequest, awsJSON10, "InvalidName", fmt.Sprintf("Invalid Name: '%s'", name))
		return
	}
	arn := strings.Replace(machine, ":stateMachine:", ":execution:", 1) + ":" + name
	if e, exists := s.executions[arn]; exists {
		if e.Input == input && s.status(e) == "RUNNING" {
			writeJSON(w, http.StatusOK, awsJSON10, map[string]any{"executionArn": arn, "startDate": epochSeconds(e.Started)})
			return
		}
		writeJSONError(w, http.StatusBadRequest, awsJSON10, "ExecutionAlreadyExists", "Execution Already Exists: '"+arn+"'")
		return
	}
	outcome := Outcome{Running: 1}
	if s.outcome != nil {
		outcome = s.outcome(name, input)
	}
	if outcome.Status == "" {
		outcome.Status = "SUCCEEDED"
	}
	e := &Execution{Arn: arn, StateMachineArn: machine, Name: name, Input: input, Started: s.clock.Now(), Outcome: outcome}
	s.executions[arn] = e
	s.started = append(s.started, arn)
	writeJSON(w, http.StatusOK, awsJSON10, map[string]any{"executionArn": arn, "startDate": epochSeconds(e.Started)})
}

// status is what the execution reports now, without counting a look.
func (s *StepFunctions) status(e *Execution) string {
	if e.described < e.Outcome.Running {
		return "RUNNING"
	}
	return e.Outcome.Status
}

func (s *StepFunctions) describe(w http.ResponseWriter, arn string) {
	e, ok := s.executions[arn]
	if !ok {
		writeJSONError(w, http.StatusBadRequest, awsJSON10, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+arn+"'")
		return
	}
	status := s.status(e)
	e.described++
	out := map[string]any{
		"executionArn": e.Arn, "stateMachineArn": e.StateMachineArn, "name": e.Name, "status": status,
		"startDate": epochSeconds(e.Started), "input": e.Input,
	}
	if status != "RUNNING" {
		out["stopDate"] = epochSeconds(s.clock.Now())
		if e.Outcome.Error != "" {
			out["error"], out["cause"] = e.Outcome.Error, e.Outcome.Cause
		}
	}
	writeJSON(w, http.StatusOK, awsJSON10, out)
}
