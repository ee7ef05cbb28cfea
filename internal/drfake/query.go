package drfake

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// queryService serves awsQuery operations (a form-encoded POST naming its
// Action, answered in XML): it records each request, answers an injected
// fault or an action it does not serve with the awsQuery error, and hands
// the rest to their operation.
type queryService struct {
	service    string
	recorder   *awsfake.Recorder
	operations map[string]queryOperation
}

// queryOperation answers an awsQuery request's form with the response,
// which is encoded as XML, or with an error.
type queryOperation func(form url.Values) (any, *awsfake.APIError)

func (q queryService) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op, form := "Unknown", url.Values{}
	if parsed, err := url.ParseQuery(string(body)); err == nil && r.Method == http.MethodPost {
		op, form = parsed.Get("Action"), parsed
	}
	if f := q.recorder.Record(r, op, body); f != nil {
		writeQueryError(w, f.Status, f.Code, f.Message)
		return
	}
	handle, ok := q.operations[op]
	if !ok {
		writeQueryError(w, http.StatusBadRequest, "InvalidAction", q.service+" does not serve "+op)
		return
	}
	out, apiErr := handle(form)
	if apiErr != nil {
		writeQueryError(w, apiErr.Status, apiErr.Code, apiErr.Message)
		return
	}
	writeXML(w, http.StatusOK, out)
}

// writeQueryError answers with the awsQuery error document.
func writeQueryError(w http.ResponseWriter, status int, code, message string) {
	type errorBody struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type errorResponse struct {
		XMLName   xml.Name  `xml:"ErrorResponse"`
		Error     errorBody `xml:"Error"`
		RequestID string    `xml:"RequestId"`
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	writeXML(w, status, errorResponse{Error: errorBody{Type: kind, Code: code, Message: message}, RequestID: "drfake"})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

// STS fakes GetCallerIdentity (awsQuery).
type STS struct {
	base
	account string
}

// NewSTS starts a fake whose caller belongs to account; it stops when the
// test ends.
func NewSTS(tb testing.TB, account string) *STS {
	s := &STS{account: account}
	sts := queryService{service: "drfake.STS", recorder: &s.recorder,
		operations: map[string]queryOperation{"GetCallerIdentity": s.getCallerIdentity}}
	s.url = awsfake.Serve(tb, awsfake.WithBody(sts.serve)).URL
	return s
}

func (s *STS) getCallerIdentity(url.Values) (any, *awsfake.APIError) {
	type result struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}
	type response struct {
		XMLName xml.Name `xml:"GetCallerIdentityResponse"`
		Result  result   `xml:"GetCallerIdentityResult"`
	}
	return response{Result: result{
		Arn: fmt.Sprintf("arn:aws:sts::%s:assumed-role/operator/drctl", s.account), UserID: "AROAFAKE:drctl", Account: s.account,
	}}, nil
}

// Stack is a CloudFormation stack as the fake keeps it.
type Stack struct {
	Name    string
	Status  string // e.g. CREATE_COMPLETE
	Created time.Time
	Outputs map[string]string
}

// CloudFormation fakes one region's DescribeStacks (awsQuery).
type CloudFormation struct {
	base
	region string

	mu     sync.Mutex
	stacks map[string]Stack
}

// NewCloudFormation starts a fake for region; it stops when the test ends.
func NewCloudFormation(tb testing.TB, region string) *CloudFormation {
	c := &CloudFormation{region: region, stacks: map[string]Stack{}}
	cfn := queryService{service: "drfake.CloudFormation", recorder: &c.recorder,
		operations: map[string]queryOperation{"DescribeStacks": c.describeStacks}}
	c.url = awsfake.Serve(tb, awsfake.WithBody(cfn.serve)).URL
	return c
}

// PutStack creates or replaces a stack.
func (c *CloudFormation) PutStack(s Stack) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stacks[s.Name] = s
}

// DeleteStack removes a stack.
func (c *CloudFormation) DeleteStack(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.stacks, name)
}

func (c *CloudFormation) describeStacks(form url.Values) (any, *awsfake.APIError) {
	name := form.Get("StackName")
	c.mu.Lock()
	var stacks []Stack
	if name == "" {
		for _, s := range c.stacks {
			stacks = append(stacks, s)
		}
	} else if s, ok := c.stacks[name]; ok {
		stacks = append(stacks, s)
	}
	c.mu.Unlock()
	if name != "" && len(stacks) == 0 {
		return nil, awsfake.Errorf("ValidationError", "Stack with id %s does not exist", name)
	}
	type output struct {
		Key   string `xml:"OutputKey"`
		Value string `xml:"OutputValue"`
	}
	type member struct {
		StackID      string   `xml:"StackId"`
		StackName    string   `xml:"StackName"`
		StackStatus  string   `xml:"StackStatus"`
		CreationTime string   `xml:"CreationTime"`
		Outputs      []output `xml:"Outputs>member"`
	}
	type response struct {
		XMLName xml.Name `xml:"DescribeStacksResponse"`
		Stacks  []member `xml:"DescribeStacksResult>Stacks>member"`
	}
	var out response
	for _, s := range stacks {
		m := member{
			StackID:      fmt.Sprintf("arn:aws:cloudformation:%s:123456789012:stack/%s/00000000-0000-0000-0000-000000000000", c.region, s.Name),
			StackName:    s.Name,
			StackStatus:  s.Status,
			CreationTime: s.Created.UTC().Format(time.RFC3339Nano),
		}
		keys := make([]string, 0, len(s.Outputs))
		for k := range s.Outputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m.Outputs = append(m.Outputs, output{Key: k, Value: s.Outputs[k]})
		}
		out.Stacks = append(out.Stacks, m)
	}
	return out, nil
}
