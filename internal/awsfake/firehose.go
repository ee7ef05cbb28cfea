package awsfake

import (
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/firehose"
)

// Delivery stream statuses, as DescribeDeliveryStream reports them
// (DeliveryStreamDescription.DeliveryStreamStatus in the Amazon Data
// Firehose API Reference): a new stream is CREATING and takes data only
// once ACTIVE.
const (
	DeliveryStreamCreating       = "CREATING"
	DeliveryStreamCreatingFailed = "CREATING_FAILED"
	DeliveryStreamDeleting       = "DELETING"
	DeliveryStreamDeletingFailed = "DELETING_FAILED"
	DeliveryStreamActive         = "ACTIVE"
)

// Firehose fakes one region's Amazon Data Firehose control plane as the
// API Reference describes DescribeDeliveryStream (awsJson1_1, X-Amz-Target
// Firehose_20150804.DescribeDeliveryStream): a name the region does not
// have is ResourceNotFoundException;
// the answer is DeliveryStreamDescription with the required members
// (name, ARN, status, type, version, destinations, HasMoreDestinations),
// and a FailureDescription only for the *_FAILED statuses. Any other
// operation is UnknownOperationException.
type Firehose struct {
	server
	region, account string

	mu      sync.Mutex
	streams map[string]string // name -> status
}

// NewFirehose starts a fake for region and account; it stops when the test ends.
func NewFirehose(tb testing.TB, region, account string) *Firehose {
	f := &Firehose{region: region, account: account, streams: map[string]string{}}
	f.url = Serve(tb, &JSONRPC{
		Service:      "awsfake.Firehose",
		TargetPrefix: "Firehose_20150804.",
		ContentType:  "application/x-amz-json-1.1",
		Recorder:     &f.Recorder,
		Lock:         &f.mu,
		Operations:   map[string]Operation{"DescribeDeliveryStream": Decoding(f.describe)},
	}).URL
	return f
}

// Client is an SDK client for this fake.
func (f *Firehose) Client() *firehose.Client {
	return firehose.NewFromConfig(Config(f.URL(), f.region))
}

// SetStatus creates the delivery stream or changes its status; status ""
// removes it (a deleted or never created stream).
func (f *Firehose) SetStatus(name, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if status == "" {
		delete(f.streams, name)
		return
	}
	f.streams[name] = status
}

func (f *Firehose) describe(in map[string]any) (any, *APIError) {
	// DeliveryStreamName is required; the SDK refuses to send a request
	// without it, so the fake never sees one.
	name := str(in, "DeliveryStreamName")
	status, ok := f.streams[name]
	if !ok {
		return nil, Errorf("ResourceNotFoundException", "Firehose %s under account %s not found.", name, f.account)
	}
	desc := map[string]any{
		"DeliveryStreamName":   name,
		"DeliveryStreamARN":    fmt.Sprintf("arn:aws:firehose:%s:%s:deliverystream/%s", f.region, f.account, name),
		"DeliveryStreamStatus": status,
		"DeliveryStreamType":   "KinesisStreamAsSource",
		"VersionId":            "1",
		"Destinations":         []any{map[string]any{"DestinationId": "destinationId-000000000001"}},
		"HasMoreDestinations":  false,
	}
	if status == DeliveryStreamCreatingFailed || status == DeliveryStreamDeletingFailed {
		desc["FailureDescription"] = map[string]any{"Type": "UNKNOWN_ERROR", "Details": "the fake was told this stream failed"}
	}
	return map[string]any{"DeliveryStreamDescription": desc}, nil
}
