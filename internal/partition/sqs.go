package partition

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// deadlineReserve is kept free at the end of an invocation, so a slow Glue
// call is abandoned in time to report partial failures rather than letting
// the whole batch time out.
const deadlineReserve = 3 * time.Second

// HandleSQS registers the partitions of the S3 notifications in a batch of
// SQS messages (native S3 notifications, optionally inside an SNS envelope).
// It reports as batch item failures exactly the messages that are poison
// (not an S3 notification) or carry an object whose partition could not be
// registered; it never fails the whole batch. One embedded-metrics line per
// call records the counts.
func (r *Registrar) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-min(deadlineReserve, time.Until(deadline)/4)))
		defer cancel()
	}
	var objs []Object
	var owner []int // message index of each object
	messageFailed := make([]bool, len(ev.Records))
	run := newRun(0)
	poison := 0
	for i, msg := range ev.Records {
		n, problem := parseNotification(msg.Body)
		if problem != "" {
			messageFailed[i] = true
			poison++
			r.logger.Error("poison message: not an S3 notification; it goes to the DLQ after the queue's receive limit",
				"messageId", msg.MessageId, "problem", problem, "body", truncate(msg.Body, 512),
				"fix", "only S3 ObjectCreated notifications belong on this queue: find the sender, then delete the message from the DLQ")
		}
		run.result.Received += len(n.objects) + len(n.skipped)
		for _, s := range n.skipped {
			r.skip(run, s.reason, s.object)
		}
		for _, obj := range n.objects {
			objs = append(objs, obj)
			owner = append(owner, i)
		}
	}
	run.objectFailed = make([]bool, len(objs))
	r.register(ctx, run, objs)

	var resp events.SQSEventResponse
	for j, failed := range run.objectFailed {
		if failed {
			messageFailed[owner[j]] = true
		}
	}
	for i, failed := range messageFailed {
		if failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		}
	}
	r.writeMetrics(run.result, len(ev.Records), poison, len(resp.BatchItemFailures))
	return resp, nil
}

// notification is what one SQS message carries.
type notification struct {
	objects []Object
	skipped []skippedEvent
}

type skippedEvent struct {
	reason SkipReason
	object Object
}

// s3Notification is the S3 event message format (and the SNS envelope
// around it when S3 notifies a topic that feeds the queue).
type s3Notification struct {
	Event   string
	Bucket  string
	Records *[]struct {
		EventName string `json:"eventName"`
		S3        *struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	}
	Type    string
	Message string
}

// parseNotification reads a message body. A non-empty problem makes the
// message poison; the well-formed records in it are still returned, so their
// partitions are registered even while the message heads for the DLQ.
func parseNotification(body string) (n notification, problem string) {
	var msg s3Notification
	if err := json.Unmarshal([]byte(body), &msg); err != nil {
		return n, "body is not a JSON object: " + err.Error()
	}
	if msg.Type == "Notification" && msg.Message != "" && msg.Records == nil {
		return parseNotification(msg.Message)
	}
	if msg.Event == "s3:TestEvent" {
		n.skipped = append(n.skipped, skippedEvent{SkipTestEvent, Object{Bucket: msg.Bucket}})
		return n, ""
	}
	if msg.Records == nil || len(*msg.Records) == 0 {
		return n, "no Records: not an S3 event notification"
	}
	for i, rec := range *msg.Records {
		if rec.S3 == nil || rec.S3.Bucket.Name == "" || rec.S3.Object.Key == "" {
			problem = "record " + strconv.Itoa(i) + " has no s3.bucket.name or s3.object.key"
			continue
		}
		key, err := url.QueryUnescape(rec.S3.Object.Key)
		if err != nil {
			problem = "record " + strconv.Itoa(i) + " has a key that is not URL-encoded: " + err.Error()
			continue
		}
		obj := Object{Bucket: rec.S3.Bucket.Name, Key: key}
		if rec.EventName != "" && !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
			n.skipped = append(n.skipped, skippedEvent{SkipNotObjectCreated, obj})
			continue
		}
		n.objects = append(n.objects, obj)
	}
	return n, problem
}
