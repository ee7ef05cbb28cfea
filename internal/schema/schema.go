// Package schema is the event schema shared by the Glue tables (which
// declare it) and the nightly compaction (which selects it). Producers may
// send more fields; the raw table's JSON SerDe ignores them.
package schema

// Column is a Glue column.
type Column struct{ Name, Type string }

// EventColumns are the event fields both tables expose, in order.
var EventColumns = []Column{
	{"id", "string"},
	{"type", "string"},
	{"source", "string"},
	{"value", "double"},
	{"event_time", "string"},
	{"ingested_at", "string"},
}

// RawPartitionKeys match Firehose's `raw/year=!{timestamp:yyyy}/month=.../` prefix.
var RawPartitionKeys = []string{"year", "month", "day", "hour"}

// CompactedPartitionKeys match the nightly job's `compacted/dt=YYYY-MM-DD/` prefix.
var CompactedPartitionKeys = []string{"dt"}
