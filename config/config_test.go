package config

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, ctx map[string]any, env map[string]string) (Config, []string, error) {
	t.Helper()
	return LoadContext(ctx, func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, warnings, err := load(t, nil, nil)
	if err != nil {
		t.Fatalf("defaults must be valid: %v", err)
	}
	want := Config{
		Prefix: "dr-analytics", PrimaryRegion: "us-east-1", BackupRegion: "us-west-2",
		NoncurrentVersionDays: 30, BackupRetentionDays: 35, BackupFrequencyHours: 1,
		LogRetentionDays: 90, AggregateKey: "type", CompactionSchedule: "cron(30 1 * * ? *)",
		FirehoseBufferSeconds: 60, RestoreSource: RestoreAuto,
	}
	if c.Prefix != want.Prefix || c.PrimaryRegion != want.PrimaryRegion || c.BackupRegion != want.BackupRegion ||
		c.NoncurrentVersionDays != want.NoncurrentVersionDays || c.BackupRetentionDays != want.BackupRetentionDays ||
		c.BackupFrequencyHours != want.BackupFrequencyHours || c.LogRetentionDays != want.LogRetentionDays ||
		c.AggregateKey != want.AggregateKey || c.CompactionSchedule != want.CompactionSchedule ||
		c.FirehoseBufferSeconds != want.FirehoseBufferSeconds || c.RestoreSource != want.RestoreSource ||
		c.Account != "" || len(c.ProducerCIDRs) != 0 {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	if c.ReadinessIntervalMinutes != 15 || c.RPOTargetMinutes != 60 || c.RTOTargetMinutes != 60 ||
		c.RestoreTestSchedule != "cron(0 6 ? * SUN *)" || !c.RestoreTestEnabled() {
		t.Errorf("watching defaults: readiness every %d min, RPO %d min, RTO %d min, restore test %q",
			c.ReadinessIntervalMinutes, c.RPOTargetMinutes, c.RTOTargetMinutes, c.RestoreTestSchedule)
	}
	if c.ListenerPort() != 80 || c.HTTPS() {
		t.Errorf("default listener: port %d https %v, want 80 without TLS", c.ListenerPort(), c.HTTPS())
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "producerCidrs") {
		t.Errorf("no producers configured must warn how to allow them, got %q", warnings)
	}
}

func TestAccountFromEnvironment(t *testing.T) {
	c, _, err := load(t, nil, map[string]string{"CDK_DEFAULT_ACCOUNT": "123456789012"})
	if err != nil || c.Account != "123456789012" {
		t.Fatalf("account from CDK_DEFAULT_ACCOUNT: got %q, %v", c.Account, err)
	}
	c, _, err = load(t, map[string]any{KeyAccount: "210987654321"}, map[string]string{"CDK_DEFAULT_ACCOUNT": "123456789012"})
	if err != nil || c.Account != "210987654321" {
		t.Fatalf("context account wins over the environment: got %q, %v", c.Account, err)
	}
}

func TestValuesFromFlagsAndJSON(t *testing.T) {
	cases := []struct {
		name  string
		ctx   map[string]any
		check func(Config) bool
	}{
		{"number from -c string", map[string]any{KeyBackupRetentionDays: "90"}, func(c Config) bool { return c.BackupRetentionDays == 90 }},
		{"number from cdk.json float", map[string]any{KeyBackupRetentionDays: float64(7)}, func(c Config) bool { return c.BackupRetentionDays == 7 }},
		{"cidrs comma-separated", map[string]any{KeyProducerCIDRs: "203.0.113.0/24, 198.51.100.7/32"}, func(c Config) bool {
			return len(c.ProducerCIDRs) == 2 && c.ProducerCIDRs[1] == "198.51.100.7/32"
		}},
		{"restore test off", map[string]any{KeyRestoreTestSchedule: "off"}, func(c Config) bool { return !c.RestoreTestEnabled() }},
		{"restore test daily", map[string]any{KeyRestoreTestSchedule: "cron(0 3 * * ? *)"}, func(c Config) bool {
			return c.RestoreTestEnabled() && c.RestoreTestSchedule == "cron(0 3 * * ? *)"
		}},
		{"targets from -c strings", map[string]any{KeyRPOTarget: "15", KeyRTOTarget: "30", KeyReadinessInterval: "5"}, func(c Config) bool {
			return c.RPOTargetMinutes == 15 && c.RTOTargetMinutes == 30 && c.ReadinessIntervalMinutes == 5
		}},
		{"cidrs JSON list", map[string]any{KeyProducerCIDRs: []any{"10.0.0.0/8"}}, func(c Config) bool { return len(c.ProducerCIDRs) == 1 }},
		{"cidrs JSON in a string", map[string]any{KeyProducerCIDRs: `["10.0.0.0/8","198.51.100.0/24"]`}, func(c Config) bool { return len(c.ProducerCIDRs) == 2 }},
		{"account as a 12-digit JSON number", map[string]any{KeyAccount: float64(123456789012)}, func(c Config) bool { return c.Account == "123456789012" }},
		{"rate schedule", map[string]any{KeyCompactionSchedule: "rate(1 day)"}, func(c Config) bool { return c.CompactionSchedule == "rate(1 day)" }},
		{"https with both certificates", map[string]any{
			KeyPrimaryCertificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555",
			KeyBackupCertificateArn:  "arn:aws:acm:us-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555",
		}, func(c Config) bool {
			return c.HTTPS() && c.ListenerPort() == 443 && strings.Contains(c.CertificateArn("us-west-2"), "us-west-2")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := load(t, tc.ctx, nil)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !tc.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestBadValuesFailWithOneClearLine(t *testing.T) {
	cases := []struct {
		name    string
		ctx     map[string]any
		key     string
		mention string // what the message must say is allowed
	}{
		{"uppercase prefix", map[string]any{KeyPrefix: "DR"}, KeyPrefix, "lowercase"},
		{"prefix with trailing hyphen", map[string]any{KeyPrefix: "dr-"}, KeyPrefix, "lowercase"},
		{"prefix with double hyphen", map[string]any{KeyPrefix: "dr--x"}, KeyPrefix, "single hyphens"},
		{"prefix too long for bucket names", map[string]any{KeyPrefix: "a-very-long-analytics-prefix"}, KeyPrefix, "at most 25 characters"},
		{"unknown primary region", map[string]any{KeyPrimaryRegion: "us-middle-1"}, KeyPrimaryRegion, "us-east-1"},
		{"unknown backup region", map[string]any{KeyBackupRegion: "mars-1"}, KeyBackupRegion, "commercial AWS region"},
		{"same regions", map[string]any{KeyBackupRegion: "us-east-1"}, KeyBackupRegion, "other than primaryRegion"},
		{"bad account", map[string]any{KeyAccount: "12345"}, KeyAccount, "12-digit"},
		{"retention not a number", map[string]any{KeyNoncurrentVersionDays: "soon"}, KeyNoncurrentVersionDays, "whole number from 1 to 3650"},
		{"retention zero", map[string]any{KeyNoncurrentVersionDays: float64(0)}, KeyNoncurrentVersionDays, "whole number from 1 to 3650"},
		{"retention fractional", map[string]any{KeyBackupRetentionDays: 1.5}, KeyBackupRetentionDays, "whole number"},
		{"backup frequency not dividing a day", map[string]any{KeyBackupFrequencyHours: "5"}, KeyBackupFrequencyHours, "divisor of 24"},
		{"backup frequency above a day", map[string]any{KeyBackupFrequencyHours: "48"}, KeyBackupFrequencyHours, "from 1 to 24"},
		{"bad email", map[string]any{KeyAlarmEmail: "ops at example"}, KeyAlarmEmail, "e-mail"},
		{"email with display name", map[string]any{KeyAlarmEmail: "Ops <ops@example.com>"}, KeyAlarmEmail, "plain e-mail"},
		{"log retention not allowed by CloudWatch", map[string]any{KeyLogRetentionDays: "31"}, KeyLogRetentionDays, "30, 60"},
		{"bad cidr", map[string]any{KeyProducerCIDRs: "10.0.0.1/8"}, KeyProducerCIDRs, "no host bits"},
		{"cidr list with a number", map[string]any{KeyProducerCIDRs: []any{float64(1)}}, KeyProducerCIDRs, "list of strings"},
		{"bad prefix list", map[string]any{KeyProducerPrefixList: "pl-xyz"}, KeyProducerPrefixList, "pl-0123456789abcdef0"},
		{"only one certificate", map[string]any{KeyPrimaryCertificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"}, KeyBackupCertificateArn, "both regions"},
		{"certificate in the wrong region", map[string]any{
			KeyPrimaryCertificateArn: "arn:aws:acm:us-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555",
			KeyBackupCertificateArn:  "arn:aws:acm:us-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555",
		}, KeyPrimaryCertificateArn, "in us-east-1"},
		{"aggregate key with spaces", map[string]any{KeyAggregateKey: "event type"}, KeyAggregateKey, "field name"},
		{"schedule neither cron nor rate", map[string]any{KeyCompactionSchedule: "daily"}, KeyCompactionSchedule, "cron(30 1 * * ? *) or rate(1 day)"},
		{"cron with letters for numbers", map[string]any{KeyCompactionSchedule: "cron(a b c d e f)"}, KeyCompactionSchedule, `cron field minutes "a"`},
		{"ipv6 producers", map[string]any{KeyProducerCIDRs: "2001:db8::/32"}, KeyProducerCIDRs, "the accelerator is IPv4-only"},
		{"the whole internet", map[string]any{KeyProducerCIDRs: "0.0.0.0/0"}, KeyProducerCIDRs, "producerPrefixList"},
		{"account as a JSON number that lost its leading zero", map[string]any{KeyAccount: float64(12345678901)}, KeyAccount, "quoted string"},
		{"prefix too long only for the longest name", map[string]any{KeyPrefix: strings.Repeat("a", 30)}, KeyPrefix, "at most 25 characters"},
		{"buffer too long", map[string]any{KeyFirehoseBufferSeconds: "1000"}, KeyFirehoseBufferSeconds, "from 0 to 900"},
		{"unknown restore source", map[string]any{KeyRestoreSource: "snapshot"}, KeyRestoreSource, "auto"},
		{"unknown tier", map[string]any{KeyTier: "warm-standby"}, KeyTier, "backup-restore (nothing billed by the hour in the backup region) or pilot-light"},
		{"prefix not a string", map[string]any{KeyPrefix: float64(3)}, KeyPrefix, "a string"},
		{"readiness interval zero", map[string]any{KeyReadinessInterval: "0"}, KeyReadinessInterval, "from 1 to 1440"},
		{"readiness interval above a day", map[string]any{KeyReadinessInterval: float64(1441)}, KeyReadinessInterval, "from 1 to 1440"},
		{"rpo target not a number", map[string]any{KeyRPOTarget: "an hour"}, KeyRPOTarget, "whole number from 1 to 10080"},
		{"rto target zero", map[string]any{KeyRTOTarget: "0"}, KeyRTOTarget, "from 1 to 10080"},
		{"restore test schedule with a bad cron field", map[string]any{KeyRestoreTestSchedule: "cron(0 6 ? * SUNDAY *)"}, KeyRestoreTestSchedule, "cron(0 6 ? * SUN *)"},
		{"restore test schedule misspelt off", map[string]any{KeyRestoreTestSchedule: "disabled"}, KeyRestoreTestSchedule, "or off"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := load(t, tc.ctx, nil)
			if err == nil {
				t.Fatal("expected an error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error must be one line: %q", msg)
			}
			if !strings.Contains(msg, `"`+tc.key+`"`) {
				t.Errorf("error must name the context key %q: %s", tc.key, msg)
			}
			if !strings.Contains(msg, tc.mention) {
				t.Errorf("error must say what is allowed (%q): %s", tc.mention, msg)
			}
		})
	}
}

func TestWarningForAcceleratorControlRegion(t *testing.T) {
	_, warnings, err := load(t, map[string]any{KeyPrimaryRegion: "us-west-2", KeyBackupRegion: "us-east-1", KeyProducerCIDRs: "10.0.0.0/8"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Global Accelerator") {
		t.Errorf("a us-west-2 primary must warn about Global Accelerator's control plane, got %q", warnings)
	}
}

func TestPrefixLengthLimitIsExact(t *testing.T) {
	// "athena-results" is the longest purpose; us-east-1/us-west-2 are 9 characters.
	// prefix + "-athena-results-" + 12-digit account + "-" + 9-character region.
	longest := len("-athena-results-") + 12 + len("-") + len("us-west-2")
	room := 63 - longest
	ok := strings.Repeat("a", room)
	if _, _, err := load(t, map[string]any{KeyPrefix: ok}, nil); err != nil {
		t.Errorf("a %d-character prefix fits: %v", room, err)
	}
	if _, _, err := load(t, map[string]any{KeyPrefix: ok + "a"}, nil); err == nil {
		t.Errorf("a %d-character prefix must be refused", room+1)
	}
}

// TestCdkJSONStatesEveryDefault keeps cdk.json, which operators read and
// edit, in step with the defaults the code applies.
func TestCdkJSONStatesEveryDefault(t *testing.T) {
	data, err := os.ReadFile("../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	var cdk struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &cdk); err != nil {
		t.Fatal(err)
	}
	for key, def := range Defaults {
		got, ok := cdk.Context[key]
		if !ok {
			t.Errorf("cdk.json lacks context key %q (default %v)", key, def)
			continue
		}
		if list, isList := got.([]any); isList && len(list) == 0 && def == "" {
			continue // an empty list and an empty string both mean "none"
		}
		if fmt.Sprint(got) != fmt.Sprint(def) {
			t.Errorf("cdk.json %q = %v, code default %v", key, got, def)
		}
	}
	if _, _, err := LoadContext(cdk.Context, nil); err != nil {
		t.Errorf("cdk.json context must be valid: %v", err)
	}
}

// cdkContext is what the CDK CLI 2.1148 passes in CDK_CONTEXT_JSON besides
// cdk.json's keys (captured from `cdk synth`), plus a cached lookup and the
// notices key: none of it is the app's, all of it must pass.
var cdkContext = map[string]any{
	"@aws-cdk/core:target-partitions":                          []any{"aws"},
	"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy":          true,
	"aws:cdk:enable-path-metadata":                             true,
	"aws:cdk:enable-asset-metadata":                            true,
	"aws:cdk:version-reporting":                                true,
	"aws:cdk:bundling-stacks":                                  []any{"**"},
	"@aws-cdk/core:failSynthOnValidationErrors":                false,
	"availability-zones:account=123456789012:region=us-east-1": []any{"us-east-1a"},
	"acknowledged-issue-numbers":                               []any{float64(34892)},
}

func TestUnknownKeysAreRefusedWithTheNearestKnownOne(t *testing.T) {
	cases := []struct {
		key, nearest string
	}{
		{"primaryregion", KeyPrimaryRegion},
		{"backupregion", KeyBackupRegion},
		{"producerCidr", KeyProducerCIDRs},
		{"logRetention", KeyLogRetentionDays},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			ctx := map[string]any{tc.key: "eu-west-1"}
			for k, v := range cdkContext {
				ctx[k] = v
			}
			_, _, err := load(t, ctx, nil)
			if err == nil {
				t.Fatalf("context key %q was accepted", tc.key)
			}
			want := fmt.Sprintf("unknown context key %q; did you mean %q?", tc.key, tc.nearest)
			if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line with %q", err, want)
			}
		})
	}
	t.Run("CDK's own keys pass", func(t *testing.T) {
		if _, _, err := load(t, cdkContext, nil); err != nil {
			t.Errorf("CDK's context keys must be allowed: %v", err)
		}
	})
}

func TestScheduleExpressions(t *testing.T) {
	cases := []struct {
		expr    string
		problem string // "" when Scheduler accepts it
	}{
		{"cron(30 1 * * ? *)", ""},
		{"cron(0 9 ? * MON-FRI *)", ""},
		{"cron(0/15 * * * ? *)", ""},
		{"cron(0 0 L * ? *)", ""},
		{"cron(15 10 ? * 6L 2026-2030)", ""},
		{"cron(0 8 ? * 3#2 *)", ""},
		{"cron(0 8 15W JAN,JUL ? *)", ""},
		{"rate(1 day)", ""},
		{"rate(12 hours)", ""},
		{"rate(5 minutes)", ""},
		{"cron(a b c d e f)", `cron field minutes "a"`},
		{"cron(30 1 * * *)", "six fields"},
		{"cron(60 1 * * ? *)", "0-59"},
		{"cron(30 24 * * ? *)", "0-23"},
		{"cron(30 1 * * MON *)", "exactly one of day-of-month and day-of-week"},
		{"cron(30 1 ? * ? *)", "exactly one of day-of-month and day-of-week"},
		{"cron(30 1 * 13 ? *)", "JAN-DEC"},
		{"cron(30 1 ? * 8 *)", "SUN-SAT"},
		{"cron(30 1 * * ? 1969)", "1970-2199"},
		{"cron(? 1 * * ? *)", "only allowed in day-of-month and day-of-week"},
		{"cron(30 1 ? * MON/2 *)", "not allowed in day-of-week"},
		{"rate(1 days)", "singular"},
		{"rate(2 day)", "plural"},
		{"rate(0 minutes)", "positive"},
		{"rate(1 week)", "minute(s), hour(s) or day(s)"},
		{"at(2026-12-01T01:30:00)", "recurring"},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			err := ValidateSchedule(tc.expr)
			switch {
			case tc.problem == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Errorf("error %v, want one mentioning %q", err, tc.problem)
			}
		})
	}
}

// The restore test's overdue alarm expects the next run within the
// schedule's longest gap; a schedule without such a bound is refused.
func TestSchedulePeriodBoundsTheGapBetweenRuns(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		expr    string
		want    time.Duration
		refused bool
	}{
		{"rate(1 day)", day, false},
		{"rate(7 days)", 7 * day, false},
		{"rate(12 hours)", 12 * time.Hour, false},
		{"cron(0 6 * * ? *)", day, false},
		{"cron(0 6 ? * SUN *)", 7 * day, false},
		{"cron(0 6 ? * MON,THU *)", 7 * day, false},
		{"cron(0 6 ? * SUN#1 *)", 35 * day, false},
		{"cron(0 6 ? * 6L *)", 35 * day, false},
		{"cron(0 6 1 * ? *)", 31 * day, false},
		{"cron(0 6 L * ? *)", 31 * day, false},
		{"cron(0 6 15W * ? *)", 33 * day, false},
		{"cron(0 6 1 1,4,7,10 ? *)", 0, true},
		{"cron(0 6 1 * ? 2027)", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			got, err := SchedulePeriod(tc.expr)
			if tc.refused != (err != nil) || got != tc.want {
				t.Errorf("SchedulePeriod = %v, %v; want %v (refused %v)", got, err, tc.want, tc.refused)
			}
			_, _, loadErr := Load(func(k string) any {
				if k == KeyRestoreTestSchedule {
					return tc.expr
				}
				return nil
			}, func(string) string { return "" })
			if tc.refused != (loadErr != nil) {
				t.Errorf("config with restoreTestSchedule=%s: %v", tc.expr, loadErr)
			}
		})
	}
}
