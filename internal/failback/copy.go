package failback

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/dr-analytics/drplan/internal/backoff"
	"github.com/dr-analytics/drplan/internal/s3copy"
)

// S3API is what the copy step calls; *s3.Client satisfies it.
type S3API interface {
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	CopyObject(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPartCopy(context.Context, *s3.UploadPartCopyInput, ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	// PutObject and GetObject write batch manifests and read reports.
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Limits of S3's copy operations.
const (
	// MaxCopyObjectSize is the largest object one CopyObject copies.
	MaxCopyObjectSize = 5 << 30
	// DefaultPartSize is the part size of multipart copies.
	DefaultPartSize = 512 << 20
	minPartSize     = 5 << 20
	maxParts        = 10000
	// SourceETagKey is user metadata a multipart copy carries: the
	// source's ETag, since the copy's own ETag differs ("...-N"), so a
	// later run still recognizes the object as copied.
	SourceETagKey = "drctl-source-etag"
	// partWorkers bounds concurrent UploadPartCopy calls per object.
	partWorkers = 4
)

// BucketPair is one replica bucket and the primary bucket it copies back
// to, and the prefixes of the replica that DR can have written (see
// DRPrefixes): only they are listed.
type BucketPair struct {
	Source, Dest string
	Prefixes     []string
}

// CopyInput configures the copy step.
type CopyInput struct {
	// Source reads the replica buckets (backup region); Dest writes the
	// primary buckets (primary region; CopyObject reads the source across
	// regions server-side).
	Source, Dest S3API
	Pairs        []BucketPair
	// Since is the failover time: objects whose LastModified is earlier
	// were in the primary already.
	Since time.Time
	// Workers copy in parallel, e.g. 32.
	Workers int
	DryRun  bool
	// MultipartThreshold: larger objects are copied with UploadPartCopy in
	// PartSize parts. Defaults MaxCopyObjectSize and DefaultPartSize;
	// tests lower them.
	MultipartThreshold, PartSize int64
	// Engine is EngineAuto (default), EngineLocal or EngineBatch;
	// BatchThreshold is EngineAuto's object count for Batch Operations
	// (DefaultBatchThreshold); Batch configures it.
	Engine         string
	BatchThreshold int
	Batch          BatchConfig
	Retry          backoff.Policy
	Progress       Progress
}

// Object is an object copied (or found already copied) back.
type Object struct {
	Bucket, Key string
	Size        int64
}

// CopyResult counts what the copy step did.
type CopyResult struct {
	// Listed objects in the replicas written since failover, and their bytes.
	Listed      int
	ListedBytes int64
	// Copied now; AlreadyPresent with the same size and ETag; KeptNewer
	// when the primary holds a newer, different object under the key.
	Copied, AlreadyPresent, KeptNewer int
	Multipart                         int
	BytesCopied                       int64
	Retries                           int
	// Failed objects, with why.
	Failed []string
	// InWindow is every object of the window now in a primary bucket
	// (copied or already there), for the partition step.
	InWindow []Object
	// Verified is the final comparison: objects of the window (and their
	// bytes) that match on both sides, and what does not match.
	Verified      int
	VerifiedBytes int64
	Mismatches    []string
	// Engine copied (or would copy), and why it was chosen; Jobs are the
	// batch jobs it ran or followed.
	Engine, EngineWhy string
	Jobs              []JobResult
}

// copyJob is one object to copy.
type copyJob struct {
	pair BucketPair
	obj  listedObject
}

type listedObject struct {
	key          string
	size         int64
	etag         string
	lastModified time.Time
}

// CopyObjects copies every object written to the replica buckets since
// the failover back to the primary buckets. It is idempotent and
// resumable: objects already present with the same size and ETag are
// skipped, so an interrupted run resumed copies each object once.
func CopyObjects(ctx context.Context, in CopyInput) (CopyResult, error) {
	if in.Workers <= 0 {
		in.Workers = 16
	}
	if in.MultipartThreshold <= 0 {
		in.MultipartThreshold = MaxCopyObjectSize
	}
	if in.PartSize <= 0 {
		in.PartSize = DefaultPartSize
	}
	in.Retry = retryPolicy(in.Retry)
	if in.Progress == nil {
		in.Progress = noProgress{}
	}
	var res CopyResult
	var jobs []copyJob
	for _, pair := range in.Pairs {
		src, err := listSince(ctx, in.Source, pair, in.Since)
		if err != nil {
			return res, err
		}
		dst, err := listKeys(ctx, in.Dest, pair.Dest, keysOf(src))
		if err != nil {
			return res, err
		}
		for _, o := range src {
			res.Listed++
			res.ListedBytes += o.size
			d, ok := dst[o.key]
			switch {
			case ok && d.size == o.size && d.etag == o.etag:
				res.AlreadyPresent++
				res.InWindow = append(res.InWindow, Object{pair.Dest, o.key, o.size})
			case ok && d.size == o.size && copiedBefore(ctx, in, pair.Dest, o):
				res.AlreadyPresent++
				res.InWindow = append(res.InWindow, Object{pair.Dest, o.key, o.size})
			case ok && d.lastModified.After(o.lastModified):
				// Written in the primary after the replica's version (traffic
				// is back there): the newer object wins, and versioning keeps
				// nothing from being lost either way.
				res.KeptNewer++
			default:
				jobs = append(jobs, copyJob{pair, o})
			}
		}
	}
	res.Engine, res.EngineWhy = chooseEngine(ctx, in, len(jobs))
	if in.DryRun {
		for _, j := range jobs {
			res.Copied++
			res.BytesCopied += j.obj.size
			res.InWindow = append(res.InWindow, Object{j.pair.Dest, j.obj.key, j.obj.size})
			if j.obj.size > in.MultipartThreshold {
				res.Multipart++
			}
		}
		return res, nil
	}

	if res.Engine == EngineBatch && len(jobs) > 0 {
		local, err := copyBatch(ctx, in, jobs, &res)
		if err != nil {
			return res, err
		}
		jobs = local
	}
	var total int64
	for _, j := range jobs {
		total += j.obj.size
	}
	in.Progress.Start("copy objects", int64(len(jobs)), total)
	var (
		mu        sync.Mutex
		next      atomic.Int64
		wg        sync.WaitGroup
		cancelled atomic.Bool
	)
	for range min(in.Workers, max(len(jobs), 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				j := jobs[i]
				multipart, retries, err := copyOne(ctx, in, j.pair, j.obj)
				mu.Lock()
				res.Retries += retries
				switch {
				case err != nil && ctx.Err() != nil:
					cancelled.Store(true)
				case err != nil:
					res.Failed = append(res.Failed, fmt.Sprintf("s3://%s/%s: %v", j.pair.Source, j.obj.key, err))
				default:
					res.Copied++
					res.BytesCopied += j.obj.size
					if multipart {
						res.Multipart++
					}
					res.InWindow = append(res.InWindow, Object{j.pair.Dest, j.obj.key, j.obj.size})
				}
				mu.Unlock()
				if err == nil {
					in.Progress.Add(1, j.obj.size)
				}
			}
		})
	}
	wg.Wait()
	in.Progress.Done()
	if err := ctx.Err(); err != nil || cancelled.Load() {
		return res, fmt.Errorf("copy interrupted after %d of %d objects (run again to resume; copied objects are skipped): %w", res.Copied, len(jobs), context.Cause(ctx))
	}
	sort.Strings(res.Failed)
	return res, verify(ctx, in, &res)
}

// verify lists both sides of the window again and compares them.
func verify(ctx context.Context, in CopyInput, res *CopyResult) error {
	res.Verified, res.VerifiedBytes, res.Mismatches = 0, 0, nil
	for _, pair := range in.Pairs {
		src, err := listSince(ctx, in.Source, pair, in.Since)
		if err != nil {
			return fmt.Errorf("final comparison: %w", err)
		}
		dst, err := listKeys(ctx, in.Dest, pair.Dest, keysOf(src))
		if err != nil {
			return fmt.Errorf("final comparison: %w", err)
		}
		for _, o := range src {
			d, ok := dst[o.key]
			switch {
			case !ok:
				res.Mismatches = append(res.Mismatches, fmt.Sprintf("s3://%s/%s is missing from %s", pair.Source, o.key, pair.Dest))
			case d.size == o.size && (d.etag == o.etag || copiedBefore(ctx, in, pair.Dest, o)):
				res.Verified++
				res.VerifiedBytes += d.size
			case d.lastModified.After(o.lastModified):
				// The primary's newer version, counted under KeptNewer.
				res.Verified++
				res.VerifiedBytes += d.size
			default:
				res.Mismatches = append(res.Mismatches, fmt.Sprintf("s3://%s/%s differs: replica %d bytes ETag %s, primary %d bytes ETag %s", pair.Dest, o.key, o.size, o.etag, d.size, d.etag))
			}
		}
	}
	sort.Strings(res.Mismatches)
	return nil
}

// copiedBefore recognizes a multipart copy from an earlier run by the
// source ETag it carries in its metadata.
func copiedBefore(ctx context.Context, in CopyInput, bucket string, o listedObject) bool {
	if o.size <= in.MultipartThreshold {
		return false
	}
	out, err := in.Dest.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key)})
	return err == nil && out.Metadata[SourceETagKey] == o.etag
}

// copyOne copies one object with retries.
func copyOne(ctx context.Context, in CopyInput, pair BucketPair, o listedObject) (multipart bool, retries int, err error) {
	if o.size > in.MultipartThreshold {
		retries, err = copyMultipart(ctx, in, pair, o)
		return true, retries, err
	}
	retries, err = do(ctx, in.Retry, func(ctx context.Context) error {
		_, err := in.Dest.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String(pair.Dest), Key: aws.String(o.key),
			CopySource:        aws.String(s3copy.Source(pair.Source, o.key)),
			CopySourceIfMatch: aws.String(o.etag),
		})
		return err
	})
	return false, retries, err
}

// copyMultipart copies an object too large for CopyObject in parts.
func copyMultipart(ctx context.Context, in CopyInput, pair BucketPair, o listedObject) (retries int, err error) {
	var head *s3.HeadObjectOutput
	n, err := do(ctx, in.Retry, func(ctx context.Context) (err error) {
		head, err = in.Source.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(pair.Source), Key: aws.String(o.key)})
		return err
	})
	retries += n
	if err != nil {
		return retries, fmt.Errorf("head source: %w", err)
	}
	meta := map[string]string{}
	for k, v := range head.Metadata {
		meta[k] = v
	}
	meta[SourceETagKey] = o.etag
	var created *s3.CreateMultipartUploadOutput
	n, err = do(ctx, in.Retry, func(ctx context.Context) (err error) {
		created, err = in.Dest.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(pair.Dest), Key: aws.String(o.key), Metadata: meta,
			ContentType: head.ContentType, ContentEncoding: head.ContentEncoding, CacheControl: head.CacheControl,
		})
		return err
	})
	retries += n
	if err != nil {
		return retries, fmt.Errorf("create multipart upload: %w", err)
	}
	abort := func() {
		// Abort even when the run was cancelled, so no orphaned parts are
		// billed; bounded so a dead region cannot hold the exit.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = in.Dest.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(pair.Dest), Key: aws.String(o.key), UploadId: created.UploadId})
	}
	partSize := max(in.PartSize, (o.size+maxParts-1)/maxParts)
	count := int((o.size + partSize - 1) / partSize)
	parts := make([]s3types.CompletedPart, count)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(partWorkers, count) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= count || ctx.Err() != nil {
					return
				}
				mu.Lock()
				failed := firstErr != nil
				mu.Unlock()
				if failed {
					return
				}
				first := int64(i) * partSize
				last := min(first+partSize, o.size) - 1
				var out *s3.UploadPartCopyOutput
				n, err := do(ctx, in.Retry, func(ctx context.Context) (err error) {
					out, err = in.Dest.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
						Bucket: aws.String(pair.Dest), Key: aws.String(o.key), UploadId: created.UploadId,
						PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String(s3copy.Source(pair.Source, o.key)),
						CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", first, last)), CopySourceIfMatch: aws.String(o.etag),
					})
					return err
				})
				mu.Lock()
				retries += n
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("part %d of %d: %w", i+1, count, err)
				}
				if err == nil {
					etag := ""
					if out.CopyPartResult != nil {
						etag = aws.ToString(out.CopyPartResult.ETag)
					}
					parts[i] = s3types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(int32(i + 1))}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		abort()
		return retries, firstErr
	}
	n, err = do(ctx, in.Retry, func(ctx context.Context) error {
		_, err := in.Dest.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(pair.Dest), Key: aws.String(o.key), UploadId: created.UploadId,
			MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts},
		})
		return err
	})
	retries += n
	if err != nil {
		abort()
		return retries, fmt.Errorf("complete multipart upload: %w", err)
	}
	return retries, nil
}

// listSince lists the objects under the pair's prefixes in the replica
// whose LastModified is at or after since. S3 cannot filter a listing by
// time, so the prefixes bound what is read.
func listSince(ctx context.Context, client S3API, pair BucketPair, since time.Time) ([]listedObject, error) {
	var out []listedObject
	err := listPrefixes(ctx, client, pair.Source, pair.Prefixes, func(o listedObject) {
		if !o.lastModified.Before(since) {
			out = append(out, o)
		}
	})
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, err
}

// listConcurrency bounds the prefixes listed at once: each LIST waits on
// S3 for tens of milliseconds, and a long disaster has many hour prefixes.
const listConcurrency = 16

// listPrefixes lists the prefixes of bucket in parallel; each is called
// under a lock.
func listPrefixes(ctx context.Context, client S3API, bucket string, prefixes []string, each func(listedObject)) error {
	var (
		mu       sync.Mutex
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr error
	)
	for range min(listConcurrency, len(prefixes)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(prefixes) {
					return
				}
				err := listPrefix(ctx, client, bucket, prefixes[i], func(o listedObject) {
					mu.Lock()
					defer mu.Unlock()
					each(o)
				})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// listKeys finds which of keys exist in bucket. It lists each distinct
// "directory" of the keys (objects since failover sit in few recent
// partitions), which costs far fewer requests than one HEAD per key.
func listKeys(ctx context.Context, client S3API, bucket string, keys []string) (map[string]listedObject, error) {
	want := map[string]bool{}
	dirs := map[string]bool{}
	for _, k := range keys {
		want[k] = true
		dir := path.Dir(k)
		if dir == "." {
			dir = ""
		} else {
			dir += "/"
		}
		dirs[dir] = true
	}
	sorted := make([]string, 0, len(dirs))
	for d := range dirs {
		sorted = append(sorted, d)
	}
	slices.Sort(sorted)
	// A prefix that another listed prefix contains is listed with it.
	var prefixes []string
	for _, d := range sorted {
		if len(prefixes) > 0 && strings.HasPrefix(d, prefixes[len(prefixes)-1]) {
			continue
		}
		prefixes = append(prefixes, d)
	}
	found := map[string]listedObject{}
	err := listPrefixes(ctx, client, bucket, prefixes, func(o listedObject) {
		if want[o.key] {
			found[o.key] = o
		}
	})
	return found, err
}

func listPrefix(ctx context.Context, client S3API, bucket, prefix string, each func(listedObject)) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	p := s3.NewListObjectsV2Paginator(client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			var nsb *s3types.NoSuchBucket
			if errors.As(err, &nsb) {
				return fmt.Errorf("list s3://%s: bucket does not exist (wrong account, region or prefix in the config?): %w", bucket, err)
			}
			return fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, c := range page.Contents {
			each(listedObject{key: aws.ToString(c.Key), size: aws.ToInt64(c.Size), etag: aws.ToString(c.ETag), lastModified: aws.ToTime(c.LastModified)})
		}
	}
	return nil
}

func keysOf(objects []listedObject) []string {
	keys := make([]string, len(objects))
	for i, o := range objects {
		keys[i] = o.key
	}
	return keys
}
