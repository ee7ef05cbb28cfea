package s3copy_test

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/dr-analytics/drplan/internal/s3copy"
)

var keys = []struct {
	name, key, want string
}{
	{"plain key keeps its slashes", "raw/year=2026/part-0.gz", "bucket/raw/year%3D2026/part-0.gz"},
	{"space", "raw/a b.gz", "bucket/raw/a%20b.gz"},
	{"plus stays a plus", "raw/a+b.gz", "bucket/raw/a%2Bb.gz"},
	{"equals", "compacted/dt=2026-11-24/p.parquet", "bucket/compacted/dt%3D2026-11-24/p.parquet"},
	{"percent", "raw/100%/x", "bucket/raw/100%25/x"},
	{"unicode", "raw/café/日本.gz", "bucket/raw/caf%C3%A9/%E6%97%A5%E6%9C%AC.gz"},
	{"unreserved punctuation", "a-b_c.d~e", "bucket/a-b_c.d~e"},
	{"empty segments and a leading slash", "/a//b/", "bucket//a//b/"},
	{"reserved characters", "a?b#c&d:e@f,g;h", "bucket/a%3Fb%23c%26d%3Ae%40f%2Cg%3Bh"},
}

func TestSourceEncodesEverythingButUnreservedAndSlash(t *testing.T) {
	for _, tc := range keys {
		t.Run(tc.name, func(t *testing.T) {
			got := s3copy.Source("bucket", tc.key)
			if got != tc.want {
				t.Errorf("Source(%q) = %q, want %q", tc.key, got, tc.want)
			}
			// Both decodings S3 front ends use give the key back, since
			// no "+" is left to read as a space.
			for name, unescape := range map[string]func(string) (string, error){"path": url.PathUnescape, "query": url.QueryUnescape} {
				if back, err := unescape(got); err != nil || back != "bucket/"+tc.key {
					t.Errorf("%s-unescaped %q = %q, %v; want %q", name, got, back, err, "bucket/"+tc.key)
				}
			}
		})
	}
}

// A server-side copy with Source finds the source object whatever its key.
func TestCopyObjectWithSourceCopiesTheNamedObject(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDFAKE", "fake-secret", ""),
	})
	ctx := context.Background()
	for _, bucket := range []string{"src", "dst"} {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range keys {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte("object " + tc.key)
			if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String(tc.key), Body: bytes.NewReader(body)}); err != nil {
				t.Fatal(err)
			}
			if _, err := client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String(s3copy.Source("src", tc.key))}); err != nil {
				t.Fatalf("copy %q: %v", tc.key, err)
			}
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if !bytes.Equal(got, body) {
				t.Errorf("copied %q, want %q", got, body)
			}
		})
	}
}
