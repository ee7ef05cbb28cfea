package failback

import (
	"fmt"
	"time"

	"github.com/dr-analytics/drplan/internal/naming"
)

// DRPrefixes are the prefixes of a data bucket that DR can have written
// since the failover, so the copy lists only them, never the whole bucket:
// its work grows with the hours of the disaster, not with the bucket.
//   - streaming: Firehose's hour partitions raw/year=/month=/day=/hour=
//     from the failover's hour to now (Firehose partitions by arrival time,
//     UTC, never earlier than the failover), and errors/, which holds only
//     failed deliveries.
//   - batch: compacted/dt= from the day before the failover (the nightly
//     job compacts the previous day) to today.
func DRPrefixes(p naming.Purpose, since, now time.Time) []string {
	since, now = since.UTC(), now.UTC()
	var out []string
	switch p {
	case naming.Streaming:
		for h := since.Truncate(time.Hour); !h.After(now); h = h.Add(time.Hour) {
			out = append(out, fmt.Sprintf("%syear=%04d/month=%02d/day=%02d/hour=%02d/", naming.RawPrefix, h.Year(), h.Month(), h.Day(), h.Hour()))
		}
		out = append(out, naming.ErrorsPrefix)
	case naming.Batch:
		first := time.Date(since.Year(), since.Month(), since.Day()-1, 0, 0, 0, 0, time.UTC)
		for d := first; !d.After(now); d = d.AddDate(0, 0, 1) {
			out = append(out, fmt.Sprintf("%sdt=%s/", naming.CompactedPrefix, d.Format(time.DateOnly)))
		}
	}
	return out
}
