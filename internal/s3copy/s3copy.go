// Package s3copy builds the x-amz-copy-source value of S3's CopyObject and
// UploadPartCopy, and the URL-encoded keys of S3 Batch Operations CSV
// manifests and completion reports. Guarantee: for any bucket and key, Source percent-encodes
// every byte of the key except unreserved characters (A-Z a-z 0-9 - _ . ~)
// and "/", so S3 decodes it back to exactly that key: a "+" stays a plus
// (a literal "+" would read as a space), and "%", "=", spaces and non-ASCII
// bytes survive the round trip.
package s3copy

import "strings"

// Source is the copy source "bucket/key" with the key percent-encoded,
// e.g. Source("b", "raw/a b+c.gz") = "b/raw/a%20b%2Bc.gz".
func Source(bucket, key string) string { return bucket + "/" + EncodeKey(key) }

// EncodeKey percent-encodes key as Source does. S3 Batch Operations wants
// the keys of a CSV manifest URL-encoded ("Creating a manifest file", S3
// User Guide), and reports them so; url.PathUnescape and url.QueryUnescape
// both decode the result back to key.
func EncodeKey(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(3 * len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
