// Package partition registers the Glue partitions that new S3 objects imply.
// Its guarantee: every object under a routed prefix whose path names the
// table's partition keys in order ends up with its partition in the catalog,
// or is reported as failed (an SQS batch item failure, or an error from
// RegisterObjects) so it is tried again; nothing else ever fails a batch.
// Objects that imply no partition (test events, folder markers, temporary,
// hidden and Firehose error files, keys outside the routes) are skipped with
// a named reason and one log line each. Glue sees at most one GetTable per
// table per container and one BatchCreatePartition per 100 partitions that
// are new to the container; partitions it already registered cost nothing.
//
// The Lambda (lambdas/partitions) consumes S3 notifications from SQS with
// HandleSQS; the operator CLI repairs partitions with RegisterObjects.
package partition

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Object is an S3 object; Key is the real key, already URL-decoded.
type Object struct {
	Bucket, Key string
}

// Partition is one partition of a Glue table.
type Partition struct {
	Database, Table string
	// Values are the partition's values in the table's key order, e.g. ["2026", "01"].
	Values []string
	// Location is the partition's S3 folder with a trailing slash, e.g. "s3://bucket/raw/year=2026/month=01/".
	Location string
}

// SkipReason names why an object implies no partition.
type SkipReason string

// Skip reasons. Each is a log field value and a metric.
const (
	// SkipTestEvent: the s3:TestEvent S3 sends when notifications are set up.
	SkipTestEvent SkipReason = "test-event"
	// SkipNotObjectCreated: a notification for another event type, e.g. ObjectRemoved.
	SkipNotObjectCreated SkipReason = "not-object-created"
	// SkipOutsideRoutes: no route covers the object's bucket and key.
	SkipOutsideRoutes SkipReason = "outside-routes"
	// SkipErrorOutput: Firehose error output ("errors/" at the bucket root or after the prefix).
	SkipErrorOutput SkipReason = "error-output"
	// SkipFolderMarker: a folder placeholder ("a/b/" or "a/b_$folder$").
	SkipFolderMarker SkipReason = "folder-marker"
	// SkipTemporary: writer scratch files (a "_temporary" folder or a ".tmp" file).
	SkipTemporary SkipReason = "temporary-file"
	// SkipHidden: a file or folder whose name starts with "." or "_" (e.g.
	// "_SUCCESS"), which Hive and Athena ignore.
	SkipHidden SkipReason = "hidden-file"
	// SkipNoPartitionPath: the key does not start with key=value folders
	// naming exactly the table's partition keys, in order, followed by a file.
	SkipNoPartitionPath SkipReason = "no-partition-path"
	// SkipUnpartitionedTable: the route's table has no partition keys.
	SkipUnpartitionedTable SkipReason = "unpartitioned-table"
)

// SkipReasons lists every reason, in a stable order for metrics.
var SkipReasons = []SkipReason{
	SkipTestEvent, SkipNotObjectCreated, SkipOutsideRoutes, SkipErrorOutput, SkipFolderMarker,
	SkipTemporary, SkipHidden, SkipNoPartitionPath, SkipUnpartitionedTable,
}

const (
	errorsFolder = "errors/"
	folderSuffix = "_$folder$"
)

// PartitionOf parses the partition a key (already URL-decoded) belongs to
// under route, for a table partitioned by partitionKeys. After the route's
// prefix, the key's leading folders must be name=value pairs naming exactly
// partitionKeys in order (names compare case-insensitively, values must not be
// empty), followed by at least one more path segment (the file). Values are
// the text after the first "=", with Hive's %XX path escapes decoded, as
// Athena's MSCK REPAIR TABLE reads them. The location is "s3://" + bucket +
// "/" + the key up to and including those folders, ending in "/". When the key
// implies no partition, ok is false and skip says why.
func PartitionOf(route Route, partitionKeys []string, key string) (p Partition, skip SkipReason, ok bool) {
	rest, under := strings.CutPrefix(key, route.Prefix)
	if !under {
		return Partition{}, SkipOutsideRoutes, false
	}
	if reason, skipped := skipFile(key, rest); skipped {
		return Partition{}, reason, false
	}
	if len(partitionKeys) == 0 {
		return Partition{}, SkipUnpartitionedTable, false
	}
	values := make([]string, len(partitionKeys))
	pathLen := 0
	for i, name := range partitionKeys {
		slash := strings.IndexByte(rest[pathLen:], '/')
		if slash < 0 {
			return Partition{}, SkipNoPartitionPath, false // too few folders, or no file after them
		}
		segment := rest[pathLen : pathLen+slash]
		gotName, value, isPair := strings.Cut(segment, "=")
		if !isPair || value == "" || !strings.EqualFold(gotName, name) {
			return Partition{}, SkipNoPartitionPath, false
		}
		values[i] = unescapePathValue(value)
		pathLen += slash + 1
	}
	return Partition{
		Database: route.Database,
		Table:    route.Table,
		Values:   values,
		Location: "s3://" + route.Bucket + "/" + route.Prefix + rest[:pathLen],
	}, "", true
}

// skipFile says whether a key is a file that never implies a partition;
// rest is the key after the route's prefix.
func skipFile(key, rest string) (SkipReason, bool) {
	if strings.HasPrefix(key, errorsFolder) || strings.HasPrefix(rest, errorsFolder) {
		return SkipErrorOutput, true
	}
	if strings.HasSuffix(key, "/") || strings.HasSuffix(key, folderSuffix) {
		return SkipFolderMarker, true
	}
	segments := strings.Split(rest, "/")
	if strings.HasSuffix(segments[len(segments)-1], ".tmp") || slices.Contains(segments, "_temporary") {
		return SkipTemporary, true
	}
	for _, s := range segments {
		if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "_") {
			return SkipHidden, true
		}
	}
	return "", false
}

// unescapePathValue decodes Hive's path escaping (%XX) in a partition value,
// leaving any "%" that does not start a valid escape as it is, like Hive. A
// result that is not valid UTF-8 is not a value Glue can store, so the raw
// text is kept instead.
func unescapePathValue(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	if out := b.String(); utf8.ValidString(out) {
		return out
	}
	return s
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
