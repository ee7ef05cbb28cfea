package test

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Issue: two recovery tiers. backup-restore (the main configuration) keeps
// nothing billed by the hour in the backup region; pilot-light pre-builds
// the ingest pipeline there, out of traffic until the failover.

// hourlyBilled are the resource types billed by the hour whether used or
// not: load balancers (per hour and LCU), NAT gateways, Kinesis streams
// (on-demand: per stream-hour; provisioned: per shard-hour), interface VPC
// endpoints, instances and databases. Firehose bills per GB ingested, an
// idle delivery stream nothing.
var hourlyBilled = []string{"AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::EC2::NatGateway", "AWS::Kinesis::Stream",
	"AWS::EC2::VPCEndpoint", "AWS::EC2::Instance", "AWS::RDS::DBInstance"}

// pilotLightHourly is the documented idle cost of pilot-light (README "Two
// recovery tiers"): exactly one load balancer and one stream.
var pilotLightHourly = []string{"AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::Kinesis::Stream"}

func hourlyIn(tpl template) []string {
	var types []string
	for _, r := range tpl.resources() {
		if slices.Contains(hourlyBilled, r.Type) {
			types = append(types, r.Type)
		}
	}
	sort.Strings(types)
	return types
}

func TestTiersBillByTheHourExactlyWhatTheyDocument(t *testing.T) {
	check(t, "backup-restore: BackupStack holds nothing billed by the hour", func(t *testing.T) {
		if got := hourlyIn(synth(t).stack(t, naming.BackupStack)); len(got) != 0 {
			t.Errorf("hourly-billed %v", got)
		}
	})
	check(t, "pilot-light: BackupStack holds exactly one load balancer and one stream", func(t *testing.T) {
		want := slices.Clone(pilotLightHourly)
		sort.Strings(want)
		if got := hourlyIn(synthPilotLight(t).stack(t, naming.BackupStack)); show(got) != show(want) {
			t.Errorf("hourly-billed %v, want %v", got, want)
		}
	})
	check(t, "pilot-light: the failover stack creates nothing billed by the hour", func(t *testing.T) {
		if got := hourlyIn(synthPilotLight(t).stack(t, naming.BackupFailoverStack)); len(got) != 0 {
			t.Errorf("hourly-billed %v", got)
		}
	})
}

func TestPilotLightEndpointStaysOutOfTrafficUntilFailover(t *testing.T) {
	a := synthPilotLight(t)
	backup := a.stack(t, naming.BackupStack)
	group := backup.one(t, "AWS::GlobalAccelerator::EndpointGroup", map[string]any{"EndpointGroupRegion": backupRegion})
	lb := backup.one(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", map[string]any{})
	check(t, "the pre-built endpoint has weight 0: Global Accelerator ignores dials when it fails over, not weights", func(t *testing.T) {
		want := map[string]any{"EndpointConfigurations": []any{map[string]any{
			"EndpointId": matchFunc(func(v any) bool { return refersTo(v, lb.ID) }), "Weight": 0, "ClientIPPreservationEnabled": true,
		}}}
		if !like(group.Properties, want) {
			t.Errorf("endpoint group %s", show(group.Properties))
		}
	})
	check(t, "the pre-built endpoint waits for Firehose and is guarded against a BackupStack deploy during DR", func(t *testing.T) {
		delivery := backup.one(t, "AWS::KinesisFirehose::DeliveryStream", map[string]any{})
		guard := backup.one(t, "Custom::DeployGuard", map[string]any{"Stack": naming.BackupStack, "Weight": "0",
			"Reason": contains("weight back to 0")})
		deps := asStrings(group.Raw["DependsOn"])
		if !slices.Contains(deps, delivery.ID) || !slices.Contains(deps, guard.ID) {
			t.Errorf("DependsOn %v, want %s and %s", deps, delivery.ID, guard.ID)
		}
	})
	failover := a.stack(t, naming.BackupFailoverStack)
	check(t, "the failover deploy gives the endpoint its weight, then moves the primary dial", func(t *testing.T) {
		start := failover.one(t, "Custom::TableRestore", map[string]any{})
		dial := failover.one(t, "Custom::TrafficDial", map[string]any{"BackupEndpointWeight": "128", "DialPercentage": "0", "BackupRegion": backupRegion})
		if !slices.Contains(asStrings(dial.Raw["DependsOn"]), start.ID) {
			t.Errorf("DependsOn %v, want the restore's start %s", dial.Raw["DependsOn"], start.ID)
		}
		for _, typ := range []string{"AWS::GlobalAccelerator::EndpointGroup", "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::Kinesis::Stream", "AWS::KinesisFirehose::DeliveryStream"} {
			if n := len(failover.ofType(typ)); n != 0 {
				t.Errorf("the pilot-light failover stack has %d %s", n, typ)
			}
		}
	})
	check(t, "the nightly compaction runs only where traffic is, in both tiers", func(t *testing.T) {
		for _, tc := range []struct {
			a     *assembly
			stack string
			want  int
		}{{a, naming.BackupStack, 0}, {a, naming.BackupFailoverStack, 1}, {synth(t), naming.BackupStack, 0}, {synth(t), naming.BackupFailoverStack, 1}} {
			if n := len(tc.a.stack(t, tc.stack).ofType("AWS::Scheduler::Schedule")); n != tc.want {
				// BackupStack's readiness and restore-test schedules are not compaction.
				if got := compactionSchedules(tc.a.stack(t, tc.stack)); got != tc.want {
					t.Errorf("%s: %d compaction schedules, want %d", tc.stack, got, tc.want)
				}
			}
		}
	})
}

func compactionSchedules(tpl template) int {
	n := 0
	for _, s := range tpl.ofType("AWS::Scheduler::Schedule") {
		if s.Properties["Name"] == names.StateMachine() {
			n++
		}
	}
	return n
}

// TestSwitchingTiersMovesOnlyThePipeline synthesizes both tiers and checks
// what a switch changes: the pipeline and its endpoint group move between
// BackupFailoverStack and BackupStack with the same logical ids, the tier
// guard's Tier changes, and nothing else in BackupStack does.
func TestSwitchingTiersMovesOnlyThePipeline(t *testing.T) {
	restoreTier, pilot := synth(t), synthPilotLight(t)
	ids := func(tpl template) map[string]resource {
		out := map[string]resource{}
		for _, r := range tpl.resources() {
			out[r.ID] = r
		}
		return out
	}
	brBackup, plBackup := ids(restoreTier.stack(t, naming.BackupStack)), ids(pilot.stack(t, naming.BackupStack))
	brFailover, plFailover := ids(restoreTier.stack(t, naming.BackupFailoverStack)), ids(pilot.stack(t, naming.BackupFailoverStack))
	var moved []string
	for id, r := range plBackup {
		if _, ok := brBackup[id]; ok {
			continue
		}
		moved = append(moved, id)
		if strings.HasPrefix(id, "EndpointGroupGuard") {
			continue // the pre-built endpoint's guard exists only in BackupStack
		}
		if _, ok := brFailover[id]; !ok {
			t.Errorf("pilot-light adds %s (%s) to BackupStack, which backup-restore's failover stack does not create", id, r.Type)
		}
		if _, ok := plFailover[id]; ok {
			t.Errorf("%s is in both pilot-light stacks", id)
		}
	}
	if len(moved) == 0 {
		t.Fatal("pilot-light moved nothing into BackupStack")
	}
	for id := range brBackup {
		if _, ok := plBackup[id]; !ok {
			t.Errorf("pilot-light removes %s from BackupStack", id)
		}
	}
	check(t, "the tier guard mirrors the tier, and the pre-built pipeline waits for it", func(t *testing.T) {
		for _, tc := range []struct {
			a    *assembly
			tier string
		}{{restoreTier, config.TierBackupRestore}, {pilot, config.TierPilotLight}} {
			tpl := tc.a.stack(t, naming.BackupStack)
			guard := tpl.one(t, "Custom::DeployGuard", map[string]any{"Tier": tc.tier, "Reason": contains("switch the recovery tier to " + tc.tier),
				"FailoverStack": names.StackName(naming.BackupFailoverStack)})
			// It may look up the failover stack, which holds the same names
			// from failback (record deleted) until `cdk destroy`.
			fn := tpl.functionNamed(t, names.Function("deploy-guard"))
			grants := tpl.grants(roleOf(fn.Properties["Role"]))
			if show(grants["cloudformation:DescribeStacks"]) != show([]string{names.StackArn(naming.BackupFailoverStack, backupRegion)}) {
				t.Errorf("cloudformation:DescribeStacks on %v", grants["cloudformation:DescribeStacks"])
			}
			if tc.tier == config.TierPilotLight {
				stream := tpl.one(t, "AWS::Kinesis::Stream", map[string]any{})
				if !slices.Contains(asStrings(stream.Raw["DependsOn"]), guard.ID) {
					t.Errorf("stream DependsOn %v, want the tier guard %s", stream.Raw["DependsOn"], guard.ID)
				}
			}
		}
	})
	check(t, "everything else in BackupStack is the same in both tiers", func(t *testing.T) {
		for id, r := range brBackup {
			p, ok := plBackup[id]
			if !ok || r.Type == "Custom::DeployGuard" || r.Type == "AWS::CloudWatch::Dashboard" {
				continue
			}
			if show(r.Properties) != show(p.Properties) {
				t.Errorf("%s (%s) differs between the tiers", id, r.Type)
			}
		}
	})
}
