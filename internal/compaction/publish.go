package compaction

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/s3copy"
)

// ObjectStore is the S3 API publish uses; *s3.Client implements it.
type ObjectStore interface {
	s3.ListObjectsV2APIClient
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Published is the publish action's output.
type Published struct {
	Date string `json:"date"`
	// Files is the number of parts written for the day.
	Files int `json:"files"`
	// Bytes is their total size.
	Bytes int64 `json:"bytes"`
	// RemovedStale counts older parts beyond Files deleted from the batch bucket.
	RemovedStale int `json:"removedStale"`
}

const (
	// maxParts is what five-digit part numbers can name.
	maxParts = 100_000
	// maxCopyBytes is CopyObject's single-request limit (5 GiB).
	maxCopyBytes = 5 << 30
	// doneMarker is written into the staging prefix once every part is
	// published; a rerun that finds it only finishes the cleanup, so a run
	// interrupted while deleting staging never republishes a subset.
	doneMarker = "_published.json"
)

var errNoStore = errors.New("compaction config: S3 is nil: publish needs an S3 client")

var (
	stagingPattern = regexp.MustCompile(`^` + regexp.QuoteMeta(naming.CompactionStagingPrefix) + `dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/[A-Za-z0-9_-]{1,80}/$`)
	partPattern    = regexp.MustCompile(`^part-([0-9]{5})\.snappy\.parquet$`)
)

// PartKey is the batch-bucket key of a day's part n, e.g.
// "compacted/dt=2026-11-24/part-00000.snappy.parquet".
func PartKey(date string, n int) string {
	return fmt.Sprintf("%sdt=%s/part-%05d.snappy.parquet", naming.CompactedPrefix, date, n)
}

// Publish copies the staged Parquet files, in key order, to the day's
// deterministic part names in the batch bucket, deletes older parts beyond
// the new count, and deletes the staging prefix.
//
// Running it twice is harmless. A second run finds the staging prefix empty
// and changes nothing: an empty staging prefix also means "the day had no
// rows", and telling the two apart is not worth deleting published data
// for, so existing parts are kept and the result reports zero files. A run
// that stopped while deleting its staging objects left a marker there; the
// rerun then only finishes the cleanup and returns the earlier result.
func (j *Job) Publish(ctx context.Context, req Request) (Published, error) {
	if j.cfg.S3 == nil {
		return Published{}, errNoStore
	}
	day, err := j.pastDay(req.Date)
	if err != nil {
		return Published{}, err
	}
	date := day.Format("2006-01-02")
	m := stagingPattern.FindStringSubmatch(req.StagingPrefix)
	if m == nil || m[1] != date {
		return Published{}, fmt.Errorf("compaction publish: stagingPrefix %q is invalid: want plan's output for date %s, i.e. %s<runId>/", req.StagingPrefix, date, stagingPrefix(date, ""))
	}
	staged, err := j.list(ctx, j.cfg.ResultsBucket, req.StagingPrefix)
	if err != nil {
		return Published{}, err
	}
	marker := req.StagingPrefix + doneMarker
	for _, o := range staged {
		if o.key == marker {
			return j.finishCleanup(ctx, date, req.StagingPrefix, staged)
		}
	}

	var parts []object
	for _, o := range staged {
		if isDataFile(o) {
			parts = append(parts, o)
		}
	}
	if len(parts) == 0 {
		if err := j.deleteObjects(ctx, j.cfg.ResultsBucket, keysOf(staged)); err != nil {
			return Published{}, err
		}
		j.logger.Info("nothing staged; existing parts left as they are (no rows that day, or already published)",
			"date", date, "staging_prefix", req.StagingPrefix)
		return Published{Date: date}, nil
	}
	if len(parts) > maxParts {
		return Published{}, fmt.Errorf("compaction publish %s: %d staged files exceed the %d part names: compact a smaller range", date, len(parts), maxParts)
	}
	sort.Slice(parts, func(a, b int) bool { return parts[a].key < parts[b].key })

	result := Published{Date: date, Files: len(parts)}
	for _, p := range parts {
		result.Bytes += p.size
	}
	if err := j.copyParts(ctx, date, parts); err != nil {
		return Published{}, err
	}
	if result.RemovedStale, err = j.removeStaleParts(ctx, date, len(parts)); err != nil {
		return Published{}, err
	}
	if err := j.writeMarker(ctx, marker, result); err != nil {
		return Published{}, err
	}
	if err := j.deleteObjects(ctx, j.cfg.ResultsBucket, keysOf(staged)); err != nil {
		return Published{}, err
	}
	if err := j.deleteObjects(ctx, j.cfg.ResultsBucket, []string{marker}); err != nil {
		return Published{}, err
	}
	j.logger.Info("compaction published", "date", date, "files", result.Files, "bytes", result.Bytes,
		"removed_stale", result.RemovedStale, "bucket", j.cfg.BatchBucket)
	return result, nil
}

// finishCleanup completes a run that published everything but stopped while
// deleting its staging objects.
func (j *Job) finishCleanup(ctx context.Context, date, prefix string, staged []object) (Published, error) {
	marker := prefix + doneMarker
	out, err := j.cfg.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(j.cfg.ResultsBucket), Key: aws.String(marker)})
	if err != nil {
		return Published{}, fmt.Errorf("compaction publish %s: read s3://%s/%s: %w", date, j.cfg.ResultsBucket, marker, err)
	}
	defer out.Body.Close()
	var result Published
	if err := json.NewDecoder(out.Body).Decode(&result); err != nil {
		return Published{}, fmt.Errorf("compaction publish %s: s3://%s/%s is not a publish marker (%w); the day's parts were already published: delete the staging prefix by hand", date, j.cfg.ResultsBucket, marker, err)
	}
	var rest []string
	for _, o := range staged {
		if o.key != marker {
			rest = append(rest, o.key)
		}
	}
	if err := j.deleteObjects(ctx, j.cfg.ResultsBucket, rest); err != nil {
		return Published{}, err
	}
	if err := j.deleteObjects(ctx, j.cfg.ResultsBucket, []string{marker}); err != nil {
		return Published{}, err
	}
	j.logger.Info("finished the cleanup of an earlier publish", "date", date, "files", result.Files, "staging_prefix", prefix)
	return result, nil
}

type object struct {
	key  string
	size int64
}

func keysOf(objects []object) []string {
	keys := make([]string, len(objects))
	for i, o := range objects {
		keys[i] = o.key
	}
	return keys
}

// isDataFile tells UNLOAD's Parquet files from bookkeeping: empty objects,
// hidden names (_…, .…) and metadata, manifest, CSV and text files.
func isDataFile(o object) bool {
	if o.size == 0 || strings.HasSuffix(o.key, "/") {
		return false
	}
	name := strings.ToLower(path.Base(o.key))
	if strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") || strings.Contains(name, "manifest") {
		return false
	}
	for _, suffix := range []string{".metadata", ".csv", ".txt", ".json", ".crc"} {
		if strings.HasSuffix(name, suffix) {
			return false
		}
	}
	return true
}

func (j *Job) list(ctx context.Context, bucket, prefix string) ([]object, error) {
	var objects []object
	pages := s3.NewListObjectsV2Paginator(j.cfg.S3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			objects = append(objects, object{key: aws.ToString(o.Key), size: aws.ToInt64(o.Size)})
		}
	}
	return objects, nil
}

// copyParts copies staged file i to part i with server-side CopyObject; an
// existing part of that name gets a new version, which replication carries
// to the replica as an overwrite.
func (j *Job) copyParts(ctx context.Context, date string, parts []object) error {
	for _, p := range parts {
		if p.size > maxCopyBytes {
			return fmt.Errorf("compaction publish %s: staged file s3://%s/%s has %d bytes, over CopyObject's 5 GiB limit: raise the Athena workgroup's parallelism or split the day", date, j.cfg.ResultsBucket, p.key, p.size)
		}
	}
	group, ctx := errgroup.WithContext(ctx)
	group.SetLimit(j.cfg.CopyConcurrency)
	for i, p := range parts {
		group.Go(func() error {
			dest := PartKey(date, i)
			_, err := j.cfg.S3.CopyObject(ctx, &s3.CopyObjectInput{
				Bucket:     aws.String(j.cfg.BatchBucket),
				Key:        aws.String(dest),
				CopySource: aws.String(s3copy.Source(j.cfg.ResultsBucket, p.key)),
			})
			if err != nil {
				return fmt.Errorf("compaction publish %s: copy s3://%s/%s to s3://%s/%s: %w", date, j.cfg.ResultsBucket, p.key, j.cfg.BatchBucket, dest, err)
			}
			return nil
		})
	}
	return group.Wait()
}

// removeStaleParts deletes parts numbered count and above, left by an
// earlier run that produced more files. Other objects under the day's
// prefix are not ours and are only reported.
func (j *Job) removeStaleParts(ctx context.Context, date string, count int) (int, error) {
	prefix := naming.CompactedPrefix + "dt=" + date + "/"
	existing, err := j.list(ctx, j.cfg.BatchBucket, prefix)
	if err != nil {
		return 0, err
	}
	var stale []string
	for _, o := range existing {
		name := strings.TrimPrefix(o.key, prefix)
		m := partPattern.FindStringSubmatch(name)
		if m == nil {
			j.logger.Warn("unexpected object in a compacted partition; left alone", "bucket", j.cfg.BatchBucket, "key", o.key)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n >= count {
			stale = append(stale, o.key)
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	// S3 replication does not replicate delete markers: these deletes leave
	// the parts in the backup region's replica, where the day then reads
	// more rows than here until it is compacted again there.
	j.logger.Warn("deleting stale parts in the primary batch bucket; the delete is not replicated, so the replica keeps them",
		"bucket", j.cfg.BatchBucket, "date", date, "keys", stale)
	if err := j.deleteObjects(ctx, j.cfg.BatchBucket, stale); err != nil {
		return 0, err
	}
	return len(stale), nil
}

func (j *Job) writeMarker(ctx context.Context, key string, result Published) error {
	body, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("encode publish marker: %w", err)
	}
	_, err = j.cfg.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(j.cfg.ResultsBucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fmt.Errorf("write s3://%s/%s: %w", j.cfg.ResultsBucket, key, err)
	}
	return nil
}

// deleteObjects deletes keys 1,000 per request and fails on any per-key error.
func (j *Job) deleteObjects(ctx context.Context, bucket string, keys []string) error {
	for start := 0; start < len(keys); start += 1000 {
		chunk := keys[start:min(start+1000, len(keys))]
		ids := make([]types.ObjectIdentifier, len(chunk))
		for i, k := range chunk {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := j.cfg.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("delete %d objects from s3://%s: %w", len(chunk), bucket, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete s3://%s/%s: %s: %s (%d keys failed)", bucket, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors))
		}
	}
	return nil
}
