package failback

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3ctypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"

	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/s3copy"
)

// S3ControlAPI is what a batch copy calls in the primary region;
// *s3control.Client satisfies it.
type S3ControlAPI interface {
	CreateJob(context.Context, *s3control.CreateJobInput, ...func(*s3control.Options)) (*s3control.CreateJobOutput, error)
	DescribeJob(context.Context, *s3control.DescribeJobInput, ...func(*s3control.Options)) (*s3control.DescribeJobOutput, error)
}

// Copy engines (-engine).
const (
	// EngineAuto picks EngineBatch from BatchThreshold objects on, or when
	// an earlier run started a batch copy; EngineLocal otherwise.
	EngineAuto = "auto"
	// EngineLocal copies with CopyObject from this process.
	EngineLocal = "local"
	// EngineBatch copies with S3 Batch Operations (S3PutObjectCopy jobs in
	// the primary region, one per bucket); objects over 5 GB, which
	// S3PutObjectCopy does not copy, and tasks a job failed are copied
	// locally.
	EngineBatch = "batch"
	// DefaultBatchThreshold is the object count from which EngineAuto
	// chooses Batch Operations: about two minutes of the local copier
	// (1,000 objects/s with 32 workers at S3's ~25 ms per copy), beyond
	// which the operator's machine and session become the risk, while a job
	// costs $0.25 plus $1 per million objects (S3 pricing, Batch
	// Operations).
	DefaultBatchThreshold = 100_000
	// maxJobAttempts bounds the jobs one failback creates per bucket after
	// failed or cancelled ones.
	maxJobAttempts = 5
)

// BatchConfig is what a batch copy needs.
type BatchConfig struct {
	// Control is the S3 Control client of the primary region.
	Control S3ControlAPI
	// Account owns the jobs, e.g. "123456789012".
	Account string
	// RoleArn is the jobs' role (naming.FailbackCopyRole, made by
	// PrimaryStack).
	RoleArn string
	// Bucket holds the manifests and reports (the primary region's results
	// bucket, naming.FailbackManifestsPrefix and FailbackReportsPrefix).
	Bucket string
	// RunID names this failback, e.g. the failover time: every run of the
	// same failback computes the same ClientRequestTokens, so a rerun finds
	// the jobs an earlier run created instead of starting new ones.
	RunID string
	// Poll is the interval between DescribeJob calls, e.g. 30s; Sleep
	// waits it.
	Poll  time.Duration
	Sleep func(context.Context, time.Duration) error
}

// JobResult is one batch copy job as failback left it.
type JobResult struct {
	ID, Bucket, Status string
	// covered are the objects of the job's manifest ("bucket/key"): an
	// earlier run's manifest may lack objects this run found.
	covered map[string]bool
	// Resumed: an earlier run created the job; this run followed it.
	Resumed                  bool
	Total, Succeeded, Failed int64
	// Active is how long the job ran (ElapsedTimeInActiveSeconds).
	Active time.Duration
	// FailedTasks from the completion report ("s3://bucket/key: reason").
	FailedTasks []string
}

// chooseEngine picks the engine for n objects to copy.
func chooseEngine(ctx context.Context, in CopyInput, n int) (engine, why string) {
	switch in.Engine {
	case EngineLocal, EngineBatch:
		return in.Engine, "-engine " + in.Engine
	}
	threshold := in.BatchThreshold
	if threshold <= 0 {
		threshold = DefaultBatchThreshold
	}
	if n >= threshold {
		return EngineBatch, fmt.Sprintf("%d objects to copy, at least the threshold of %d", n, threshold)
	}
	if in.Batch.Control != nil {
		for _, pair := range in.Pairs {
			key := manifestKey(jobToken(in.Batch.RunID, pair.Dest, 1))
			if _, err := in.Dest.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(in.Batch.Bucket), Key: aws.String(key)}); err == nil {
				return EngineBatch, fmt.Sprintf("an earlier run started a batch copy (s3://%s/%s): following it", in.Batch.Bucket, key)
			}
		}
	}
	return EngineLocal, fmt.Sprintf("%d objects to copy, below the threshold of %d", n, threshold)
}

// jobToken is the ClientRequestToken of a bucket's attempt-th job in run.
func jobToken(run, dest string, attempt int) string {
	sum := sha256.Sum256([]byte(run + "\x00" + dest))
	return fmt.Sprintf("failback-%s-%d", hex.EncodeToString(sum[:12]), attempt)
}

func manifestKey(token string) string { return naming.FailbackManifestsPrefix + token + ".csv" }

// copyBatch copies the jobs up to 5 GB of each pair with one S3 Batch
// Operations job per destination bucket and returns what is left for the
// local copier: larger objects and the tasks the jobs failed.
func copyBatch(ctx context.Context, in CopyInput, jobs []copyJob, res *CopyResult) ([]copyJob, error) {
	if in.Batch.Control == nil || in.Batch.RoleArn == "" || in.Batch.Bucket == "" {
		return nil, errors.New("the batch engine needs S3 Control, the copy role and the results bucket")
	}
	var local []copyJob
	byDest := map[string][]copyJob{}
	var order []BucketPair
	for _, j := range jobs {
		if j.obj.size > MaxCopyObjectSize {
			local = append(local, j)
			continue
		}
		if _, ok := byDest[j.pair.Dest]; !ok {
			order = append(order, j.pair)
		}
		byDest[j.pair.Dest] = append(byDest[j.pair.Dest], j)
	}
	for _, pair := range order {
		pending := byDest[pair.Dest]
		job, err := runJob(ctx, in, pair, pending)
		if job.ID != "" {
			res.Jobs = append(res.Jobs, job)
		}
		if err != nil {
			return nil, err
		}
		failed := map[string]bool{}
		for _, t := range job.FailedTasks {
			failed[strings.SplitN(t, ": ", 2)[0]] = true
		}
		for _, j := range pending {
			if failed["s3://"+j.pair.Source+"/"+j.obj.key] || !job.covered[j.pair.Source+"/"+j.obj.key] {
				// A failed task, or an object the (earlier run's) job
				// never had: copied here instead.
				local = append(local, j)
				continue
			}
			res.Copied++
			res.BytesCopied += j.obj.size
			res.InWindow = append(res.InWindow, Object{j.pair.Dest, j.obj.key, j.obj.size})
		}
	}
	return local, nil
}

// runJob creates (or finds) the bucket's job and follows it to its end.
func runJob(ctx context.Context, in CopyInput, pair BucketPair, pending []copyJob) (JobResult, error) {
	for attempt := 1; attempt <= maxJobAttempts; attempt++ {
		token := jobToken(in.Batch.RunID, pair.Dest, attempt)
		etag, earlier, covered, err := manifest(ctx, in, token, pending)
		if err != nil {
			return JobResult{}, err
		}
		out, err := in.Batch.Control.CreateJob(ctx, &s3control.CreateJobInput{
			AccountId:            aws.String(in.Batch.Account),
			ClientRequestToken:   aws.String(token),
			ConfirmationRequired: aws.Bool(false),
			Description:          aws.String("drctl failback: copy what DR wrote back to " + pair.Dest),
			Priority:             aws.Int32(10),
			RoleArn:              aws.String(in.Batch.RoleArn),
			Operation:            &s3ctypes.JobOperation{S3PutObjectCopy: &s3ctypes.S3CopyObjectOperation{TargetResource: aws.String("arn:aws:s3:::" + pair.Dest)}},
			Manifest: &s3ctypes.JobManifest{
				Spec: &s3ctypes.JobManifestSpec{Format: s3ctypes.JobManifestFormatS3BatchOperationsCsv20180820,
					Fields: []s3ctypes.JobManifestFieldName{s3ctypes.JobManifestFieldNameBucket, s3ctypes.JobManifestFieldNameKey}},
				Location: &s3ctypes.JobManifestLocation{ObjectArn: aws.String("arn:aws:s3:::" + in.Batch.Bucket + "/" + manifestKey(token)), ETag: aws.String(etag)},
			},
			// Failed tasks only: succeeded ones are counted by DescribeJob,
			// and a report of every task of 200 million objects is itself
			// 200 million lines.
			Report: &s3ctypes.JobReport{Enabled: true, Bucket: aws.String("arn:aws:s3:::" + in.Batch.Bucket),
				Format: s3ctypes.JobReportFormatReportCsv20180820, Prefix: aws.String(strings.TrimSuffix(naming.FailbackReportsPrefix, "/")),
				ReportScope: s3ctypes.JobReportScopeFailedTasksOnly},
		})
		if err != nil {
			return JobResult{}, fmt.Errorf("create the copy job for %s (token %s): %w", pair.Dest, token, err)
		}
		job := JobResult{ID: aws.ToString(out.JobId), Bucket: pair.Dest, Resumed: earlier, covered: covered}
		err = follow(ctx, in, &job)
		if err != nil {
			return job, err
		}
		switch job.Status {
		case string(s3ctypes.JobStatusComplete):
			return job, readReport(ctx, in, &job)
		case string(s3ctypes.JobStatusFailed), string(s3ctypes.JobStatusCancelled):
			if !job.Resumed {
				_ = readReport(ctx, in, &job)
				return job, fmt.Errorf("copy job %s for %s ended %s after %d of %d tasks (%d failed): %s; fix the cause (the role %s, the manifest), then run failback again: it starts a new job, or use -engine local",
					job.ID, pair.Dest, job.Status, job.Succeeded+job.Failed, job.Total, job.Failed, strings.Join(job.FailedTasks, "; "), in.Batch.RoleArn)
			}
			// An earlier run's job failed: this run starts the next attempt.
		}
	}
	return JobResult{}, fmt.Errorf("copy to %s: %d jobs ended Failed or Cancelled; see their completion reports under s3://%s/%s", pair.Dest, maxJobAttempts, in.Batch.Bucket, naming.FailbackReportsPrefix)
}

// manifest writes the job's CSV manifest (bucket,URL-encoded key), or
// returns the ETag of the one an earlier run wrote (earlier): the same
// token must come with the same request, or S3 refuses it as a different
// job, and the earlier run's job is the one to follow. covered lists the
// manifest's objects ("bucket/key"); an earlier manifest is read back,
// because this run may have found objects it lacks.
func manifest(ctx context.Context, in CopyInput, token string, pending []copyJob) (etag string, earlier bool, covered map[string]bool, err error) {
	key := manifestKey(token)
	covered = map[string]bool{}
	if head, err := in.Dest.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(in.Batch.Bucket), Key: aws.String(key)}); err == nil {
		body, err := getObject(ctx, in.Dest, in.Batch.Bucket, key)
		if err != nil {
			return "", false, nil, fmt.Errorf("read the earlier job manifest: %w", err)
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			return "", false, nil, fmt.Errorf("read the earlier job manifest s3://%s/%s: %w", in.Batch.Bucket, key, err)
		}
		for _, row := range rows {
			if len(row) == 2 {
				if k, err := url.PathUnescape(row[1]); err == nil {
					covered[row[0]+"/"+k] = true
				}
			}
		}
		return aws.ToString(head.ETag), true, covered, nil
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	for _, j := range pending {
		covered[j.pair.Source+"/"+j.obj.key] = true
		if err := w.Write([]string{j.pair.Source, s3copy.EncodeKey(j.obj.key)}); err != nil {
			return "", false, nil, err
		}
	}
	w.Flush()
	put, err := in.Dest.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(in.Batch.Bucket), Key: aws.String(key), Body: bytes.NewReader(b.Bytes()), ContentType: aws.String("text/csv")})
	if err != nil {
		return "", false, nil, fmt.Errorf("write the job manifest s3://%s/%s: %w", in.Batch.Bucket, key, err)
	}
	return aws.ToString(put.ETag), false, covered, nil
}

// follow polls the job until it ends, drawing its progress.
func follow(ctx context.Context, in CopyInput, job *JobResult) error {
	in.Progress.Start("copy job "+job.Bucket, 0, 0)
	defer in.Progress.Done()
	var shown int64
	for {
		out, err := in.Batch.Control.DescribeJob(ctx, &s3control.DescribeJobInput{AccountId: aws.String(in.Batch.Account), JobId: aws.String(job.ID)})
		if err != nil {
			return fmt.Errorf("describe copy job %s: %w", job.ID, err)
		}
		d := out.Job
		job.Status = string(d.Status)
		if p := d.ProgressSummary; p != nil {
			job.Total, job.Succeeded, job.Failed = aws.ToInt64(p.TotalNumberOfTasks), aws.ToInt64(p.NumberOfTasksSucceeded), aws.ToInt64(p.NumberOfTasksFailed)
			if p.Timers != nil {
				job.Active = time.Duration(aws.ToInt64(p.Timers.ElapsedTimeInActiveSeconds)) * time.Second
			}
			if job.Total > 0 && shown == 0 {
				in.Progress.Start("copy job "+job.Bucket, job.Total, 0)
			}
			in.Progress.Add(job.Succeeded+job.Failed-shown, 0)
			shown = job.Succeeded + job.Failed
		}
		for _, f := range d.FailureReasons {
			job.FailedTasks = append(job.FailedTasks, fmt.Sprintf("job: %s: %s", aws.ToString(f.FailureCode), aws.ToString(f.FailureReason)))
		}
		switch d.Status {
		case s3ctypes.JobStatusComplete, s3ctypes.JobStatusFailed, s3ctypes.JobStatusCancelled:
			return nil
		case s3ctypes.JobStatusSuspended:
			return fmt.Errorf("copy job %s is Suspended, waiting for a confirmation: confirm it (aws s3control update-job-status --account-id %s --job-id %s --requested-job-status Ready --region <primary>) and run failback again", job.ID, in.Batch.Account, job.ID)
		}
		job.FailedTasks = nil
		if err := in.Batch.Sleep(ctx, in.Batch.Poll); err != nil {
			return err
		}
	}
}

// reportManifest is a completion report's manifest.json ("Examples: S3
// Batch Operations completion reports", S3 User Guide).
type reportManifest struct {
	Format  string
	Results []struct {
		TaskExecutionStatus, Bucket, Key string
	}
	ReportSchema string
}

// readReport reads the failed tasks from the job's completion report. The
// CSV files have no header; the columns are found by name in ReportSchema,
// and only Bucket, Key and TaskStatus are trusted to be where it says (the
// documented example rows carry the HTTP status before the error code,
// against the schema), so the rest is kept together as the reason.
func readReport(ctx context.Context, in CopyInput, job *JobResult) error {
	if job.Failed == 0 {
		return nil
	}
	key := naming.FailbackReportsPrefix + "job-" + job.ID + "/manifest.json"
	body, err := getObject(ctx, in.Dest, in.Batch.Bucket, key)
	if err != nil {
		return fmt.Errorf("read the completion report of job %s: %w", job.ID, err)
	}
	var m reportManifest
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("completion report s3://%s/%s is not JSON: %w", in.Batch.Bucket, key, err)
	}
	column := map[string]int{}
	for i, name := range strings.Split(m.ReportSchema, ",") {
		column[strings.TrimSpace(name)] = i
	}
	b, k, st := column["Bucket"], column["Key"], column["TaskStatus"]
	if m.Format != "Report_CSV_20180820" || len(column) < 3 || b == k || k == st {
		return fmt.Errorf("completion report s3://%s/%s: format %q, schema %q not understood", in.Batch.Bucket, key, m.Format, m.ReportSchema)
	}
	for _, r := range m.Results {
		if r.TaskExecutionStatus != "failed" {
			continue
		}
		body, err := getObject(ctx, in.Dest, r.Bucket, r.Key)
		if err != nil {
			return fmt.Errorf("read the failed tasks of job %s: %w", job.ID, err)
		}
		rows := csv.NewReader(bytes.NewReader(body))
		rows.FieldsPerRecord = -1
		for {
			row, err := rows.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("failed tasks s3://%s/%s: %w", r.Bucket, r.Key, err)
			}
			if len(row) <= max(b, k, st) || row[st] != "failed" {
				continue
			}
			objectKey, err := url.QueryUnescape(row[k])
			if err != nil {
				objectKey = row[k]
			}
			var reason []string
			for i, v := range row {
				if i != b && i != k && i != st && i != column["VersionId"] && v != "" {
					reason = append(reason, v)
				}
			}
			job.FailedTasks = append(job.FailedTasks, fmt.Sprintf("s3://%s/%s: %s", row[b], objectKey, strings.Join(reason, " ")))
		}
	}
	return nil
}

func getObject(ctx context.Context, client S3API, bucket, key string) ([]byte, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, fmt.Errorf("s3://%s/%s does not exist", bucket, key)
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer func() { _ = out.Body.Close() }()
	return io.ReadAll(out.Body)
}
