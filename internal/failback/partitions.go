package failback

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/dr-analytics/drplan/internal/backoff"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/partition"
)

// GlueAPI is the Glue client the partition registrar needs.
type GlueAPI = partition.GlueAPI

// Routes maps a region's data prefixes to its Glue tables, one route per
// naming.DataRoutes entry (the partition registrar's own routes come from
// the same list), e.g. streaming bucket raw/ to table raw.
func Routes(names naming.Names, region string) []partition.Route {
	routes := make([]partition.Route, len(naming.DataRoutes))
	for i, r := range naming.DataRoutes {
		routes[i] = partition.Route{Bucket: names.Bucket(r.Purpose, region), Prefix: r.Prefix, Database: names.Database(), Table: r.Table}
	}
	return routes
}

// partitionStep registers, in the primary catalog, the partitions of every
// object the copy step put (or found) in the primary buckets.
func partitionStep(ctx context.Context, in Input, names naming.Names, objects []Object, s *Step) error {
	objs := make([]partition.Object, len(objects))
	for i, o := range objects {
		objs[i] = partition.Object{Bucket: o.Bucket, Key: o.Key}
	}
	if in.DryRun {
		s.Actions = append(s.Actions, fmt.Sprintf("would register the partitions of %d objects in %s's catalog (database %s)", len(objs), in.Primary.Name, names.Database()))
		return nil
	}
	res, err := newRegistrar(in.Primary.Glue, Routes(names, in.Primary.Name), in.Retry).RegisterObjects(ctx, objs)
	describePartitions(s, res, in.Primary.Name)
	if err != nil {
		return fmt.Errorf("register partitions in %s: %w", in.Primary.Name, err)
	}
	return nil
}

func describePartitions(s *Step, res partition.Result, region string) {
	s.Actions = append(s.Actions, fmt.Sprintf("registered %d partitions, %d already present, %d failed (from %d objects%s)",
		len(res.Created), len(res.AlreadyPresent), len(res.Failed), res.Received, skippedText(res.Skipped)))
	for i, p := range res.Created {
		if i == maxListed {
			s.Actions = append(s.Actions, fmt.Sprintf("  ... and %d more", len(res.Created)-maxListed))
			break
		}
		s.Actions = append(s.Actions, "  + "+partitionText(p))
	}
	for _, p := range res.Failed {
		s.Mismatches = append(s.Mismatches, "partition not registered: "+partitionText(p))
	}
	s.Counts = append(s.Counts, Count{What: "partitions in " + region + "'s catalog", Unit: "partitions", Backup: -1, Primary: int64(len(res.Created) + len(res.AlreadyPresent))})
}

func partitionText(p partition.Partition) string {
	return fmt.Sprintf("%s.%s (%s) %s", p.Database, p.Table, strings.Join(p.Values, ", "), p.Location)
}

func skippedText(skipped map[partition.SkipReason]int) string {
	if len(skipped) == 0 {
		return ""
	}
	var parts []string
	for reason, n := range skipped {
		parts = append(parts, fmt.Sprintf("%d %v", n, reason))
	}
	sort.Strings(parts)
	return "; skipped " + strings.Join(parts, ", ")
}

// RepairInput configures a partition repair in one region.
type RepairInput struct {
	// S3 lists the region's data buckets; Glue is the region's catalog.
	S3     S3API
	Glue   GlueAPI
	Names  naming.Names
	Region string
	// Since limits the repair to objects modified at or after it (zero:
	// every object).
	Since time.Time
	Retry backoff.Policy
}

// Repair is what a partition repair did, as a report step.
type Repair struct {
	Objects int
	Result  partition.Result
	Step    Step
}

// RepairPartitions lists the objects under the data prefixes of a region's
// buckets and registers every partition missing from its catalog.
// Registering is idempotent: present partitions are counted, not changed.
func RepairPartitions(ctx context.Context, in RepairInput) (Repair, error) {
	routes := Routes(in.Names, in.Region)
	var objs []partition.Object
	for _, r := range routes {
		err := listPrefix(ctx, in.S3, r.Bucket, r.Prefix, func(o listedObject) {
			if !o.lastModified.Before(in.Since) {
				objs = append(objs, partition.Object{Bucket: r.Bucket, Key: o.key})
			}
		})
		if err != nil {
			return Repair{}, err
		}
	}
	rep := Repair{Objects: len(objs), Step: Step{Name: "repair partitions"}}
	res, err := newRegistrar(in.Glue, routes, retryPolicy(in.Retry)).RegisterObjects(ctx, objs)
	rep.Result = res
	describePartitions(&rep.Step, res, in.Region)
	if err != nil {
		return rep, fmt.Errorf("register partitions in %s: %w", in.Region, err)
	}
	return rep, nil
}

// newRegistrar builds a registrar that retries with the run's policy and
// keeps its JSON log lines off the operator's terminal.
func newRegistrar(glue GlueAPI, routes []partition.Route, p backoff.Policy) *partition.Registrar {
	return partition.NewRegistrar(glue, routes,
		partition.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))),
		partition.WithRetry(p))
}
