package drfake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Listing models S3's ListObjectsV2 in process over millions of keys,
// where a protocol server would spend minutes encoding XML: keys in UTF-8
// binary order, at most 1,000 per page (MaxKeys' default and maximum),
// Prefix and StartAfter filtering, and an opaque ContinuationToken
// ("ListObjectsV2", Amazon S3 API Reference). It counts the calls. Every
// other operation is refused: a benchmark that needs more uses S3.
type Listing struct {
	mu      sync.Mutex
	buckets map[string][]s3types.Object
	sorted  map[string]bool
	calls   int
}

// NewListing returns an empty model.
func NewListing() *Listing {
	return &Listing{buckets: map[string][]s3types.Object{}, sorted: map[string]bool{}}
}

// Put adds an object without a request.
func (l *Listing) Put(bucket, key string, size int64, lastModified time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buckets[bucket] = append(l.buckets[bucket], s3types.Object{Key: aws.String(key), Size: aws.Int64(size),
		ETag: aws.String(fmt.Sprintf("%q", fmt.Sprintf("%032x", len(key)*7919+int(size)))), LastModified: aws.Time(lastModified)})
	l.sorted[bucket] = false
}

// Calls is the number of ListObjectsV2 requests served.
func (l *Listing) Calls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// ListObjectsV2 serves one page.
func (l *Listing) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	bucket := aws.ToString(in.Bucket)
	objects, ok := l.buckets[bucket]
	if !ok {
		return nil, &s3types.NoSuchBucket{Message: aws.String("The specified bucket does not exist")}
	}
	if !l.sorted[bucket] {
		slices.SortFunc(objects, func(a, b s3types.Object) int { return strings.Compare(*a.Key, *b.Key) })
		l.sorted[bucket] = true
	}
	prefix := aws.ToString(in.Prefix)
	after := max(aws.ToString(in.StartAfter), aws.ToString(in.ContinuationToken))
	limit := 1000
	if in.MaxKeys != nil && *in.MaxKeys >= 0 && *in.MaxKeys < 1000 {
		limit = int(*in.MaxKeys)
	}
	i, _ := slices.BinarySearchFunc(objects, max(prefix, after), func(o s3types.Object, k string) int { return strings.Compare(*o.Key, k) })
	out := &s3.ListObjectsV2Output{Name: in.Bucket, Prefix: in.Prefix}
	for ; i < len(objects) && strings.HasPrefix(*objects[i].Key, prefix); i++ {
		if *objects[i].Key == after {
			continue
		}
		if len(out.Contents) == limit {
			out.IsTruncated = aws.Bool(true)
			out.NextContinuationToken = out.Contents[len(out.Contents)-1].Key
			break
		}
		out.Contents = append(out.Contents, objects[i])
	}
	out.KeyCount = aws.Int32(int32(len(out.Contents)))
	return out, nil
}

func (l *Listing) refuse(op string) error {
	return fmt.Errorf("drfake.Listing models ListObjectsV2 only, not %s", op)
}

// HeadObject is refused.
func (l *Listing) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, l.refuse("HeadObject")
}

// CopyObject is refused.
func (l *Listing) CopyObject(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	return nil, l.refuse("CopyObject")
}

// CreateMultipartUpload is refused.
func (l *Listing) CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return nil, l.refuse("CreateMultipartUpload")
}

// UploadPartCopy is refused.
func (l *Listing) UploadPartCopy(context.Context, *s3.UploadPartCopyInput, ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error) {
	return nil, l.refuse("UploadPartCopy")
}

// CompleteMultipartUpload is refused.
func (l *Listing) CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return nil, l.refuse("CompleteMultipartUpload")
}

// AbortMultipartUpload is refused.
func (l *Listing) AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return nil, l.refuse("AbortMultipartUpload")
}

// PutObject is refused.
func (l *Listing) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, l.refuse("PutObject")
}

// GetObject is refused.
func (l *Listing) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, l.refuse("GetObject")
}
