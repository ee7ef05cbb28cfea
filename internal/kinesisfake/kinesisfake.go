// Package kinesisfake is an in-process Kinesis Data Streams endpoint for tests.
// It speaks the wire protocol that aws-sdk-go-v2's kinesis client sends
// (awsJson1_1: POST /, X-Amz-Target: Kinesis_20131202.<Operation>, base64 blobs,
// errors as {"__type": ...}), enforces the PutRecords limits that real Kinesis
// enforces (500 records, 1 MiB per record, 5 MiB per call, partition keys of 1 to
// 256 characters), stores every accepted record, and fails entries or whole calls
// on demand so callers' retry paths can be tested without AWS.
package kinesisfake

import (
	"crypto/md5"
	"fmt"
	"math/big"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// Limits that real Kinesis enforces on PutRecords.
const (
	MaxRecordsPerCall  = 500
	MaxRecordBytes     = 1 << 20 // data plus partition key
	MaxBytesPerCall    = 5 << 20 // data plus partition keys, summed over records
	MaxPartitionKeyLen = 256
)

// Stream statuses, as Kinesis reports them.
const (
	StatusCreating = "CREATING"
	StatusActive   = "ACTIVE"
	StatusUpdating = "UPDATING"
	StatusDeleting = "DELETING"
)

const (
	shardCount = 4
	region     = "us-east-1"
	account    = "123456789012"
)

// Record is one record the fake accepted.
type Record struct {
	Stream         string
	PartitionKey   string
	Data           []byte
	ShardID        string
	SequenceNumber string
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	http     *httptest.Server
	recorder awsfake.Recorder

	mu           sync.Mutex
	streams      map[string]*stream
	entryFaults  []entryFault
	nextSequence int64
}

type stream struct {
	status  string
	created time.Time
	records []Record
}

type entryFault struct {
	calls int
	code  string
	match func(data []byte) bool
}

// Start runs a fake on a loopback port with the given streams, all ACTIVE.
// Call Close when done.
func Start(streams ...string) *Server {
	s := &Server{streams: map[string]*stream{}}
	for _, name := range streams {
		s.streams[name] = &stream{status: StatusActive, created: time.Unix(1764064800, 0)}
	}
	s.http = httptest.NewServer(&awsfake.JSONRPC{
		Service:      "kinesisfake",
		TargetPrefix: "Kinesis_20131202.",
		ContentType:  "application/x-amz-json-1.1",
		Recorder:     &s.recorder,
		Lock:         &s.mu,
		Operations: map[string]awsfake.Operation{
			"PutRecords":            awsfake.Decoding(s.putRecords),
			"DescribeStreamSummary": awsfake.Decoding(s.describeStreamSummary),
		},
	})
	return s
}

// URL is the endpoint to give the SDK client as BaseEndpoint.
func (s *Server) URL() string { return s.http.URL }

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

// SetStreamStatus creates the stream if needed and sets its status. An empty
// status deletes the stream, so it answers ResourceNotFoundException.
func (s *Server) SetStreamStatus(name, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == "" {
		delete(s.streams, name)
		return
	}
	st, ok := s.streams[name]
	if !ok {
		st = &stream{created: time.Unix(1764064800, 0)}
		s.streams[name] = st
	}
	st.status = status
}

// Records returns a copy of the records stored in a stream, in arrival order.
func (s *Server) Records(name string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[name]
	if !ok {
		return nil
	}
	return append([]Record(nil), st.records...)
}

// Calls returns how many requests for an operation (e.g. "PutRecords") arrived,
// including failed ones.
func (s *Server) Calls(operation string) int { return len(s.recorder.CallsTo(operation)) }

// FailEntries makes the next calls PutRecords calls fail, with errorCode
// (e.g. "ProvisionedThroughputExceededException"), every entry whose data
// satisfies match; a nil match fails every entry. Faults queue in order.
func (s *Server) FailEntries(calls int, errorCode string, match func(data []byte) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entryFaults = append(s.entryFaults, entryFault{calls: calls, code: errorCode, match: match})
}

// FailCalls makes the next calls requests of any operation answer with an
// HTTP status and error code (e.g. 400 "ThrottlingException", 500
// "InternalFailure") without doing anything. Faults queue in order.
func (s *Server) FailCalls(calls, status int, errorCode string) {
	if calls > 0 {
		s.recorder.Inject(awsfake.AnyOp, awsfake.Fault{Status: status, Code: errorCode, Message: "injected fault", Times: calls})
	}
}

type putRecordsInput struct {
	StreamName string
	StreamARN  string
	Records    []struct {
		Data         []byte // base64 in JSON, as awsJson encodes blobs
		PartitionKey string
	}
}

type putRecordsResultEntry struct {
	SequenceNumber string `json:",omitempty"`
	ShardId        string `json:",omitempty"`
	ErrorCode      string `json:",omitempty"`
	ErrorMessage   string `json:",omitempty"`
}

func (s *Server) putRecords(in putRecordsInput) (any, *awsfake.APIError) {
	name, st, apiErr := s.lookup(in.StreamName, in.StreamARN)
	if apiErr != nil {
		return nil, apiErr
	}
	if n := len(in.Records); n < 1 || n > MaxRecordsPerCall {
		return nil, awsfake.Errorf("ValidationException", "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and %d (got %d)", MaxRecordsPerCall, n)
	}
	total := 0
	for i, rec := range in.Records {
		if n := len(rec.PartitionKey); n < 1 || n > MaxPartitionKeyLen {
			return nil, awsfake.Errorf("ValidationException", "record %d: partition key length %d is outside 1..%d", i, n, MaxPartitionKeyLen)
		}
		size := len(rec.Data) + len(rec.PartitionKey)
		if size > MaxRecordBytes {
			return nil, awsfake.Errorf("ValidationException", "record %d is %d bytes, over the %d byte limit", i, size, MaxRecordBytes)
		}
		total += size
	}
	if total > MaxBytesPerCall {
		return nil, awsfake.Errorf("InvalidArgumentException", "records total %d bytes, over the %d byte limit per request", total, MaxBytesPerCall)
	}
	if st.status != StatusActive && st.status != StatusUpdating {
		return nil, awsfake.Errorf("ResourceInUseException", "Stream %s is %s", name, st.status)
	}

	fault, hasFault := s.takeEntryFault()
	results := make([]putRecordsResultEntry, len(in.Records))
	failed := 0
	for i, rec := range in.Records {
		if hasFault && (fault.match == nil || fault.match(rec.Data)) {
			results[i] = putRecordsResultEntry{ErrorCode: fault.code, ErrorMessage: "injected fault for shard " + shardFor(rec.PartitionKey)}
			failed++
			continue
		}
		s.nextSequence++
		seq := fmt.Sprintf("4960%052d", s.nextSequence)
		shard := shardFor(rec.PartitionKey)
		st.records = append(st.records, Record{Stream: name, PartitionKey: rec.PartitionKey, Data: rec.Data, ShardID: shard, SequenceNumber: seq})
		results[i] = putRecordsResultEntry{SequenceNumber: seq, ShardId: shard}
	}
	return map[string]any{"FailedRecordCount": failed, "Records": results, "EncryptionType": "KMS"}, nil
}

type streamInput struct{ StreamName, StreamARN string }

func (s *Server) describeStreamSummary(in streamInput) (any, *awsfake.APIError) {
	name, st, apiErr := s.lookup(in.StreamName, in.StreamARN)
	if apiErr != nil {
		return nil, apiErr
	}
	return map[string]any{"StreamDescriptionSummary": map[string]any{
		"StreamName":              name,
		"StreamARN":               streamARN(name),
		"StreamStatus":            st.status,
		"StreamModeDetails":       map[string]string{"StreamMode": "ON_DEMAND"},
		"RetentionPeriodHours":    24,
		"StreamCreationTimestamp": awsfake.EpochSeconds(st.created),
		"EnhancedMonitoring":      []map[string]any{{"ShardLevelMetrics": []string{}}},
		"EncryptionType":          "KMS",
		"KeyId":                   "alias/aws/kinesis",
		"OpenShardCount":          shardCount,
		"ConsumerCount":           0,
	}}, nil
}

// lookup finds the stream named directly or by ARN; one that does not
// exist is ResourceNotFoundException.
func (s *Server) lookup(name, arn string) (string, *stream, *awsfake.APIError) {
	if name == "" && arn != "" {
		name = arn[strings.LastIndex(arn, "/")+1:]
	}
	if name == "" {
		return "", nil, awsfake.Errorf("ValidationException", "StreamName or StreamARN is required")
	}
	st, ok := s.streams[name]
	if !ok {
		return "", nil, awsfake.Errorf("ResourceNotFoundException", "Stream %s under account %s not found.", name, account)
	}
	return name, st, nil
}

func (s *Server) takeEntryFault() (entryFault, bool) {
	for len(s.entryFaults) > 0 {
		f := &s.entryFaults[0]
		if f.calls <= 0 {
			s.entryFaults = s.entryFaults[1:]
			continue
		}
		f.calls--
		return *f, true
	}
	return entryFault{}, false
}

// shardFor maps a partition key to a shard the way Kinesis does: the MD5 of
// the key as a 128-bit integer, split into equal hash-key ranges.
func shardFor(partitionKey string) string {
	sum := md5.Sum([]byte(partitionKey))
	hash := new(big.Int).SetBytes(sum[:])
	rangeSize := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(shardCount))
	index := new(big.Int).Div(hash, rangeSize).Int64()
	return fmt.Sprintf("shardId-%012d", index)
}

func streamARN(name string) string {
	return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", region, account, name)
}
