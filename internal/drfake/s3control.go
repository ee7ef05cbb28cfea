package drfake

import (
	"bytes"
	"crypto/md5"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/awsfake"
)

// S3Control fakes the S3 Batch Operations jobs API of one region (restXml,
// POST /v20180820/jobs and GET /v20180820/jobs/{id}) for S3PutObjectCopy
// jobs on the S3 fake's store, following the Amazon S3 API Reference
// (CreateJob, DescribeJob, JobDescriptor, JobManifestSpec) and the S3 User
// Guide ("Tracking job status and completion reports", "Examples: S3
// Batch Operations completion reports"):
//   - CreateJob needs the account header, a ClientRequestToken, one
//     operation, a CSV manifest (S3BatchOperations_CSV_20180820, Fields of
//     Bucket, Key and optionally VersionId; Location with ObjectArn and
//     ETag), a report, a role and a priority. The same token with the same
//     request answers the same JobId; with a different request it is an
//     IdempotencyException.
//   - A job moves New -> Preparing (reads the manifest: a missing object or
//     an ETag that does not match fails the job) -> Ready -> Active ->
//     Completing -> Complete, one step per DescribeJob, copying TasksPerLook
//     tasks per look while Active. More than half of at least 1,000 tasks
//     failed moves it to Failing and then Failed. ConfirmationRequired
//     leaves it Suspended.
//   - A task copies the manifest's object to the same key of the target
//     bucket; a missing source (404 NoSuchKey), an object over 5 GB (400
//     InvalidRequest) or a key FailTask refuses fails it.
//   - At the end it writes the completion report: <prefix>/job-<id>/
//     manifest.json (Format Report_CSV_20180820, Results with the CSV files'
//     keys, ReportSchema) and the CSV files without a header, URL-encoded
//     keys, with the HTTP status before the error code as the documented
//     example rows have them (which is why readers must not trust the
//     column order).
type S3Control struct {
	base
	store   *S3
	clock   *Clock
	account string
	region  string

	mu     sync.Mutex
	jobs   map[string]*batchJob
	tokens map[string]string // token -> job id
	nextID int
	// TasksPerLook is how many tasks an Active job runs per DescribeJob.
	TasksPerLook int
	failTask     func(key string) (status int, code, message string, fail bool)
}

type batchJob struct {
	id, token, fingerprint string
	request                createJobRequest
	status                 string
	created, activeSince   time.Time
	tasks                  []batchTask
	next                   int
	succeeded, failed      int
	failureReasons         [][2]string
}

type batchTask struct {
	bucket, key                string
	status, code, message      string
	httpStatus                 int
	succeeded, done, attempted bool
}

// NewS3Control starts a fake for account in region over store; it stops
// when the test ends.
func NewS3Control(tb testing.TB, store *S3, clock *Clock, account, region string) *S3Control {
	c := &S3Control{store: store, clock: clock, account: account, region: region,
		jobs: map[string]*batchJob{}, tokens: map[string]string{}, TasksPerLook: 100}
	c.url = awsfake.Serve(tb, awsfake.WithBody(c.serve)).URL
	return c
}

// FailTask makes tasks whose key f accepts fail with that HTTP status,
// code and message (e.g. 403 AccessDenied for a role without access).
func (c *S3Control) FailTask(f func(key string) (status int, code, message string, fail bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failTask = f
}

// Jobs is the number of jobs created.
func (c *S3Control) Jobs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.jobs)
}

type createJobRequest struct {
	XMLName              xml.Name `xml:"CreateJobRequest"`
	ClientRequestToken   string   `xml:"ClientRequestToken"`
	ConfirmationRequired bool     `xml:"ConfirmationRequired"`
	Description          string   `xml:"Description"`
	Priority             *int     `xml:"Priority"`
	RoleArn              string   `xml:"RoleArn"`
	Manifest             *struct {
		Spec struct {
			Format string   `xml:"Format"`
			Fields []string `xml:"Fields>member"`
		} `xml:"Spec"`
		Location struct {
			ObjectArn       string `xml:"ObjectArn"`
			ObjectVersionID string `xml:"ObjectVersionId"`
			ETag            string `xml:"ETag"`
		} `xml:"Location"`
	} `xml:"Manifest"`
	Operation struct {
		Inner []struct {
			XMLName        xml.Name
			TargetResource string `xml:"TargetResource"`
		} `xml:",any"`
	} `xml:"Operation"`
	Report *struct {
		Bucket      string `xml:"Bucket"`
		Format      string `xml:"Format"`
		Enabled     bool   `xml:"Enabled"`
		Prefix      string `xml:"Prefix"`
		ReportScope string `xml:"ReportScope"`
	} `xml:"Report"`
}

const jobsPath = "/v20180820/jobs"

func (c *S3Control) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	op := "Unknown"
	switch {
	case r.Method == http.MethodPost && r.URL.Path == jobsPath:
		op = "CreateJob"
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, jobsPath+"/"):
		op = "DescribeJob"
	}
	if f := c.recorder.Record(r, op, body); f != nil {
		writeS3ControlError(w, f.Status, f.Code, f.Message)
		return
	}
	if got := r.Header.Get("X-Amz-Account-Id"); got != c.account {
		writeS3ControlError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf("x-amz-account-id %q is not the caller's account", got))
		return
	}
	switch op {
	case "CreateJob":
		c.createJob(w, body)
	case "DescribeJob":
		c.describeJob(w, strings.TrimPrefix(r.URL.Path, jobsPath+"/"))
	default:
		writeS3ControlError(w, http.StatusBadRequest, "InvalidRequest", "drfake.S3Control does not serve "+r.Method+" "+r.URL.Path)
	}
}

// writeS3ControlError answers S3 Control's error body, S3's wrapped in
// <ErrorResponse> (the SDK reads it "wrapped with the Error tag").
func writeS3ControlError(w http.ResponseWriter, status int, code, message string) {
	writeXML(w, status, struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Error   s3Error
	}{Error: s3Error{Code: code, Message: message}})
}

func (c *S3Control) createJob(w http.ResponseWriter, body []byte) {
	var req createJobRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		writeS3ControlError(w, http.StatusBadRequest, "InvalidRequest", "body is not a CreateJobRequest: "+err.Error())
		return
	}
	if msg := validateCreateJob(req); msg != "" {
		writeS3ControlError(w, http.StatusBadRequest, "InvalidRequest", msg)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fingerprint := string(body)
	if id, ok := c.tokens[req.ClientRequestToken]; ok {
		if c.jobs[id].fingerprint != fingerprint {
			writeS3ControlError(w, http.StatusConflict, "IdempotencyException", "a job with this ClientRequestToken exists with other parameters")
			return
		}
		writeXML(w, http.StatusOK, struct {
			XMLName xml.Name `xml:"CreateJobResult"`
			JobID   string   `xml:"JobId"`
		}{JobID: id})
		return
	}
	c.nextID++
	id := fmt.Sprintf("%08d-aaaa-bbbb-cccc-%012d", c.nextID, c.nextID)
	c.jobs[id] = &batchJob{id: id, token: req.ClientRequestToken, fingerprint: fingerprint, request: req, status: "New", created: c.clock.Now()}
	c.tokens[req.ClientRequestToken] = id
	writeXML(w, http.StatusOK, struct {
		XMLName xml.Name `xml:"CreateJobResult"`
		JobID   string   `xml:"JobId"`
	}{JobID: id})
}

func validateCreateJob(req createJobRequest) string {
	switch {
	case len(req.ClientRequestToken) < 1 || len(req.ClientRequestToken) > 64:
		return "ClientRequestToken must be 1 to 64 characters"
	case req.Priority == nil:
		return "Priority is required"
	case req.RoleArn == "":
		return "RoleArn is required"
	case req.Manifest == nil:
		return "Manifest is required (this fake serves no ManifestGenerator)"
	case req.Manifest.Spec.Format != "S3BatchOperations_CSV_20180820":
		return "Manifest.Spec.Format must be S3BatchOperations_CSV_20180820 here"
	case req.Manifest.Location.ObjectArn == "" || req.Manifest.Location.ETag == "":
		return "Manifest.Location needs ObjectArn and ETag"
	case req.Report == nil:
		return "Report is required"
	case req.Report.Enabled && (req.Report.Bucket == "" || req.Report.Format != "Report_CSV_20180820" || (req.Report.ReportScope != "AllTasks" && req.Report.ReportScope != "FailedTasksOnly")):
		return "an enabled Report needs Bucket, Format Report_CSV_20180820 and ReportScope AllTasks or FailedTasksOnly"
	case len(req.Operation.Inner) != 1:
		return "Operation must name exactly one operation"
	case req.Operation.Inner[0].XMLName.Local != "S3PutObjectCopy":
		return "this fake serves S3PutObjectCopy jobs only, not " + req.Operation.Inner[0].XMLName.Local
	case !strings.HasPrefix(req.Operation.Inner[0].TargetResource, "arn:aws:s3:::"):
		return "S3PutObjectCopy.TargetResource must be a bucket ARN"
	}
	fields := map[string]bool{}
	for _, f := range req.Manifest.Spec.Fields {
		if f != "Ignore" && f != "Bucket" && f != "Key" && f != "VersionId" {
			return "Manifest.Spec.Fields: " + f + " is not one of Ignore, Bucket, Key, VersionId"
		}
		fields[f] = true
	}
	if !fields["Bucket"] || !fields["Key"] {
		return "Manifest.Spec.Fields must name Bucket and Key"
	}
	return ""
}

func (c *S3Control) describeJob(w http.ResponseWriter, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	job, ok := c.jobs[id]
	if !ok {
		writeS3ControlError(w, http.StatusNotFound, "NoSuchJob", "The specified job does not exist")
		return
	}
	c.advance(job)
	type failure struct {
		Code   string `xml:"FailureCode"`
		Reason string `xml:"FailureReason"`
	}
	type descriptor struct {
		JobID          string    `xml:"JobId"`
		JobArn         string    `xml:"JobArn"`
		Status         string    `xml:"Status"`
		CreationTime   string    `xml:"CreationTime"`
		Priority       int       `xml:"Priority"`
		RoleArn        string    `xml:"RoleArn"`
		FailureReasons []failure `xml:"FailureReasons>member,omitempty"`
		Total          *int      `xml:"ProgressSummary>TotalNumberOfTasks,omitempty"`
		Succeeded      int       `xml:"ProgressSummary>NumberOfTasksSucceeded"`
		Failed         int       `xml:"ProgressSummary>NumberOfTasksFailed"`
		Elapsed        int64     `xml:"ProgressSummary>Timers>ElapsedTimeInActiveSeconds"`
	}
	d := descriptor{JobID: job.id, JobArn: fmt.Sprintf("arn:aws:s3:%s:%s:job/%s", c.region, c.account, job.id), Status: job.status,
		CreationTime: job.created.UTC().Format(time.RFC3339), Priority: *job.request.Priority, RoleArn: job.request.RoleArn,
		Succeeded: job.succeeded, Failed: job.failed}
	if job.status != "New" && job.status != "Preparing" {
		total := len(job.tasks)
		d.Total = &total
	}
	if !job.activeSince.IsZero() {
		d.Elapsed = int64(c.clock.Now().Sub(job.activeSince).Seconds())
	}
	for _, f := range job.failureReasons {
		d.FailureReasons = append(d.FailureReasons, failure{f[0], f[1]})
	}
	writeXML(w, http.StatusOK, struct {
		XMLName xml.Name   `xml:"DescribeJobResult"`
		Job     descriptor `xml:"Job"`
	}{Job: d})
}

// advance moves a job one step; the caller holds mu.
func (c *S3Control) advance(job *batchJob) {
	switch job.status {
	case "New":
		job.status = "Preparing"
	case "Preparing":
		if err := c.readManifest(job); err != "" {
			job.status = "Failed"
			job.failureReasons = append(job.failureReasons, [2]string{"ManifestReadFailure", err})
			return
		}
		job.status = "Ready"
		if job.request.ConfirmationRequired {
			job.status = "Suspended"
		}
	case "Ready":
		job.status, job.activeSince = "Active", c.clock.Now()
	case "Active":
		for n := 0; n < c.TasksPerLook && job.next < len(job.tasks); n++ {
			c.run(job, &job.tasks[job.next])
			job.next++
		}
		attempted := job.succeeded + job.failed
		switch {
		case attempted >= 1000 && 2*job.failed > attempted:
			job.status = "Failing"
			job.failureReasons = append(job.failureReasons, [2]string{"TaskFailureThresholdExceeded", fmt.Sprintf("%d of %d tasks failed", job.failed, attempted)})
		case job.next == len(job.tasks):
			job.status = "Completing"
		}
	case "Failing":
		job.status = "Failed"
		c.writeReport(job)
	case "Completing":
		job.status = "Complete"
		c.writeReport(job)
	}
}

func (c *S3Control) readManifest(job *batchJob) string {
	loc := job.request.Manifest.Location
	bucket, key, ok := strings.Cut(strings.TrimPrefix(loc.ObjectArn, "arn:aws:s3:::"), "/")
	if !ok {
		return "manifest ObjectArn is not an object ARN: " + loc.ObjectArn
	}
	obj, err := c.store.backend.GetObject(bucket, key, nil)
	if err != nil {
		return fmt.Sprintf("reading the manifest %s failed: %v", loc.ObjectArn, err)
	}
	body, _ := io.ReadAll(obj.Contents)
	_ = obj.Contents.Close()
	if strings.Trim(loc.ETag, `"`) != hex.EncodeToString(obj.Hash) {
		return "the manifest's ETag does not match " + loc.ETag
	}
	fields := job.request.Manifest.Spec.Fields
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		return "the manifest is not CSV: " + err.Error()
	}
	for i, row := range rows {
		if len(row) != len(fields) {
			return fmt.Sprintf("manifest line %d has %d fields, the spec %d", i+1, len(row), len(fields))
		}
		var t batchTask
		for j, f := range fields {
			switch f {
			case "Bucket":
				t.bucket = row[j]
			case "Key":
				k, err := url.QueryUnescape(row[j])
				if err != nil {
					return fmt.Sprintf("manifest line %d: key is not URL-encoded: %v", i+1, err)
				}
				t.key = k
			}
		}
		job.tasks = append(job.tasks, t)
	}
	return ""
}

// maxCopySize is the largest object S3PutObjectCopy copies ("Copy objects",
// S3 User Guide: objects up to 5 GB).
const maxCopySize = 5 << 30

func (c *S3Control) run(job *batchJob, t *batchTask) {
	t.attempted = true
	target := strings.TrimPrefix(job.request.Operation.Inner[0].TargetResource, "arn:aws:s3:::")
	fail := func(status int, code, message string) {
		t.status, t.httpStatus, t.code, t.message = "failed", status, code, message
		job.failed++
	}
	if c.failTask != nil {
		if status, code, message, bad := c.failTask(t.key); bad {
			fail(status, code, message)
			return
		}
	}
	obj, err := c.store.backend.GetObject(t.bucket, t.key, nil)
	if err != nil {
		fail(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	defer func() { _ = obj.Contents.Close() }()
	if obj.Size > maxCopySize {
		fail(http.StatusBadRequest, "InvalidRequest", "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
		return
	}
	if _, err := c.store.backend.PutObject(target, t.key, obj.Metadata, obj.Contents, obj.Size, nil); err != nil {
		fail(http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	t.status, t.httpStatus, t.succeeded = "succeeded", http.StatusOK, true
	job.succeeded++
}

// writeReport writes the completion report; the caller holds mu.
func (c *S3Control) writeReport(job *batchJob) {
	report := job.request.Report
	if !report.Enabled {
		return
	}
	bucket := strings.TrimPrefix(report.Bucket, "arn:aws:s3:::")
	dir := strings.TrimSuffix(report.Prefix, "/") + "/job-" + job.id
	type result struct {
		TaskExecutionStatus, Bucket, MD5Checksum, Key string
	}
	manifest := struct {
		Format, ReportCreationDate string
		Results                    []result
		ReportSchema               string
	}{Format: "Report_CSV_20180820", ReportCreationDate: c.clock.Now().UTC().Format(time.RFC3339), Results: []result{},
		ReportSchema: "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"}
	for _, status := range []string{"succeeded", "failed"} {
		if status == "succeeded" && report.ReportScope == "FailedTasksOnly" {
			continue
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		for _, t := range job.tasks {
			if t.attempted && t.status == status {
				_ = w.Write([]string{t.bucket, url.QueryEscape(t.key), "", t.status, fmt.Sprint(t.httpStatus), t.code, t.message})
			}
		}
		w.Flush()
		if b.Len() == 0 {
			continue
		}
		sum := md5.Sum(b.Bytes())
		key := dir + "/results/" + hex.EncodeToString(sum[:]) + ".csv"
		c.put(bucket, key, b.Bytes())
		manifest.Results = append(manifest.Results, result{status, bucket, hex.EncodeToString(sum[:]), key})
	}
	body, _ := json.Marshal(manifest)
	c.put(bucket, dir+"/manifest.json", body)
}

func (c *S3Control) put(bucket, key string, body []byte) {
	_, _ = c.store.backend.PutObject(bucket, key, map[string]string{"Content-Type": "text/csv"}, bytes.NewReader(body), int64(len(body)), nil)
}
