package awsfake

import (
	"fmt"
	"strconv"
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
//
// Versions follow the Systems Manager User Guide ("Working with parameter
// versions"): each put of a parameter saves a new version numbered one
// above the last, and at most 100 versions are kept (the oldest goes). A
// get of "name:version" reads that version (Selector ":version" in the
// answer; ParameterVersionNotFound when it is not kept); a get of
// "name:label" is ParameterVersionNotFound too (of GetParameter's
// documented errors, the one for a selector that names nothing), since
// the fake serves no LabelParameterVersion and so holds no labels. Deleting a parameter
// deletes its versions.
type SSM struct {
	server
	region string

	mu     sync.Mutex
	params map[string]*Parameter
	// history holds each parameter's kept versions, oldest first.
	history map[string][]Parameter
	// now stamps LastModifiedDate.
	now time.Time
}

// NewSSM starts a fake for region; it stops when the test ends.
func NewSSM(tb testing.TB, region string) *SSM {
	s := &SSM{region: region, params: map[string]*Parameter{}, history: map[string][]Parameter{}, now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	s.url = Serve(tb, &JSONRPC{
		Service:      "awsfake.SSM",
		TargetPrefix: "AmazonSSM.",
		ContentType:  "application/x-amz-json-1.1",
		Recorder:     &s.Recorder,
		Lock:         &s.mu,
		Operations: map[string]Operation{
			"PutParameter":    Decoding(s.put),
			"GetParameter":    Decoding(s.get),
			"DeleteParameter": Decoding(s.delete),
		},
	}).URL
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
	s.history[p.Name] = []Parameter{p}
}

// keptVersions is how many versions Parameter Store keeps of a parameter.
const keptVersions = 100

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

// parameterInput is the input of every operation served; each reads its part.
type parameterInput struct {
	Name, Type, Value string
	Overwrite         bool
}

func (s *SSM) arn(name string) string {
	// Hierarchical names start with "/", which the ARN's "parameter" absorbs.
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return fmt.Sprintf("arn:aws:ssm:%s:123456789012:parameter%s", s.region, name)
}

func (s *SSM) put(in parameterInput) (any, *APIError) {
	if in.Name == "" || in.Value == "" {
		return nil, Errorf("ValidationException", "Name and Value are required")
	}
	existing, exists := s.params[in.Name]
	if exists && !in.Overwrite {
		return nil, Errorf("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
	}
	typ := in.Type
	switch {
	case typ == "" && !exists:
		return nil, Errorf("ValidationException", "A parameter type is required when you create a parameter.")
	case typ == "":
		typ = existing.Type
	case typ != "String" && typ != "StringList" && typ != "SecureString":
		return nil, Errorf("ValidationException", "Type %q is not String, StringList or SecureString", typ)
	}
	version := int64(1)
	if exists {
		version = existing.Version + 1
	}
	p := Parameter{Name: in.Name, Type: typ, Value: in.Value, Version: version, LastModified: s.now}
	s.params[in.Name] = &p
	if !exists {
		delete(s.history, in.Name)
	}
	s.history[in.Name] = append(s.history[in.Name], p)
	if h := s.history[in.Name]; len(h) > keptVersions {
		s.history[in.Name] = h[len(h)-keptVersions:]
	}
	return map[string]any{"Version": version, "Tier": "Standard"}, nil
}

func (s *SSM) get(in parameterInput) (any, *APIError) {
	name, selector, selected := strings.Cut(in.Name, ":")
	latest, ok := s.params[name]
	if !ok {
		return nil, Errorf("ParameterNotFound", "Parameter %s not found.", name)
	}
	p := latest
	if selected {
		version, err := strconv.ParseInt(selector, 10, 64)
		if err != nil {
			return nil, Errorf("ParameterVersionNotFound", "The specified parameter version wasn't found: %s has no label %s.", name, selector)
		}
		p = nil
		for i := range s.history[name] {
			if s.history[name][i].Version == version {
				p = &s.history[name][i]
			}
		}
		if p == nil {
			return nil, Errorf("ParameterVersionNotFound", "The specified parameter version %d of %s wasn't found.", version, name)
		}
	}
	out := map[string]any{
		"Name": p.Name, "Type": p.Type, "Value": p.Value, "Version": p.Version,
		"LastModifiedDate": EpochSeconds(p.LastModified), "ARN": s.arn(p.Name), "DataType": "text",
	}
	if selected {
		out["Selector"] = ":" + selector
	}
	return map[string]any{"Parameter": out}, nil
}

func (s *SSM) delete(in parameterInput) (any, *APIError) {
	if _, ok := s.params[in.Name]; !ok {
		return nil, Errorf("ParameterNotFound", "Parameter %s not found.", in.Name)
	}
	delete(s.params, in.Name)
	delete(s.history, in.Name)
	return map[string]any{}, nil
}
