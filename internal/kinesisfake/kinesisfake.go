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
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
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
	targetPrefix = "Kinesis_20131202."
	contentType  = "application/x-amz-json-1.1"
	shardCount   = 4
	region       = "us-east-1"
	account      = "123456789012"
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
	http *httptest.Server

	mu           sync.Mutex
	streams      map[string]*stream
	calls        map[string]int
	entryFaults  []entryFault
	callFaults   []callFault
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

type callFault struct {
	calls  int
	status int
	code   string
}

// Start runs a fake on a loopback port with the given streams, all ACTIVE.
// Call Close when done.
func Start(streams ...string) *Server {
	s := &Server{streams: map[string]*stream{}, calls: map[string]int{}}
	for _, name := range streams {
		s.streams[name] = &stream{status: StatusActive, created: time.Unix(1764064800, 0)}
	}
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
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
func (s *Server) Calls(operation string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[operation]
}

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
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callFaults = append(s.callFaults, callFault{calls: calls, status: status, code: errorCode})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "expected POST /")
		return
	}
	operation, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "X-Amz-Target must start with "+targetPrefix)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != contentType {
		writeError(w, http.StatusBadRequest, "SerializationException", fmt.Sprintf("Content-Type %q, want %s", ct, contentType))
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "request is not signed with SigV4")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[operation]++
	if fault, ok := s.takeCallFault(); ok {
		writeError(w, fault.status, fault.code, "injected fault")
		return
	}
	switch operation {
	case "PutRecords":
		s.putRecords(w, r)
	case "DescribeStreamSummary":
		s.describeStreamSummary(w, r)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "kinesisfake does not serve "+operation)
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

func (s *Server) putRecords(w http.ResponseWriter, r *http.Request) {
	var in putRecordsInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	name, st, ok := s.lookup(w, in.StreamName, in.StreamARN)
	if !ok {
		return
	}
	if n := len(in.Records); n < 1 || n > MaxRecordsPerCall {
		writeError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and %d (got %d)", MaxRecordsPerCall, n))
		return
	}
	total := 0
	for i, rec := range in.Records {
		if n := len(rec.PartitionKey); n < 1 || n > MaxPartitionKeyLen {
			writeError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("record %d: partition key length %d is outside 1..%d", i, n, MaxPartitionKeyLen))
			return
		}
		size := len(rec.Data) + len(rec.PartitionKey)
		if size > MaxRecordBytes {
			writeError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("record %d is %d bytes, over the %d byte limit", i, size, MaxRecordBytes))
			return
		}
		total += size
	}
	if total > MaxBytesPerCall {
		writeError(w, http.StatusBadRequest, "InvalidArgumentException", fmt.Sprintf("records total %d bytes, over the %d byte limit per request", total, MaxBytesPerCall))
		return
	}
	if st.status != StatusActive && st.status != StatusUpdating {
		writeError(w, http.StatusBadRequest, "ResourceInUseException", fmt.Sprintf("Stream %s is %s", name, st.status))
		return
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
	writeJSON(w, map[string]any{"FailedRecordCount": failed, "Records": results, "EncryptionType": "KMS"})
}

func (s *Server) describeStreamSummary(w http.ResponseWriter, r *http.Request) {
	var in struct{ StreamName, StreamARN string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	name, st, ok := s.lookup(w, in.StreamName, in.StreamARN)
	if !ok {
		return
	}
	writeJSON(w, map[string]any{"StreamDescriptionSummary": map[string]any{
		"StreamName":              name,
		"StreamARN":               streamARN(name),
		"StreamStatus":            st.status,
		"StreamModeDetails":       map[string]string{"StreamMode": "ON_DEMAND"},
		"RetentionPeriodHours":    24,
		"StreamCreationTimestamp": float64(st.created.Unix()), // awsJson timestamps are epoch seconds
		"EnhancedMonitoring":      []map[string]any{{"ShardLevelMetrics": []string{}}},
		"EncryptionType":          "KMS",
		"KeyId":                   "alias/aws/kinesis",
		"OpenShardCount":          shardCount,
		"ConsumerCount":           0,
	}})
}

// lookup finds the stream named directly or by ARN, answering
// ResourceNotFoundException when it does not exist.
func (s *Server) lookup(w http.ResponseWriter, name, arn string) (string, *stream, bool) {
	if name == "" && arn != "" {
		name = arn[strings.LastIndex(arn, "/")+1:]
	}
	if name == "" {
		writeError(w, http.StatusBadRequest, "ValidationException", "StreamName or StreamARN is required")
		return "", nil, false
	}
	st, ok := s.streams[name]
	if !ok {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", fmt.Sprintf("Stream %s under account %s not found.", name, account))
		return "", nil, false
	}
	return name, st, true
}

func (s *Server) takeCallFault() (callFault, bool) {
	for len(s.callFaults) > 0 {
		f := &s.callFaults[0]
		if f.calls <= 0 {
			s.callFaults = s.callFaults[1:]
			continue
		}
		f.calls--
		return *f, true
	}
	return callFault{}, false
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

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Requestid", "kinesisfake")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-Requestid", "kinesisfake")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
}
