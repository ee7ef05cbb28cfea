package drfake

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// SQS fakes one region's GetQueueUrl and GetQueueAttributes (awsJson1_0,
// X-Amz-Target AmazonSQS.<Operation>, as the SDK sends SQS now). Queues
// hold a message count, not messages.
type SQS struct {
	base
	region, account string

	mu     sync.Mutex
	queues map[string]int // messages by queue name
}

// NewSQS starts a fake; it stops when the test ends.
func NewSQS(tb testing.TB, region, account string) *SQS {
	q := &SQS{region: region, account: account, queues: map[string]int{}}
	q.url = awsfake.Serve(tb, &awsfake.JSONRPC{
		Service:      "drfake.SQS",
		TargetPrefix: "AmazonSQS.",
		ContentType:  "application/x-amz-json-1.0",
		Recorder:     &q.recorder,
		Lock:         &q.mu,
		Operations: map[string]awsfake.Operation{
			"GetQueueUrl":        awsfake.Decoding(q.getQueueURL),
			"GetQueueAttributes": awsfake.Decoding(q.getQueueAttributes),
		},
	}).URL
	return q
}

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

type getQueueURLInput struct{ QueueName, QueueOwnerAWSAccountId string }

func (q *SQS) getQueueURL(in getQueueURLInput) (any, *awsfake.APIError) {
	if _, exists := q.queues[in.QueueName]; !exists || in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != q.account {
		return nil, queueMissing()
	}
	return map[string]string{"QueueUrl": q.queueURL(in.QueueName)}, nil
}

type getQueueAttributesInput struct {
	QueueUrl       string
	AttributeNames []string
}

func (q *SQS) getQueueAttributes(in getQueueAttributesInput) (any, *awsfake.APIError) {
	name := in.QueueUrl[strings.LastIndex(in.QueueUrl, "/")+1:]
	messages, exists := q.queues[name]
	if !exists || in.QueueUrl != q.queueURL(name) {
		return nil, queueMissing()
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
	return map[string]any{"Attributes": attrs}, nil
}

// queueMissing is SQS's answer for a queue that does not exist, with the
// awsQuery code it keeps.
func queueMissing() *awsfake.APIError {
	e := awsfake.Errorf("QueueDoesNotExist", "The specified queue does not exist.")
	e.QueryError = "AWS.SimpleQueueService.NonExistentQueue;Sender"
	return e
}
