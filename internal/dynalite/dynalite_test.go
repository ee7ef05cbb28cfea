package dynalite

import (
	"net/http"
	"strings"
	"testing"
)

func TestStartServesDynamoDBProtocol(t *testing.T) {
	endpoint := Start(t)
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("dynalite did not answer: %v", err)
	}
	defer resp.Body.Close()
	// Unsigned requests are refused with a DynamoDB-shaped error: proof that a
	// DynamoDB protocol server, not just any listener, is on the port.
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unsigned ListTables: status %d, want 400 from a DynamoDB protocol server", resp.StatusCode)
	}
}
