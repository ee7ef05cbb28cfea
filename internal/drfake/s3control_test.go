package drfake_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3ctypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/smithy-go"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
)

// The S3 Control fake refuses what CreateJob refuses and moves jobs
// through the documented states.
func TestS3ControlFollowsTheJobsAPI(t *testing.T) {
	clock := drfake.NewClock(t0)
	store := drfake.NewS3(t, clock)
	for _, b := range []string{"src", "dst", "jobs"} {
		store.CreateBucket(t, b)
	}
	store.PutObject(t, "src", "raw/a b+c.gz", []byte("data"))
	s3c := s3.NewFromConfig(awsfake.Config(store.URL(), "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	put, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("jobs"), Key: aws.String("m.csv"), Body: bytes.NewReader([]byte("src,raw/a%20b%2Bc.gz\n"))})
	if err != nil {
		t.Fatal(err)
	}
	fake := drfake.NewS3Control(t, store, clock, "123456789012", "us-east-1")
	client := s3control.NewFromConfig(awsfake.Config(fake.URL(), "us-east-1"), func(o *s3control.Options) { o.Retryer = aws.NopRetryer{} })
	job := func(token, etag string, edit func(*s3control.CreateJobInput)) *s3control.CreateJobInput {
		in := &s3control.CreateJobInput{
			AccountId: aws.String("123456789012"), ClientRequestToken: aws.String(token), Priority: aws.Int32(10),
			RoleArn: aws.String("arn:aws:iam::123456789012:role/copy"), ConfirmationRequired: aws.Bool(false),
			Operation: &s3ctypes.JobOperation{S3PutObjectCopy: &s3ctypes.S3CopyObjectOperation{TargetResource: aws.String("arn:aws:s3:::dst")}},
			Manifest: &s3ctypes.JobManifest{
				Spec:     &s3ctypes.JobManifestSpec{Format: s3ctypes.JobManifestFormatS3BatchOperationsCsv20180820, Fields: []s3ctypes.JobManifestFieldName{"Bucket", "Key"}},
				Location: &s3ctypes.JobManifestLocation{ObjectArn: aws.String("arn:aws:s3:::jobs/m.csv"), ETag: aws.String(etag)},
			},
			Report: &s3ctypes.JobReport{Enabled: true, Bucket: aws.String("arn:aws:s3:::jobs"), Format: s3ctypes.JobReportFormatReportCsv20180820,
				Prefix: aws.String("reports"), ReportScope: s3ctypes.JobReportScopeAllTasks},
		}
		if edit != nil {
			edit(in)
		}
		return in
	}
	refusals := []struct {
		name string
		in   *s3control.CreateJobInput
		code string
	}{
		// (The SDK itself refuses a missing report or role before sending.)
		{"an enabled report without a scope", job("t2", *put.ETag, func(in *s3control.CreateJobInput) { in.Report.ReportScope = "" }), "InvalidRequest"},
		{"manifest without keys", job("t3", *put.ETag, func(in *s3control.CreateJobInput) {
			in.Manifest.Spec.Fields = []s3ctypes.JobManifestFieldName{"Bucket"}
		}), "InvalidRequest"},
		{"another account", job("t4", *put.ETag, func(in *s3control.CreateJobInput) { in.AccountId = aws.String("210987654321") }), "AccessDenied"},
	}
	for _, r := range refusals {
		_, err := client.CreateJob(context.Background(), r.in)
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != r.code {
			t.Errorf("%s: err %v, want %s", r.name, err, r.code)
		}
	}

	first, err := client.CreateJob(context.Background(), job("run-1", *put.ETag, nil))
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.CreateJob(context.Background(), job("run-1", *put.ETag, nil))
	if err != nil || *again.JobId != *first.JobId {
		t.Errorf("the same token and request: job %v (%v), want %s", again, err, *first.JobId)
	}
	_, err = client.CreateJob(context.Background(), job("run-1", *put.ETag, func(in *s3control.CreateJobInput) { in.Priority = aws.Int32(20) }))
	var idem *s3ctypes.IdempotencyException
	if !errors.As(err, &idem) {
		t.Errorf("the same token with another request: %v, want IdempotencyException", err)
	}
	var states []string
	for range 8 {
		out, err := client.DescribeJob(context.Background(), &s3control.DescribeJobInput{AccountId: aws.String("123456789012"), JobId: first.JobId})
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, string(out.Job.Status))
		if out.Job.Status == s3ctypes.JobStatusComplete {
			if p := out.Job.ProgressSummary; aws.ToInt64(p.TotalNumberOfTasks) != 1 || aws.ToInt64(p.NumberOfTasksSucceeded) != 1 {
				t.Errorf("progress %+v", p)
			}
			break
		}
	}
	if got := strings.Join(states, " "); got != "Preparing Ready Active Completing Complete" {
		t.Errorf("states %s", got)
	}
	if got := store.Objects(t, "dst")["raw/a b+c.gz"]; string(got.Body) != "data" {
		t.Errorf("the task copied %q to the URL-decoded key", got.Body)
	}
	objects := store.Objects(t, "jobs")
	report, ok := objects["reports/job-"+*first.JobId+"/manifest.json"]
	if !ok || !strings.Contains(string(report.Body), `"ReportSchema":"Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"`) {
		t.Errorf("report manifest %s", report.Body)
	}

	stale, err := client.CreateJob(context.Background(), job("run-2", `"0123456789abcdef0123456789abcdef"`, nil))
	if err != nil {
		t.Fatal(err)
	}
	var out *s3control.DescribeJobOutput
	for range 3 {
		out, err = client.DescribeJob(context.Background(), &s3control.DescribeJobInput{AccountId: aws.String("123456789012"), JobId: stale.JobId})
		if err != nil {
			t.Fatal(err)
		}
	}
	if out.Job.Status != s3ctypes.JobStatusFailed || len(out.Job.FailureReasons) != 1 || !strings.Contains(aws.ToString(out.Job.FailureReasons[0].FailureReason), "ETag") {
		t.Errorf("a manifest whose ETag does not match: %s %+v, want Failed with the reason", out.Job.Status, out.Job.FailureReasons)
	}
}
