package drfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// SQS fakes one region's GetQueueUrl and GetQueueAttributes (awsJson1_0,
// X-Amz-Target AmazonSQS.<Operation>, as the SDK sends SQS now). Queues
// hold a message count, not messages.
type SQS struct {
	recorder
	url, region, account string

	mu     sync.Mutex
	queues map[string]int // messages by queue name
}

// NewSQS starts a fake; it stops when the test ends.
func NewSQS(tb testing.TB, region, account string) *SQS {
	q := &SQS{recorder: newRecorder(), region: region, account: account, queues: map[string]int{}}
	q.url = serve(tb, q.serve).URL
	return q
}

// URL is the endpoint for an SDK client.
func (q *SQS) URL() string { return q.url }

// CreateQueue makes an empty queue and returns its ARN.
func (q *SQS) CreateQueue(name string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queues[name] = 0
	return q.QueueArn(name)
}

// SetMessages sets how many messages a queue holds.
func (q *SQS) SetMessages(name string, n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queues[name] = n
}

// QueueArn is the ARN of a queue of this region.
func (q *SQS) QueueArn(name string) string {
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", q.region, q.account, name)
}

func (q *SQS) queueURL(name string) string {
	return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", q.region, q.account, name)
}

func (q *SQS) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if !ok || r.Method != http.MethodPost || r.Header.Get("Content-Type") != awsJSON10 {
		op = "Unknown"
	}
	if f := q.record(op); f != nil {
		writeJSONError(w, f.Status, awsJSON10, f.Code, f.Message)
		return
	}
	var in struct {
		QueueName, QueueOwnerAWSAccountId, QueueUrl string
		AttributeNames                              []string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeJSONError(w, http.StatusBadRequest, awsJSON10, "InvalidParameterValue", err.Error())
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch op {
	case "GetQueueUrl":
		if _, exists := q.queues[in.QueueName]; !exists || in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != q.account {
			q.queueMissing(w)
			return
		}
		writeJSON(w, http.StatusOK, awsJSON10, map[string]string{"QueueUrl": q.queueURL(in.QueueName)})
	case "GetQueueAttributes":
		name := in.QueueUrl[strings.LastIndex(in.QueueUrl, "/")+1:]
		messages, exists := q.queues[name]
		if !exists || in.QueueUrl != q.queueURL(name) {
			q.queueMissing(w)
			return
		}
		all := map[string]string{
			"ApproximateNumberOfMessages":           strconv.Itoa(messages),
			"ApproximateNumberOfMessagesNotVisible": "0",
			"ApproximateNumberOfMessagesDelayed":    "0",
			"QueueArn":                              q.QueueArn(name),
		}
		attrs := map[string]string{}
		for _, a := range in.AttributeNames {
			if a == "All" {
				attrs = all
				break
			}
			if v, ok := all[a]; ok {
				attrs[a] = v
			}
		}
		writeJSON(w, http.StatusOK, awsJSON10, map[string]any{"Attributes": attrs})
	default:
		writeJSONError(w, http.StatusBadRequest, awsJSON10, "InvalidAction", "drfake.SQS does not serve "+op)
	}
}

func (q *SQS) queueMissing(w http.ResponseWriter) {
	w.Header().Set("X-Amzn-Query-Error", "AWS.SimpleQueueService.NonExistentQueue;Sender")
	writeJSONError(w, http.StatusBadRequest, awsJSON10, "QueueDoesNotExist", "The specified queue does not exist.")
}
