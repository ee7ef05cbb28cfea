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
)

// queryRequest decodes an awsQuery request (form-encoded POST with Action).
func queryRequest(r *http.Request, body []byte) (string, url.Values) {
	form, err := url.ParseQuery(string(body))
	if err != nil || r.Method != http.MethodPost {
		return "Unknown", url.Values{}
	}
	return form.Get("Action"), form
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
	recorder
	url     string
	account string
}

// NewSTS starts a fake whose caller belongs to account; it stops when the
// test ends.
func NewSTS(tb testing.TB, account string) *STS {
	s := &STS{recorder: newRecorder(), account: account}
	s.url = serve(tb, s.serve).URL
	return s
}

// URL is the endpoint for an SDK client.
func (s *STS) URL() string { return s.url }

func (s *STS) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op, _ := queryRequest(r, body)
	if f := s.record(op); f != nil {
		writeQueryError(w, f.Status, f.Code, f.Message)
		return
	}
	if op != "GetCallerIdentity" {
		writeQueryError(w, http.StatusBadRequest, "InvalidAction", "drfake.STS does not serve "+op)
		return
	}
	type result struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}
	type response struct {
		XMLName xml.Name `xml:"GetCallerIdentityResponse"`
		Result  result   `xml:"GetCallerIdentityResult"`
	}
	writeXML(w, http.StatusOK, response{Result: result{
		Arn: fmt.Sprintf("arn:aws:sts::%s:assumed-role/operator/drctl", s.account), UserID: "AROAFAKE:drctl", Account: s.account,
	}})
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
	recorder
	url    string
	region string

	mu     sync.Mutex
	stacks map[string]Stack
}

// NewCloudFormation starts a fake for region; it stops when the test ends.
func NewCloudFormation(tb testing.TB, region string) *CloudFormation {
	c := &CloudFormation{recorder: newRecorder(), region: region, stacks: map[string]Stack{}}
	c.url = serve(tb, c.serve).URL
	return c
}

// URL is the endpoint for an SDK client.
func (c *CloudFormation) URL() string { return c.url }

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

func (c *CloudFormation) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op, form := queryRequest(r, body)
	if f := c.record(op); f != nil {
		writeQueryError(w, f.Status, f.Code, f.Message)
		return
	}
	if op != "DescribeStacks" {
		writeQueryError(w, http.StatusBadRequest, "InvalidAction", "drfake.CloudFormation does not serve "+op)
		return
	}
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
		writeQueryError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("Stack with id %s does not exist", name))
		return
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
	writeXML(w, http.StatusOK, out)
}
