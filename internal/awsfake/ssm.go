package awsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Parameter is an SSM Parameter Store parameter as the fake keeps it.
type Parameter struct {
	Name  string
	Type  string // String, StringList or SecureString
	Value string
	// Version starts at 1 and grows with each overwrite.
	Version      int64
	LastModified time.Time
}

// SSM fakes one region's Parameter Store (awsJson1_1, X-Amz-Target
// AmazonSSM.*): PutParameter (with Overwrite semantics), GetParameter and
// DeleteParameter. A put of an existing name without Overwrite is
// ParameterAlreadyExists; a get or delete of a missing name is
// ParameterNotFound. Any other operation is UnknownOperationException.
// ARNs carry the account 123456789012.
type SSM struct {
	*server
	region string

	mu     sync.Mutex
	params map[string]*Parameter
	// now stamps LastModifiedDate.
	now time.Time
}

const ssmContentType = "application/x-amz-json-1.1"

// NewSSM starts a fake for region; it stops when the test ends.
func NewSSM(tb testing.TB, region string) *SSM {
	s := &SSM{region: region, params: map[string]*Parameter{}, now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	s.server = newServer(tb, s.serve)
	return s
}

// Client is an SDK client for this fake.
func (s *SSM) Client() *ssm.Client { return ssm.NewFromConfig(Config(s.URL(), s.region)) }

// SetClock sets the time the fake stamps on changed parameters.
func (s *SSM) SetClock(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = t
}

// PutParameter creates or replaces a parameter as if written earlier;
// Type defaults to String and Version to 1.
func (s *SSM) PutParameter(p Parameter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Type == "" {
		p.Type = "String"
	}
	if p.Version == 0 {
		p.Version = 1
	}
	if p.LastModified.IsZero() {
		p.LastModified = s.now
	}
	s.params[p.Name] = &p
}

// Parameter returns a copy of the named parameter.
func (s *SSM) Parameter(name string) (Parameter, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.params[name]
	if !ok {
		return Parameter{}, false
	}
	return *p, true
}

func (s *SSM) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")
	if r.Method != http.MethodPost || !ok {
		op = "Unknown"
	}
	if f := s.record(Call{Op: op, Body: body, Path: r.URL.Path, Query: r.URL.Query()}); f != nil {
		if f.Hang {
			s.hang(r)
			return
		}
		s.fail(w, &apiError{Status: f.Status, Code: f.Code, Message: f.Message})
		return
	}
	var in struct {
		Name, Type, Value string
		Overwrite         bool
	}
	if err := json.Unmarshal(body, &in); err != nil {
		s.fail(w, errorf("ValidationException", "request body is not JSON: %v", err))
		return
	}
	s.mu.Lock()
	var out any
	var apiErr *apiError
	switch op {
	case "PutParameter":
		out, apiErr = s.put(in.Name, in.Type, in.Value, in.Overwrite)
	case "GetParameter":
		out, apiErr = s.get(in.Name)
	case "DeleteParameter":
		out, apiErr = s.delete(in.Name)
	default:
		apiErr = errorf("UnknownOperationException", "operation %q is not served by awsfake.SSM", op)
	}
	s.mu.Unlock()
	if apiErr != nil {
		s.fail(w, apiErr)
		return
	}
	writeJSON(w, http.StatusOK, ssmContentType, out)
}

func (s *SSM) fail(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, ssmContentType, map[string]string{"__type": e.Code, "message": e.Message})
}

func (s *SSM) arn(name string) string {
	// Hierarchical names start with "/", which the ARN's "parameter" absorbs.
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return fmt.Sprintf("arn:aws:ssm:%s:123456789012:parameter%s", s.region, name)
}

func (s *SSM) put(name, typ, value string, overwrite bool) (any, *apiError) {
	if name == "" || value == "" {
		return nil, errorf("ValidationException", "Name and Value are required")
	}
	existing, exists := s.params[name]
	if exists && !overwrite {
		return nil, errorf("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
	}
	switch {
	case typ == "" && !exists:
		return nil, errorf("ValidationException", "A parameter type is required when you create a parameter.")
	case typ == "":
		typ = existing.Type
	case typ != "String" && typ != "StringList" && typ != "SecureString":
		return nil, errorf("ValidationException", "Type %q is not String, StringList or SecureString", typ)
	}
	version := int64(1)
	if exists {
		version = existing.Version + 1
	}
	s.params[name] = &Parameter{Name: name, Type: typ, Value: value, Version: version, LastModified: s.now}
	return map[string]any{"Version": version, "Tier": "Standard"}, nil
}

func (s *SSM) get(name string) (any, *apiError) {
	p, ok := s.params[name]
	if !ok {
		return nil, errorf("ParameterNotFound", "Parameter %s not found.", name)
	}
	return map[string]any{"Parameter": map[string]any{
		"Name": p.Name, "Type": p.Type, "Value": p.Value, "Version": p.Version,
		"LastModifiedDate": epoch(p.LastModified), "ARN": s.arn(p.Name), "DataType": "text",
	}}, nil
}

func (s *SSM) delete(name string) (any, *apiError) {
	if _, ok := s.params[name]; !ok {
		return nil, errorf("ParameterNotFound", "Parameter %s not found.", name)
	}
	delete(s.params, name)
	return map[string]any{}, nil
}
