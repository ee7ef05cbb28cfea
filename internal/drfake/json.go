package drfake

import (
	"encoding/json"
	"net/http"
)

// Content types of the JSON protocols.
const (
	awsJSON10 = "application/x-amz-json-1.0"
	restJSON  = "application/json"
)

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeJSONError answers with the awsJson error document, whose __type the
// SDK reads as the error code.
func writeJSONError(w http.ResponseWriter, status int, contentType, code, message string) {
	writeJSON(w, status, contentType, map[string]string{"__type": code, "message": message})
}

// epochSeconds is how the JSON protocols carry a time.
func epochSeconds(t interface{ UnixNano() int64 }) float64 { return float64(t.UnixNano()) / 1e9 }
