package failback_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/partition"
)

// Routes is naming.DataRoutes in a region, so failback and the registrar
// (and the CDK app) can never disagree on which prefixes carry partitions.
func TestRoutesFollowNamingDataRoutes(t *testing.T) {
	names := naming.Names{Prefix: "dr-analytics", Account: account}
	want := []partition.Route{
		{Bucket: "dr-analytics-streaming-123456789012-us-east-1", Prefix: "raw/", Database: "dr_analytics", Table: "raw"},
		{Bucket: "dr-analytics-batch-123456789012-us-east-1", Prefix: "compacted/", Database: "dr_analytics", Table: "compacted"},
	}
	if got := failback.Routes(names, "us-east-1"); !reflect.DeepEqual(got, want) {
		t.Errorf("Routes = %+v, want %+v", got, want)
	}

	original := naming.DataRoutes
	t.Cleanup(func() { naming.DataRoutes = original })
	naming.DataRoutes = append(slices.Clone(original), naming.DataRoute{Purpose: naming.AccessLogs, Prefix: "logs/", Table: "logs"})
	got := failback.Routes(names, "us-west-2")
	added := partition.Route{Bucket: "dr-analytics-access-logs-123456789012-us-west-2", Prefix: "logs/", Database: "dr_analytics", Table: "logs"}
	if len(got) != 3 || got[2] != added {
		t.Errorf("after adding a data route, Routes = %+v, want it to end with %+v", got, added)
	}
}
