package drfake

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// SSM fakes one region's GetParameter (awsJson1_1, X-Amz-Target
// AmazonSSM.GetParameter).
type SSM struct {
	recorder
	url string

	mu     sync.Mutex
	params map[string]string
}

// NewSSM starts a fake; it stops when the test ends.
func NewSSM(tb testing.TB) *SSM {
	s := &SSM{recorder: newRecorder(), params: map[string]string{}}
	s.url = serve(tb, s.serve).URL
	return s
}

// URL is the endpoint for an SDK client.
func (s *SSM) URL() string { return s.url }

// PutParameter creates or replaces a String parameter.
func (s *SSM) PutParameter(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.params[name] = value
}

func (s *SSM) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSSM.")
	if !ok {
		op = "Unknown"
	}
	if f := s.record(op); f != nil {
		writeJSONError(w, f.Status, f.Code, f.Message)
		return
	}
	if op != "GetParameter" {
		writeJSONError(w, http.StatusBadRequest, "InvalidAction", "drfake.SSM does not serve "+op)
		return
	}
	var in struct{ Name string }
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSONError(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	s.mu.Lock()
	value, found := s.params[in.Name]
	s.mu.Unlock()
	if !found {
		writeJSONError(w, http.StatusBadRequest, "ParameterNotFound", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"Parameter": map[string]any{
		"Name": in.Name, "Type": "String", "Value": value, "Version": 1,
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"__type": code, "message": message})
}
