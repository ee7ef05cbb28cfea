package drfake

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// ReplicationRule is one S3 replication rule as GetBucketReplication
// returns it.
type ReplicationRule struct {
	ID string
	// Enabled is the rule's Status.
	Enabled bool
	// DestinationBucket is the replica's name (the answer carries its ARN).
	DestinationBucket string
	// RTC is Replication Time Control; Metrics the replication metrics.
	RTC, Metrics bool
}

// S3 is gofakes3 (in-memory) behind a front that adds what gofakes3 lacks
// and what tests need: GetBucketReplication, UploadPartCopy (served from
// the same store, so multipart copies are real), injected faults per
// operation, per-operation call counts, a settable clock for LastModified,
// and extra endpoints that can be closed to cut a client off mid-run.
type S3 struct {
	base
	backend *s3mem.Backend
	fake    http.Handler
	clock   *Clock

	mu          sync.Mutex
	replication map[string][]ReplicationRule
	afterServe  func(op string)
	latency     time.Duration
}

// Clock is a settable time source.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since is Now minus t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// NewS3 starts a fake whose objects get LastModified from clock; it stops
// when the test ends. Buckets are created with CreateBucket; clients must
// address them path-style.
func NewS3(tb testing.TB, clock *Clock) *S3 {
	backend := s3mem.New(s3mem.WithTimeSource(clock))
	s := &S3{
		backend:     backend,
		fake:        gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server(),
		clock:       clock,
		replication: map[string][]ReplicationRule{},
	}
	s.url = awsfake.Serve(tb, s).URL
	return s
}

// Endpoint starts another endpoint onto the same store. close shuts it and
// waits until every request it accepted has been served, so a test can cut
// a client off and know exactly what reached the store.
func (s *S3) Endpoint(tb testing.TB) (endpoint string, close func()) {
	srv := awsfake.Serve(tb, s)
	return srv.URL, srv.Close
}

// CreateBucket creates an empty bucket.
func (s *S3) CreateBucket(tb testing.TB, name string) {
	tb.Helper()
	if err := s.backend.CreateBucket(name); err != nil {
		tb.Fatalf("drfake: create bucket %s: %v", name, err)
	}
}

// PutObject stores an object directly, without a request.
func (s *S3) PutObject(tb testing.TB, bucket, key string, body []byte) {
	tb.Helper()
	if _, err := s.backend.PutObject(bucket, key, map[string]string{"Content-Type": "application/octet-stream"}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		tb.Fatalf("drfake: put %s/%s: %v", bucket, key, err)
	}
}

// ObjectInfo is what the store holds for a key.
type ObjectInfo struct {
	Size         int64
	ETag         string
	LastModified time.Time
	Body         []byte
}

// Objects returns every object in a bucket by key.
func (s *S3) Objects(tb testing.TB, bucket string) map[string]ObjectInfo {
	tb.Helper()
	list, err := s.backend.ListBucket(bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		tb.Fatalf("drfake: list %s: %v", bucket, err)
	}
	out := map[string]ObjectInfo{}
	for _, c := range list.Contents {
		obj, err := s.backend.GetObject(bucket, c.Key, nil)
		if err != nil {
			tb.Fatalf("drfake: get %s/%s: %v", bucket, c.Key, err)
		}
		body, err := io.ReadAll(obj.Contents)
		_ = obj.Contents.Close()
		if err != nil {
			tb.Fatalf("drfake: read %s/%s: %v", bucket, c.Key, err)
		}
		out[c.Key] = ObjectInfo{Size: c.Size, ETag: c.ETag, LastModified: time.Time(c.LastModified.Time), Body: body}
	}
	return out
}

// SetReplication sets the bucket's replication rules; none removes the
// configuration.
func (s *S3) SetReplication(bucket string, rules ...ReplicationRule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(rules) == 0 {
		delete(s.replication, bucket)
		return
	}
	s.replication[bucket] = rules
}

// SetLatency makes every request wait d before it is served, like the
// tens of milliseconds a real S3 request takes (benchmarks: a zero-latency
// server measures the CPU, not the design).
func (s *S3) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// AfterServe registers f, called with the operation name after each
// request has been fully served (success or error).
func (s *S3) AfterServe(f func(op string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterServe = f
}

// ServeHTTP routes a request: the front's own operations and faults first,
// gofakes3 for the rest.
func (s *S3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := s3Operation(r)
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	time.Sleep(latency)
	defer func() {
		s.mu.Lock()
		after := s.afterServe
		s.mu.Unlock()
		if after != nil {
			after(op)
		}
	}()
	// The body is left to gofakes3, which streams it into the store.
	if f := s.recorder.Record(r, op, nil); f != nil {
		writeS3Error(w, f.Status, f.Code, f.Message)
		return
	}
	switch op {
	case "GetBucketReplication":
		s.getBucketReplication(w, r)
	case "UploadPartCopy":
		s.uploadPartCopy(w, r)
	default:
		s.fake.ServeHTTP(w, r)
	}
}

// s3Operation names a path-style request the way the S3 API does.
func s3Operation(r *http.Request) string {
	q := r.URL.Query()
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	_, hasUploadID := q["uploadId"]
	copySource := r.Header.Get("X-Amz-Copy-Source") != ""
	switch {
	case bucket == "":
		return "ListBuckets"
	case key == "":
		switch {
		case r.Method == http.MethodGet && q.Has("replication"):
			return "GetBucketReplication"
		case r.Method == http.MethodGet && q.Get("list-type") == "2":
			return "ListObjectsV2"
		case r.Method == http.MethodGet:
			return "ListObjects"
		case r.Method == http.MethodPut:
			return "CreateBucket"
		case r.Method == http.MethodHead:
			return "HeadBucket"
		}
		return "Bucket" + r.Method
	}
	switch r.Method {
	case http.MethodGet:
		return "GetObject"
	case http.MethodHead:
		return "HeadObject"
	case http.MethodPut:
		switch {
		case hasUploadID && copySource:
			return "UploadPartCopy"
		case hasUploadID:
			return "UploadPart"
		case copySource:
			return "CopyObject"
		}
		return "PutObject"
	case http.MethodPost:
		if q.Has("uploads") {
			return "CreateMultipartUpload"
		}
		if hasUploadID {
			return "CompleteMultipartUpload"
		}
	case http.MethodDelete:
		if hasUploadID {
			return "AbortMultipartUpload"
		}
		return "DeleteObject"
	}
	return "Object" + r.Method
}

// s3Error is S3's error body, <Error><Code/><Message/><RequestId/></Error>.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
}

func writeS3Error(w http.ResponseWriter, status int, code, message string) {
	writeXML(w, status, s3Error{Code: code, Message: message, RequestID: "drfake"})
}

func (s *S3) getBucketReplication(w http.ResponseWriter, r *http.Request) {
	bucket := strings.Trim(r.URL.Path, "/")
	s.mu.Lock()
	rules := s.replication[bucket]
	s.mu.Unlock()
	if len(rules) == 0 {
		writeS3Error(w, http.StatusNotFound, "ReplicationConfigurationNotFoundError", "The replication configuration was not found")
		return
	}
	type status struct {
		Status string `xml:"Status"`
	}
	type minutes struct {
		Minutes int `xml:"Minutes"`
	}
	type replicationTime struct {
		Status string  `xml:"Status"`
		Time   minutes `xml:"Time"`
	}
	type metrics struct {
		Status         string  `xml:"Status"`
		EventThreshold minutes `xml:"EventThreshold"`
	}
	type destination struct {
		Bucket          string          `xml:"Bucket"`
		ReplicationTime replicationTime `xml:"ReplicationTime"`
		Metrics         metrics         `xml:"Metrics"`
	}
	type rule struct {
		ID                      string      `xml:"ID"`
		Priority                int         `xml:"Priority"`
		Status                  string      `xml:"Status"`
		FilterPrefix            string      `xml:"Filter>Prefix"`
		DeleteMarkerReplication status      `xml:"DeleteMarkerReplication"`
		Destination             destination `xml:"Destination"`
	}
	type configuration struct {
		XMLName xml.Name `xml:"ReplicationConfiguration"`
		Role    string   `xml:"Role"`
		Rules   []rule   `xml:"Rule"`
	}
	enabled := func(b bool) string {
		if b {
			return "Enabled"
		}
		return "Disabled"
	}
	out := configuration{Role: "arn:aws:iam::123456789012:role/replication"}
	for i, rr := range rules {
		out.Rules = append(out.Rules, rule{
			ID: rr.ID, Priority: i + 1, Status: enabled(rr.Enabled),
			DeleteMarkerReplication: status{Status: "Disabled"},
			Destination: destination{
				Bucket:          "arn:aws:s3:::" + rr.DestinationBucket,
				ReplicationTime: replicationTime{Status: enabled(rr.RTC), Time: minutes{Minutes: 15}},
				Metrics:         metrics{Status: enabled(rr.Metrics), EventThreshold: minutes{Minutes: 15}},
			},
		})
	}
	writeXML(w, http.StatusOK, out)
}

// uploadPartCopy reads the source range from the store and uploads it as
// the part through gofakes3, so the completed object is assembled by the
// same code as an ordinary multipart upload.
func (s *S3) uploadPartCopy(w http.ResponseWriter, r *http.Request) {
	source, err := url.PathUnescape(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		writeS3Error(w, http.StatusBadRequest, "InvalidArgument", "x-amz-copy-source is not URL-encoded")
		return
	}
	source, _, _ = strings.Cut(strings.TrimPrefix(source, "/"), "?")
	srcBucket, srcKey, ok := strings.Cut(source, "/")
	if !ok {
		writeS3Error(w, http.StatusBadRequest, "InvalidArgument", "x-amz-copy-source must be bucket/key")
		return
	}
	var rng *gofakes3.ObjectRangeRequest
	if spec := r.Header.Get("X-Amz-Copy-Source-Range"); spec != "" {
		from, to, ok := strings.Cut(strings.TrimPrefix(spec, "bytes="), "-")
		start, err1 := strconv.ParseInt(from, 10, 64)
		end, err2 := strconv.ParseInt(to, 10, 64)
		if !ok || err1 != nil || err2 != nil || start > end {
			writeS3Error(w, http.StatusBadRequest, "InvalidArgument", "x-amz-copy-source-range must be bytes=first-last")
			return
		}
		rng = &gofakes3.ObjectRangeRequest{Start: start, End: end}
	}
	obj, err := s.backend.GetObject(srcBucket, srcKey, rng)
	if err != nil {
		writeS3Error(w, http.StatusNotFound, "NoSuchKey", err.Error())
		return
	}
	part, err := io.ReadAll(obj.Contents)
	_ = obj.Contents.Close()
	if err != nil {
		writeS3Error(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	put := httptest.NewRequest(http.MethodPut, r.URL.String(), bytes.NewReader(part))
	put.Header.Set("Content-Length", strconv.Itoa(len(part)))
	rec := httptest.NewRecorder()
	s.fake.ServeHTTP(rec, put)
	if rec.Code != http.StatusOK {
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	type copyPartResult struct {
		XMLName      xml.Name `xml:"CopyPartResult"`
		ETag         string   `xml:"ETag"`
		LastModified string   `xml:"LastModified"`
	}
	writeXML(w, http.StatusOK, copyPartResult{ETag: rec.Header().Get("ETag"), LastModified: s.clock.Now().UTC().Format(time.RFC3339)})
}

// String describes the fake for failure messages.
func (s *S3) String() string { return fmt.Sprintf("drfake.S3(%s)", s.url) }
