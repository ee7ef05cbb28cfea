package compaction

import (
	"context"
	"io"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/dr-analytics/drplan/internal/naming"
)

const date = "2026-11-24"

type s3Fixture struct {
	t       *testing.T
	client  *s3.Client
	job     *Job
	results string
	batch   string
}

// newS3Fixture serves both buckets from an in-process S3 server; the batch
// bucket is versioned, as in production.
func newS3Fixture(t *testing.T) *s3Fixture {
	t.Helper()
	server := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(server.Close)
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(server.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		UsePathStyle: true,
	})
	cfg := testConfig()
	cfg.S3 = client
	f := &s3Fixture{t: t, client: client, job: newJob(t, cfg), results: cfg.ResultsBucket, batch: cfg.BatchBucket}
	ctx := context.Background()
	for _, b := range []string{f.results, f.batch} {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
	}
	_, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(f.batch),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		t.Fatalf("enable versioning: %v", err)
	}
	return f
}

func (f *s3Fixture) put(bucket, key, body string) {
	f.t.Helper()
	_, err := f.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		f.t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// stage writes files as UNLOAD would for a run and returns the publish request.
func (f *s3Fixture) stage(runID string, files map[string]string) Request {
	f.t.Helper()
	prefix := stagingPrefix(date, runID)
	for name, body := range files {
		f.put(f.results, prefix+name, body)
	}
	return Request{Action: "publish", Date: date, StagingPrefix: prefix}
}

// contents maps key to body for every object under prefix.
func (f *s3Fixture) contents(bucket, prefix string) map[string]string {
	f.t.Helper()
	ctx := context.Background()
	out, err := f.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		f.t.Fatalf("list s3://%s/%s: %v", bucket, prefix, err)
	}
	objects := map[string]string{}
	for _, o := range out.Contents {
		got, err := f.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		if err != nil {
			f.t.Fatalf("get %s: %v", aws.ToString(o.Key), err)
		}
		body, _ := io.ReadAll(got.Body)
		got.Body.Close()
		objects[aws.ToString(o.Key)] = string(body)
	}
	return objects
}

func (f *s3Fixture) publish(req Request) Published {
	f.t.Helper()
	out, err := f.job.Handle(context.Background(), req)
	if err != nil {
		f.t.Fatalf("publish %+v: %v", req, err)
	}
	return out.(Published)
}

func assertObjects(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("objects = %v, want %v", keys(got), keys(want))
		return
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("object %s = %q (present %v), want %q", k, g, ok, v)
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

const dayPrefix = "compacted/dt=" + date + "/"

func TestPublishCopiesStagedFilesToDeterministicParts(t *testing.T) {
	f := newS3Fixture(t)
	req := f.stage("run-1", map[string]string{
		"20261125_013000_00001_abcde_c": "CCC",
		"20261125_013000_00001_abcde_a": "A",
		"20261125_013000_00001_abcde_b": "BB",
		"query.csv.metadata":            "meta",
		"20261125-manifest.csv":         "list",
		"empty":                         "",
	})
	got := f.publish(req)
	if want := (Published{Date: date, Files: 3, Bytes: 6}); got != want {
		t.Errorf("result = %+v, want %+v", got, want)
	}
	assertObjects(t, f.contents(f.batch, dayPrefix), map[string]string{
		dayPrefix + "part-00000.snappy.parquet": "A",
		dayPrefix + "part-00001.snappy.parquet": "BB",
		dayPrefix + "part-00002.snappy.parquet": "CCC",
	})
	if left := f.contents(f.results, naming.CompactionStagingPrefix); len(left) != 0 {
		t.Errorf("staging not cleaned: %v", keys(left))
	}
}

// Staged names with characters that URL path escaping leaves alone but S3
// decodes ("+" reads as a space) are still copied from the right object.
func TestPublishCopiesStagedFilesWhoseNamesNeedEscaping(t *testing.T) {
	f := newS3Fixture(t)
	got := f.publish(f.stage("run-1", map[string]string{"a+b": "plus", "c d=e": "space", "f%g": "percent"}))
	if want := (Published{Date: date, Files: 3, Bytes: 16}); got != want {
		t.Errorf("result = %+v, want %+v", got, want)
	}
	assertObjects(t, f.contents(f.batch, dayPrefix), map[string]string{
		dayPrefix + "part-00000.snappy.parquet": "plus",
		dayPrefix + "part-00001.snappy.parquet": "space",
		dayPrefix + "part-00002.snappy.parquet": "percent",
	})
}

func TestPublishRerunOverwritesAndRemovesStaleParts(t *testing.T) {
	f := newS3Fixture(t)
	f.put(f.batch, "compacted/dt=2026-11-23/part-00005.snappy.parquet", "other day")
	f.publish(f.stage("run-1", map[string]string{"a": "old-a", "b": "old-b", "c": "old-c"}))

	got := f.publish(f.stage("run-2", map[string]string{"x": "new-x", "y": "new-y"}))
	if want := (Published{Date: date, Files: 2, Bytes: 10, RemovedStale: 1}); got != want {
		t.Errorf("result = %+v, want %+v", got, want)
	}
	assertObjects(t, f.contents(f.batch, dayPrefix), map[string]string{
		dayPrefix + "part-00000.snappy.parquet": "new-x",
		dayPrefix + "part-00001.snappy.parquet": "new-y",
	})
	// The rerun overwrote keys (new versions), it did not add keys.
	versions, err := f.client.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{
		Bucket: aws.String(f.batch), Prefix: aws.String(dayPrefix + "part-00000"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(versions.Versions) != 2 {
		t.Errorf("part-00000 has %d versions, want 2 (original and overwrite)", len(versions.Versions))
	}
	assertObjects(t, f.contents(f.batch, "compacted/dt=2026-11-23/"), map[string]string{
		"compacted/dt=2026-11-23/part-00005.snappy.parquet": "other day",
	})
}

func TestPublishTwiceWithTheSameInputIsHarmless(t *testing.T) {
	f := newS3Fixture(t)
	req := f.stage("run-1", map[string]string{"a": "A", "b": "B"})
	f.publish(req)
	before := f.contents(f.batch, dayPrefix)

	if got := f.publish(req); got != (Published{Date: date}) {
		t.Errorf("second publish = %+v, want nothing published", got)
	}
	assertObjects(t, f.contents(f.batch, dayPrefix), before)
}

func TestPublishEmptyDayWritesNothing(t *testing.T) {
	f := newS3Fixture(t)
	t.Run("no staged files", func(t *testing.T) {
		got := f.publish(Request{Action: "publish", Date: date, StagingPrefix: stagingPrefix(date, "empty")})
		if got != (Published{Date: date}) {
			t.Errorf("result = %+v", got)
		}
		if objects := f.contents(f.batch, ""); len(objects) != 0 {
			t.Errorf("batch bucket got %v", keys(objects))
		}
	})
	t.Run("only bookkeeping files, which are cleaned", func(t *testing.T) {
		got := f.publish(f.stage("meta-only", map[string]string{"q.csv.metadata": "m", "zero": ""}))
		if got != (Published{Date: date}) {
			t.Errorf("result = %+v", got)
		}
		if objects := f.contents(f.batch, ""); len(objects) != 0 {
			t.Errorf("batch bucket got %v", keys(objects))
		}
		if left := f.contents(f.results, naming.CompactionStagingPrefix); len(left) != 0 {
			t.Errorf("staging not cleaned: %v", keys(left))
		}
	})
}

func TestPublishFinishesAnInterruptedCleanupWithoutRepublishing(t *testing.T) {
	f := newS3Fixture(t)
	// An earlier run published three parts and stopped after deleting two
	// of its three staged files.
	for i, body := range []string{"A", "B", "C"} {
		f.put(f.batch, PartKey(date, i), body)
	}
	req := f.stage("run-1", map[string]string{
		"c":        "C",
		doneMarker: `{"date":"2026-11-24","files":3,"bytes":3,"removedStale":0}`,
	})
	got := f.publish(req)
	if want := (Published{Date: date, Files: 3, Bytes: 3}); got != want {
		t.Errorf("result = %+v, want the earlier run's %+v", got, want)
	}
	assertObjects(t, f.contents(f.batch, dayPrefix), map[string]string{
		PartKey(date, 0): "A", PartKey(date, 1): "B", PartKey(date, 2): "C",
	})
	if left := f.contents(f.results, naming.CompactionStagingPrefix); len(left) != 0 {
		t.Errorf("staging not cleaned: %v", keys(left))
	}
}

func TestPublishLeavesForeignObjectsInThePartition(t *testing.T) {
	f := newS3Fixture(t)
	f.put(f.batch, dayPrefix+"hand-made.parquet", "manual")
	f.put(f.batch, dayPrefix+"part-7.snappy.parquet", "not our pattern")
	f.publish(f.stage("run-1", map[string]string{"a": "A"}))
	assertObjects(t, f.contents(f.batch, dayPrefix), map[string]string{
		dayPrefix + "hand-made.parquet":         "manual",
		dayPrefix + "part-7.snappy.parquet":     "not our pattern",
		dayPrefix + "part-00000.snappy.parquet": "A",
	})
}

func TestPublishRejectsBadInput(t *testing.T) {
	f := newS3Fixture(t)
	f.put(f.results, "compaction-staging/dt=2026-11-24/run-1/a", "A")
	cases := []struct {
		name    string
		req     Request
		wantErr string
	}{
		{"prefix for another day", Request{Date: "2026-11-23", StagingPrefix: "compaction-staging/dt=2026-11-24/run-1/"}, "stagingPrefix"},
		{"prefix outside staging", Request{Date: date, StagingPrefix: "compacted/dt=2026-11-24/"}, "stagingPrefix"},
		{"prefix without run", Request{Date: date, StagingPrefix: "compaction-staging/dt=2026-11-24/"}, "stagingPrefix"},
		{"prefix without trailing slash", Request{Date: date, StagingPrefix: "compaction-staging/dt=2026-11-24/run-1"}, "stagingPrefix"},
		{"missing date", Request{StagingPrefix: "compaction-staging/dt=2026-11-24/run-1/"}, "YYYY-MM-DD"},
		{"today", Request{Date: "2026-11-25", StagingPrefix: "compaction-staging/dt=2026-11-25/run-1/"}, "is today"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.req.Action = "publish"
			if _, err := f.job.Handle(context.Background(), c.req); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, c.wantErr)
			}
		})
	}
	if objects := f.contents(f.batch, ""); len(objects) != 0 {
		t.Errorf("rejected requests wrote %v", keys(objects))
	}
	if left := f.contents(f.results, naming.CompactionStagingPrefix); len(left) != 1 {
		t.Errorf("rejected requests touched staging: %v", keys(left))
	}
}

func TestIsDataFile(t *testing.T) {
	cases := []struct {
		key  string
		size int64
		want bool
	}{
		{"p/20261125_013000_00012_x7k2p_5f3c1a2e-0b9d-4c1e", 100, true},
		{"p/part.parquet", 100, true},
		{"p/empty", 0, false},
		{"p/q.csv.metadata", 10, false},
		{"p/q-manifest.csv", 10, false},
		{"p/q.csv", 10, false},
		{"p/_SUCCESS", 10, false},
		{"p/.hidden", 10, false},
		{"p/" + doneMarker, 10, false},
		{"p/folder/", 10, false},
	}
	for _, c := range cases {
		if got := isDataFile(object{key: c.key, size: c.size}); got != c.want {
			t.Errorf("isDataFile(%s, %d) = %v, want %v", c.key, c.size, got, c.want)
		}
	}
}
