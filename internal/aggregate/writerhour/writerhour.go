// Package writerhour is the contract of the aggregates table's index by
// writing region and hour: the aggregator writes the attribute, the table
// construct declares the global secondary index, and failback queries it.
// Guarantee: every item a region writes in an hour carries one of Spread
// values for that region and hour, so the items one region wrote in a time
// range are found by querying Spread partitions per hour, never by
// scanning the table; spreading an hour over Spread partitions keeps the
// window-end burst of writes off a single index partition (DynamoDB
// throttles one partition key value beyond 1,000 write units a second,
// "Best practices for designing and using partition keys effectively").
package writerhour

import (
	"fmt"
	"hash/fnv"
	"time"
)

const (
	// Index is the global secondary index's name.
	Index = "by-writer-hour"
	// Attribute is its partition key, e.g. "us-west-2#2026-11-25T13#7".
	Attribute = "writer_hour"
	// SortKey is its sort key: when the item was written (RFC 3339, UTC).
	SortKey = "written_at"
	// Spread is the number of partitions per region and hour.
	Spread = 10
	hour   = "2006-01-02T15"
)

// Value is the attribute of an item with partition key pk that region
// writes at t.
func Value(region string, t time.Time, pk string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(pk))
	return fmt.Sprintf("%s#%s#%d", region, t.UTC().Format(hour), h.Sum32()%Spread)
}

// Values are every attribute value region's items written in the hour of
// t can carry.
func Values(region string, t time.Time) []string {
	out := make([]string, Spread)
	for i := range Spread {
		out[i] = fmt.Sprintf("%s#%s#%d", region, t.UTC().Format(hour), i)
	}
	return out
}
