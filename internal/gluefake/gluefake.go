// Package gluefake is an in-memory AWS Glue Data Catalog served on loopback
// for tests. It speaks Glue's wire protocol exactly as aws-sdk-go-v2 sends it
// (awsJson1_1: POST /, X-Amz-Target: AWSGlue.<Operation>, SigV4-signed, errors
// as {"__type": ...}), enforces the catalog rules that callers depend on (a
// partition's values match the table's keys, at most 100 partitions per
// BatchCreatePartition, existing partitions answer AlreadyExistsException),
// records every request so tests can assert the exact calls, and fails calls
// or single entries on demand so retry paths run without AWS. It is test
// support only.
//
// Served operations: GetTable, GetPartition, GetPartitions (paginated),
// BatchGetPartition, CreatePartition, BatchCreatePartition.
package gluefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// Limits that real Glue enforces.
const (
	// MaxBatchCreatePartitions is the most partitions one BatchCreatePartition may carry.
	MaxBatchCreatePartitions = 100
	// MaxBatchGetPartitions is the most partitions one BatchGetPartition may ask for.
	MaxBatchGetPartitions = 1000
	// MaxGetPartitionsPage is the largest page GetPartitions returns.
	MaxGetPartitionsPage = 1000
)

// Region is the region Client is configured for; the fake itself ignores regions.
const Region = "us-east-1"

// Epoch is the creation time the fake reports for every table and partition.
var Epoch = time.Unix(1764064800, 0).UTC()

// Request is one request the fake received: its operation (e.g.
// "BatchCreatePartition") and its JSON body as the SDK sent it. Decode
// unmarshals the body, e.g. into a *glue.BatchCreatePartitionInput (Glue's
// JSON member names are the SDK's Go field names).
type Request = awsfake.Call

// Server is a running fake catalog. All methods are safe for concurrent use.
type Server struct {
	http     *httptest.Server
	recorder awsfake.Recorder

	mu          sync.Mutex
	databases   map[string]map[string]*table
	entryFaults []entryFault
}

type table struct {
	name          string
	partitionKeys []types.Column
	sd            map[string]any
	partitions    map[string]*partition // by partitionID(values)
}

type partition struct {
	values     []string
	sd         map[string]any
	parameters map[string]string
}

type entryFault struct {
	code  string
	left  int
	match func(values []string) bool
}

// New starts a fake catalog on a loopback port; it stops when the test ends.
func New(tb testing.TB) *Server {
	s := &Server{databases: map[string]map[string]*table{}}
	s.http = awsfake.Serve(tb, &awsfake.JSONRPC{
		Service:      "gluefake",
		TargetPrefix: "AWSGlue.",
		ContentType:  "application/x-amz-json-1.1",
		Recorder:     &s.recorder,
		Lock:         &s.mu,
		Operations: map[string]awsfake.Operation{
			"GetTable":             s.getTable,
			"GetPartition":         s.getPartition,
			"GetPartitions":        s.getPartitions,
			"BatchGetPartition":    s.batchGetPartition,
			"CreatePartition":      s.createPartition,
			"BatchCreatePartition": s.batchCreatePartition,
		},
	})
	return s
}

// URL is the endpoint to give an SDK client as BaseEndpoint.
func (s *Server) URL() string { return s.http.URL }

// Client is a Glue client pointed at the fake with static credentials and no
// SDK retries, so every injected fault reaches the caller exactly once;
// optFns run after those defaults (pass a Retryer to test SDK retries).
func (s *Server) Client(optFns ...func(*glue.Options)) *glue.Client {
	return glue.New(glue.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "fake-secret", ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   &http.Client{Transport: memoryBodies{s.http.Client().Transport}},
	}, optFns...)
}

// memoryBodies sends each request body from a copy in memory. The SDK wraps
// a body in a reader whose WriteTo answers io.EOF once the SDK has closed
// it, and it closes it as soon as the response headers arrive. net/http
// flushes the headers of a body it does not know to be in memory, writes
// the body, and then reads once more to check for extra bytes: when a
// loopback server answers in between, that last read fails, net/http closes
// the connection and the SDK, still reading a large response, fails with
// "use of closed network connection". A body net/http knows to be in memory
// is never closed under it.
type memoryBodies struct{ next http.RoundTripper }

func (m memoryBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return m.next.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("gluefake: read request body: %w", err)
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return m.next.RoundTrip(r)
}

// AddTable creates (or replaces, dropping its partitions) a table partitioned
// by keys (each of type string) with the given storage descriptor. The
// database is created on first use.
func (s *Server) AddTable(database, name string, keys []string, sd types.StorageDescriptor) {
	cols := make([]types.Column, len(keys))
	for i, k := range keys {
		cols[i] = types.Column{Name: aws.String(k), Type: aws.String("string")}
	}
	wire, err := toWire(sd)
	if err != nil {
		panic(fmt.Sprintf("gluefake: storage descriptor of %s.%s: %v", database, name, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.databases[database] == nil {
		s.databases[database] = map[string]*table{}
	}
	s.databases[database][name] = &table{name: name, partitionKeys: cols, sd: wire, partitions: map[string]*partition{}}
}

// Requests returns a copy of every request received so far, in arrival order,
// including those answered with an injected fault.
func (s *Server) Requests() []Request { return s.recorder.Calls() }

// Calls counts the requests received for an operation, e.g. "GetTable".
func (s *Server) Calls(op string) int { return len(s.recorder.CallsTo(op)) }

// PartitionValues lists the values of every partition of a table, sorted.
func (s *Server) PartitionValues(database, name string) [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.databases[database][name]
	if t == nil {
		return nil
	}
	var out [][]string
	for _, p := range t.sorted() {
		out = append(out, slices.Clone(p.values))
	}
	return out
}

// FailCalls makes the next n calls of op ("" for any operation) answer with an
// HTTP status and error code, e.g. 400 "ThrottlingException" or 500
// "InternalServiceException", without touching the catalog. Faults apply in
// the order they were added.
func (s *Server) FailCalls(op string, n, status int, code string) {
	if n <= 0 {
		return
	}
	if op == "" {
		op = awsfake.AnyOp
	}
	s.recorder.Inject(op, awsfake.Fault{Status: status, Code: code, Message: "injected fault", Times: n})
}

// Throttle makes the next n calls of op answer 400 ThrottlingException.
func (s *Server) Throttle(op string, n int) {
	s.FailCalls(op, n, http.StatusBadRequest, "ThrottlingException")
}

// FailEntries makes the next n BatchCreatePartition entries whose values
// satisfy match (nil matches every entry) come back in the response's Errors
// with code, e.g. "ThrottlingException" or "InternalServiceException", and
// not be created. The call itself succeeds.
func (s *Server) FailEntries(code string, n int, match func(values []string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entryFaults = append(s.entryFaults, entryFault{code: code, left: n, match: match})
}

func (s *Server) takeEntryFault(values []string) (string, bool) {
	for i := range s.entryFaults {
		f := &s.entryFaults[i]
		if f.left > 0 && (f.match == nil || f.match(values)) {
			f.left--
			return f.code, true
		}
	}
	return "", false
}

func invalidInput(format string, args ...any) *awsfake.APIError {
	return awsfake.Errorf("InvalidInputException", format, args...)
}

func notFound(format string, args ...any) *awsfake.APIError {
	return awsfake.Errorf("EntityNotFoundException", format, args...)
}

// tableRef names a table in a request.
type tableRef struct {
	DatabaseName string
	TableName    string
	Name         string // GetTable names the table "Name"
}

func (s *Server) lookup(database, name string) (*table, *awsfake.APIError) {
	tables, ok := s.databases[database]
	if !ok {
		return nil, notFound("Database %s not found.", database)
	}
	t, ok := tables[name]
	if !ok {
		return nil, notFound("Table %s not found.", name)
	}
	return t, nil
}

func (s *Server) getTable(body []byte) (any, *awsfake.APIError) {
	var in tableRef
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, invalidInput("decode GetTable: %v", err)
	}
	t, apiErr := s.lookup(in.DatabaseName, in.Name)
	if apiErr != nil {
		return nil, apiErr
	}
	return map[string]any{"Table": map[string]any{
		"Name":              t.name,
		"DatabaseName":      in.DatabaseName,
		"TableType":         "EXTERNAL_TABLE",
		"CreateTime":        awsfake.EpochSeconds(Epoch),
		"PartitionKeys":     t.partitionKeys,
		"StorageDescriptor": t.sd,
	}}, nil
}

func (s *Server) getPartition(body []byte) (any, *awsfake.APIError) {
	var in struct {
		tableRef
		PartitionValues []string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, invalidInput("decode GetPartition: %v", err)
	}
	t, apiErr := s.lookup(in.DatabaseName, in.TableName)
	if apiErr != nil {
		return nil, apiErr
	}
	p, ok := t.partitions[partitionID(in.PartitionValues)]
	if !ok {
		return nil, notFound("Cannot find partition.")
	}
	return map[string]any{"Partition": s.partitionJSON(in.DatabaseName, t, p, false)}, nil
}

func (s *Server) getPartitions(body []byte) (any, *awsfake.APIError) {
	var in struct {
		tableRef
		Expression          string
		Segment             any
		NextToken           string
		MaxResults          int
		ExcludeColumnSchema bool
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, invalidInput("decode GetPartitions: %v", err)
	}
	// Refusing what the fake does not evaluate keeps a test from passing on an ignored filter.
	if in.Expression != "" || in.Segment != nil {
		return nil, invalidInput("gluefake does not evaluate Expression or Segment")
	}
	t, apiErr := s.lookup(in.DatabaseName, in.TableName)
	if apiErr != nil {
		return nil, apiErr
	}
	size := in.MaxResults
	if size <= 0 || size > MaxGetPartitionsPage {
		size = MaxGetPartitionsPage
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(in.NextToken, "gluefake-"))
		if err != nil || n < 0 {
			return nil, invalidInput("invalid NextToken %q", in.NextToken)
		}
		start = n
	}
	all := t.sorted()
	start = min(start, len(all))
	end := min(start+size, len(all))
	page := make([]any, 0, end-start)
	for _, p := range all[start:end] {
		page = append(page, s.partitionJSON(in.DatabaseName, t, p, in.ExcludeColumnSchema))
	}
	out := map[string]any{"Partitions": page}
	if end < len(all) {
		out["NextToken"] = "gluefake-" + strconv.Itoa(end)
	}
	return out, nil
}

func (s *Server) batchGetPartition(body []byte) (any, *awsfake.APIError) {
	var in struct {
		tableRef
		PartitionsToGet []struct{ Values []string }
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, invalidInput("decode BatchGetPartition: %v", err)
	}
	if n := len(in.PartitionsToGet); n > MaxBatchGetPartitions {
		return nil, invalidInput("PartitionsToGet has %d entries, at most %d allowed", n, MaxBatchGetPartitions)
	}
	t, apiErr := s.lookup(in.DatabaseName, in.TableName)
	if apiErr != nil {
		return nil, apiErr
	}
	found := []any{}
	for _, want := range in.PartitionsToGet {
		if p, ok := t.partitions[partitionID(want.Values)]; ok {
			found = append(found, s.partitionJSON(in.DatabaseName, t, p, false))
		}
	}
	return map[string]any{"Partitions": found, "UnprocessedKeys": []any{}}, nil
}

type partitionInput struct {
	Values            []string
	StorageDescriptor map[string]any
	Parameters        map[string]string
}

func (s *Server) createPartition(body []byte) (any, *awsfake.APIError) {
	var in struct {
		tableRef
		PartitionInput partitionInput
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, invalidInput("decode CreatePartition: %v", err)
	}
	t, apiErr := s.lookup(in.DatabaseName, in.TableName)
	if apiErr != nil {
		return nil, apiErr
	}
	if e := t.add(in.PartitionInput); e != nil {
		return nil, awsfake.Errorf(e.ErrorCode, "%s", e.ErrorMessage)
	}
	return map[string]any{}, nil
}

type errorDetail struct{ ErrorCode, ErrorMessage string }

func (s *Server) batchCreatePartition(body []byte) (any, *awsfake.APIError) {
	var in struct {
		tableRef
		PartitionInputList []partitionInput
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, invalidInput("decode BatchCreatePartition: %v", err)
	}
	if n := len(in.PartitionInputList); n > MaxBatchCreatePartitions {
		return nil, awsfake.Errorf("ValidationException",
			"1 validation error detected: Value at 'partitionInputList' failed to satisfy constraint: Member must have length less than or equal to %d (got %d)",
			MaxBatchCreatePartitions, n)
	}
	t, apiErr := s.lookup(in.DatabaseName, in.TableName)
	if apiErr != nil {
		return nil, apiErr
	}
	type entryError struct {
		PartitionValues []string
		ErrorDetail     errorDetail
	}
	errs := []entryError{}
	for _, p := range in.PartitionInputList {
		if code, ok := s.takeEntryFault(p.Values); ok {
			errs = append(errs, entryError{p.Values, errorDetail{code, "injected fault"}})
			continue
		}
		if e := t.add(p); e != nil {
			errs = append(errs, entryError{p.Values, *e})
		}
	}
	out := map[string]any{}
	if len(errs) > 0 {
		out["Errors"] = errs
	}
	return out, nil
}

// add stores a partition unless the catalog refuses it.
func (t *table) add(in partitionInput) *errorDetail {
	if len(in.Values) != len(t.partitionKeys) {
		return &errorDetail{"InvalidInputException", fmt.Sprintf(
			"The number of partition keys do not match the number of partition values: table %s has %d keys, got %d values",
			t.name, len(t.partitionKeys), len(in.Values))}
	}
	id := partitionID(in.Values)
	if _, exists := t.partitions[id]; exists {
		return &errorDetail{"AlreadyExistsException", "Partition already exists."}
	}
	t.partitions[id] = &partition{values: slices.Clone(in.Values), sd: in.StorageDescriptor, parameters: in.Parameters}
	return nil
}

func (t *table) sorted() []*partition {
	ids := make([]string, 0, len(t.partitions))
	for id := range t.partitions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]*partition, len(ids))
	for i, id := range ids {
		out[i] = t.partitions[id]
	}
	return out
}

func (s *Server) partitionJSON(database string, t *table, p *partition, excludeColumns bool) map[string]any {
	out := map[string]any{
		"Values":       p.values,
		"DatabaseName": database,
		"TableName":    t.name,
		"CreationTime": awsfake.EpochSeconds(Epoch),
	}
	if p.sd != nil {
		sd := p.sd
		if excludeColumns {
			sd = map[string]any{}
			for k, v := range p.sd {
				if k != "Columns" {
					sd[k] = v
				}
			}
		}
		out["StorageDescriptor"] = sd
	}
	if p.parameters != nil {
		out["Parameters"] = p.parameters
	}
	return out
}

// partitionID keys a partition by its values; NUL cannot appear in a value
// that arrived as JSON text from a well-behaved client.
func partitionID(values []string) string { return strings.Join(values, "\x00") }

// toWire converts an SDK shape to Glue's JSON: the SDK's Go field names are
// the wire member names; unset (nil) members are left out as the SDK does.
func toWire(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	pruneNulls(m)
	return m, nil
}

func pruneNulls(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if child == nil {
				delete(x, k)
				continue
			}
			pruneNulls(child)
		}
	case []any:
		for _, child := range x {
			pruneNulls(child)
		}
	}
}
