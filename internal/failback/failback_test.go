package failback_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dr-analytics/drplan/internal/awsfake"
	"github.com/dr-analytics/drplan/internal/drfake"
	"github.com/dr-analytics/drplan/internal/failback"
	"github.com/dr-analytics/drplan/internal/naming"
)

// seedPipeline publishes the backup pipeline's metrics: producers from
// the failover until the dials move back (now), consumers caught up two
// minutes later.
func (h *harness) seedPipeline() { h.w.PublishBackupPipeline(traffic(0)) }

// seedAll prepares a full failback: objects in both replica buckets, table
// items, and the pipeline's metrics.
func (h *harness) seedAll(t testing.TB) {
	t.Helper()
	h.seedObjects(t, 12)
	h.w.Clock.Set(failover.Add(90 * time.Minute))
	for _, dt := range []string{"2026-11-24", "2026-11-25"} {
		h.w.S3.PutObject(t, h.names.Bucket(naming.Batch, h.cfg.BackupRegion), "compacted/dt="+dt+"/part-00000.parquet", []byte("parquet "+dt))
	}
	h.w.Clock.Set(now)
	h.seedTables(t, 20)
	h.seedPipeline()
}

// snapshot is everything failback could change, printed.
func (h *harness) snapshot(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, region := range []string{h.cfg.PrimaryRegion, h.cfg.BackupRegion} {
		for _, p := range []naming.Purpose{naming.Streaming, naming.Batch} {
			objects := h.w.S3.Objects(t, h.names.Bucket(p, region))
			for _, k := range slices.Sorted(maps.Keys(objects)) {
				fmt.Fprintf(&b, "%s %s %d\n", k, objects[k].ETag, objects[k].Size)
			}
		}
		items := scanAll(t, h.dynamo(region), h.names.Table())
		for _, k := range slices.Sorted(maps.Keys(items)) {
			for _, attr := range slices.Sorted(maps.Keys(items[k])) {
				fmt.Fprintf(&b, "%s %s=%v ", k, attr, items[k][attr])
			}
			fmt.Fprintln(&b)
		}
		fmt.Fprintln(&b, h.glue[region].PartitionValues(h.names.Database(), naming.RawTable), h.glue[region].PartitionValues(h.names.Database(), naming.CompactedTable))
	}
	for _, arn := range []string{h.w.PrimaryGroupArn, h.w.BackupGroupArn} {
		g, _ := h.w.GlobalAccelerator.EndpointGroup(arn)
		fmt.Fprintln(&b, arn, *g.Dial)
	}
	return b.String()
}

func dial(t *testing.T, h *harness, arn string) float32 {
	t.Helper()
	g, ok := h.w.GlobalAccelerator.EndpointGroup(arn)
	if !ok || g.Dial == nil {
		t.Fatalf("endpoint group %s missing or without dial", arn)
	}
	return *g.Dial
}

func reportText(t *testing.T, r failback.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestFailbackRunsEveryStepAndASecondRunChangesNothing(t *testing.T) {
	h := newHarness(t).withTables(t)
	h.seedAll(t)

	report, err := failback.Run(context.Background(), h.input())
	if err != nil {
		t.Fatalf("%v\n%s", err, reportText(t, report))
	}
	t.Logf("first run:\n%s", reportText(t, report))
	if !report.OK() || len(report.Steps) != 7 {
		t.Fatalf("report not OK or steps missing:\n%s", reportText(t, report))
	}
	if report.Preflight.Failover != failover || report.Preflight.FailoverSource != "BackupFailoverStack creation time" {
		t.Errorf("failover time %s from %q, want %s from the failover stack", report.Preflight.Failover, report.Preflight.FailoverSource, failover)
	}
	if p, b := dial(t, h, h.w.PrimaryGroupArn), dial(t, h, h.w.BackupGroupArn); p != 100 || b != 0 {
		t.Errorf("dials primary %v backup %v, want 100 and 0", p, b)
	}
	if got := h.w.S3.Calls("CopyObject"); got != 14 {
		t.Errorf("CopyObject calls = %d, want 14 (12 raw + 2 compacted)", got)
	}
	if got := len(scanAll(t, h.dynamo(h.cfg.PrimaryRegion), h.names.Table())); got != 50 {
		t.Errorf("primary table has %d items, want 30 + 20 merged", got)
	}
	raw := h.glue[h.cfg.PrimaryRegion].PartitionValues(h.names.Database(), naming.RawTable)
	wantRaw := [][]string{{"2026", "11", "25", "11"}}
	if !reflect.DeepEqual(raw, wantRaw) {
		t.Errorf("primary raw partitions = %v, want %v", raw, wantRaw)
	}
	compacted := h.glue[h.cfg.PrimaryRegion].PartitionValues(h.names.Database(), naming.CompactedTable)
	if !reflect.DeepEqual(compacted, [][]string{{"2026-11-24"}, {"2026-11-25"}}) {
		t.Errorf("primary compacted partitions = %v", compacted)
	}
	if got := h.w.Clock.Now().Sub(now); got < time.Minute {
		t.Errorf("the run waited %s on its clock; the drain needs the quiet window and one buffer interval", got)
	}

	before := h.snapshot(t)
	updates := len(h.w.GlobalAccelerator.CallsTo("UpdateEndpointGroup"))
	again, err := failback.Run(context.Background(), h.input())
	if err != nil || !again.OK() {
		t.Fatalf("second run: %v\n%s", err, reportText(t, again))
	}
	if after := h.snapshot(t); after != before {
		t.Errorf("second run changed state:\nbefore %s\nafter  %s", before, after)
	}
	if h.w.S3.Calls("CopyObject") != 14 || len(h.w.GlobalAccelerator.CallsTo("UpdateEndpointGroup")) != updates {
		t.Errorf("second run copied or updated again: %d copies, %d dial updates", h.w.S3.Calls("CopyObject"), len(h.w.GlobalAccelerator.CallsTo("UpdateEndpointGroup")))
	}
	text := reportText(t, again)
	for _, want := range []string{"primary group us-east-1 already at 100%", "copied 0 objects", "14 already present", "wrote 0 items, 20 already present", "registered 0 partitions"} {
		if !strings.Contains(text, want) {
			t.Errorf("second run's report lacks %q:\n%s", want, text)
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	h := newHarness(t).withTables(t)
	h.seedAll(t)
	before := h.snapshot(t)
	in := h.input()
	in.DryRun = true
	report, err := failback.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("%v\n%s", err, reportText(t, report))
	}
	t.Logf("dry run:\n%s", reportText(t, report))
	if after := h.snapshot(t); after != before {
		t.Errorf("dry run changed state:\nbefore %s\nafter  %s", before, after)
	}
	if n := len(h.w.GlobalAccelerator.CallsTo("UpdateEndpointGroup")) + h.w.S3.Calls("CopyObject") + h.glue[h.cfg.PrimaryRegion].Calls("BatchCreatePartition"); n != 0 {
		t.Errorf("dry run made %d changing calls", n)
	}
	text := reportText(t, report)
	for _, want := range []string{"would set the primary group us-east-1 from 0% to 100%", "would copy 14 objects", "would write 20 items", "would register the partitions of 14 objects"} {
		if !strings.Contains(text, want) {
			t.Errorf("dry-run report lacks %q:\n%s", want, text)
		}
	}
}

func TestFailbackRefusesToStartWithAClearReason(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *harness, in *failback.Input)
		want  string
	}{
		{"invalid credentials", func(h *harness, in *failback.Input) {
			h.w.STS.Fail("GetCallerIdentity", drfake.Fault{Status: 403, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."})
		}, "cannot verify credentials"},
		{"credentials of another account", func(h *harness, in *failback.Input) { in.Config.Account = "999999999999" },
			"credentials are for account 123456789012 but the config names account 999999999999"},
		{"primary region not answering", func(h *harness, in *failback.Input) {
			in.Primary.DynamoDB = dynamodb.NewFromConfig(awsfake.Config(awsfake.DeadEndpoint(t), h.cfg.PrimaryRegion))
		}, "the primary region us-east-1 does not answer"},
		{"primary table missing", func(h *harness, in *failback.Input) {
			in.Primary.DynamoDB = h.w.Primary.DynamoDB.Client() // a control plane without the table
		}, "does not exist in the primary region"},
		{"no failover stack, no recorded start and no -since", func(h *harness, in *failback.Input) {
			h.w.Backup.CloudFormation.DeleteStack(h.w.Names.StackName(naming.BackupFailoverStack))
			deleteParameter(t, h, h.names.FailoverStartedParameter())
		}, "give it with -since"},
		{"recorded start unreadable", func(h *harness, in *failback.Input) {
			h.w.Backup.SSM.Inject("GetParameter", awsfake.Fault{Code: "AccessDeniedException", Message: "not authorized to perform ssm:GetParameter"})
		}, "allow ssm:GetParameter on it, or give the failover time with -since"},
		{"restored table from a backup older than the merge's index", func(h *harness, in *failback.Input) {
			h.w.Backup.DynamoDB.PutTable(awsfake.Table{Name: h.names.Table(), PITR: true})
		}, "has no index by-writer-hour (it was restored from a backup taken before the index existed)"},
		{"the merge's index still building", func(h *harness, in *failback.Input) {
			h.w.Backup.DynamoDB.PutTable(awsfake.Table{Name: h.names.Table(), PITR: true, Indexes: map[string]string{"by-writer-hour": "CREATING"}})
		}, "index by-writer-hour of table dr-analytics-aggregates in us-west-2 is CREATING: wait until it is ACTIVE"},
		{"recorded start not a time", func(h *harness, in *failback.Input) {
			h.w.Backup.SSM.PutParameter(awsfake.Parameter{Name: h.names.FailoverStartedParameter(), Value: "yesterday"})
		}, `holds "yesterday", not an RFC 3339 time`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.w.Primary.DynamoDB.PutTable(awsfake.Table{Name: "other-table"})
			in := h.input()
			in.Primary.DynamoDB = h.w.Primary.DynamoDB.Client()
			h.w.Primary.DynamoDB.PutTable(awsfake.Table{Name: h.names.Table(), PITR: true})
			if tc.name == "primary table missing" {
				h.w.Primary.DynamoDB = awsfake.NewDynamoDB(t, h.cfg.PrimaryRegion, account)
			}
			tc.setup(h, &in)
			report, err := failback.Run(context.Background(), in)
			var refusal *failback.Refusal
			if !errors.As(err, &refusal) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a refusal containing %q", err, tc.want)
			}
			if len(report.Steps) != 0 || len(h.w.GlobalAccelerator.CallsTo("UpdateEndpointGroup")) != 0 {
				t.Errorf("a refused run must not start any step: %d steps", len(report.Steps))
			}
		})
	}
}

func TestSinceOverridesTheFailoverStack(t *testing.T) {
	h := newHarness(t)
	h.w.Primary.DynamoDB.PutTable(awsfake.Table{Name: h.names.Table()})
	in := h.input()
	in.Primary.DynamoDB = h.w.Primary.DynamoDB.Client()
	in.Since = failover.Add(-time.Hour)
	pf, err := failback.Check(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !pf.Failover.Equal(in.Since) || pf.FailoverSource != "--since" {
		t.Errorf("failover %s from %q, want %s from --since", pf.Failover, pf.FailoverSource, in.Since)
	}
}
