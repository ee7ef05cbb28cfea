// Package config turns CDK context into one validated, typed Config. It is read
// once in app.go and passed down; nothing below reads context. A bad value fails
// synth with one line that names the context key, the value and what is allowed.
//
// The package does not import awscdk, so the operator CLI reads the same
// cdk.json with the same rules.
package config

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dr-analytics/drplan/internal/naming"
)

// Context keys, as written in cdk.json or passed with `cdk synth -c key=value`.
const (
	KeyPrefix                = "prefix"
	KeyPrimaryRegion         = "primaryRegion"
	KeyBackupRegion          = "backupRegion"
	KeyAccount               = "account"
	KeyNoncurrentVersionDays = "noncurrentVersionDays"
	KeyBackupRetentionDays   = "backupRetentionDays"
	KeyBackupFrequencyHours  = "backupFrequencyHours"
	KeyAlarmEmail            = "alarmEmail"
	KeyLogRetentionDays      = "logRetentionDays"
	KeyProducerCIDRs         = "producerCidrs"
	KeyProducerPrefixList    = "producerPrefixList"
	KeyPrimaryCertificateArn = "primaryCertificateArn"
	KeyBackupCertificateArn  = "backupCertificateArn"
	KeyAggregateKey          = "aggregateKey"
	KeyCompactionSchedule    = "compactionSchedule"
	KeyFirehoseBufferSeconds = "firehoseBufferSeconds"
	KeyRestoreSource         = "restoreSource"
	// KeyFrequentBackupRetentionDays keeps the frequent (every
	// backupFrequencyHours) recovery points; daily ones keep backupRetentionDays.
	KeyFrequentBackupRetentionDays = "frequentBackupRetentionDays"
	// KeyAllowPrimaryDeployDuringFailover lets a PrimaryStack deploy run
	// while a failover is recorded (it would set the primary dial to 100).
	KeyAllowPrimaryDeployDuringFailover = "allowPrimaryDeployDuringFailover"
	KeyReadinessInterval                = "readinessIntervalMinutes"
	KeyRPOTarget                        = "rpoTargetMinutes"
	KeyRTOTarget                        = "rtoTargetMinutes"
	KeyRestoreTestSchedule              = "restoreTestSchedule"
	// KeyTier is the recovery tier: backup-restore or pilot-light.
	KeyTier = "tier"
)

// Recovery tiers (KeyTier).
const (
	// TierBackupRestore: the backup region runs nothing billed by the hour;
	// the failover creates the ingest pipeline.
	TierBackupRestore = "backup-restore"
	// TierPilotLight: the ingest pipeline is pre-built in the backup region,
	// out of traffic (endpoint weight 0) until the failover.
	TierPilotLight = "pilot-light"
)

// RestoreTestOff as restoreTestSchedule turns the scheduled restore test off.
const RestoreTestOff = "off"

// Restore sources for the failover table restore.
const (
	RestoreAuto   = "auto"   // PITR from the primary when it answers, else the backup vault
	RestorePITR   = "pitr"   // only cross-region point-in-time restore (drills)
	RestoreBackup = "backup" // only the newest recovery point in the backup vault (drills)
)

// Config is the validated deployment configuration.
type Config struct {
	// Prefix starts every resource name, e.g. "dr-analytics".
	Prefix string
	// Account is the 12-digit account id, or "" when unknown at synth time
	// (names then use the deploy-time account).
	Account string
	// PrimaryRegion runs the workload, e.g. "us-east-1".
	PrimaryRegion string
	// BackupRegion holds replicas, the vault and the failover foundation, e.g. "us-west-2".
	BackupRegion string
	// NoncurrentVersionDays expires noncurrent object versions, e.g. 30.
	NoncurrentVersionDays int
	// BackupRetentionDays keeps AWS Backup recovery points (both vaults), e.g. 35.
	BackupRetentionDays int
	// BackupFrequencyHours is the AWS Backup schedule; divides 24, e.g. 1.
	BackupFrequencyHours int
	// AlarmEmail subscribes to the alarm topics when set.
	AlarmEmail string
	// LogRetentionDays for every log group; a CloudWatch Logs retention value.
	LogRetentionDays int
	// ProducerCIDRs may reach the ingest listener; empty means nobody.
	ProducerCIDRs []string
	// ProducerPrefixList (pl-...) may reach the ingest listener as well.
	ProducerPrefixList string
	// PrimaryCertificateArn and BackupCertificateArn switch ingest to HTTPS.
	PrimaryCertificateArn string
	BackupCertificateArn  string
	// AggregateKey is the event field the aggregator counts by, e.g. "type".
	AggregateKey string
	// CompactionSchedule is the EventBridge Scheduler cron (UTC) of the nightly job.
	CompactionSchedule string
	// FirehoseBufferSeconds bounds how long raw data sits in Firehose, 0-900.
	FirehoseBufferSeconds int
	// RestoreSource forces the failover table restore path: auto, pitr or backup.
	RestoreSource string
	// FrequentBackupRetentionDays keeps the frequent recovery points, e.g. 2;
	// at most BackupRetentionDays.
	FrequentBackupRetentionDays int
	// AllowPrimaryDeployDuringFailover overrides the PrimaryStack deploy
	// guard; false by default.
	AllowPrimaryDeployDuringFailover bool
	// ReadinessIntervalMinutes is how often the readiness function runs, e.g. 15.
	ReadinessIntervalMinutes int
	// RPOTargetMinutes is the recovery point objective the alarms hold the
	// estimate to, e.g. 60.
	RPOTargetMinutes int
	// RTOTargetMinutes is the recovery time objective the restore test's
	// measured duration is held to, e.g. 60.
	RTOTargetMinutes int
	// RestoreTestSchedule is the EventBridge Scheduler cron (UTC) of the
	// table restore test, e.g. "cron(0 6 ? * SUN *)", or "off".
	RestoreTestSchedule string
	// Tier is TierBackupRestore (default) or TierPilotLight.
	Tier string
}

// PilotLight reports whether the backup region keeps the ingest pipeline
// pre-built (TierPilotLight).
func (c Config) PilotLight() bool { return c.Tier == TierPilotLight }

// RestoreTestEnabled reports whether the scheduled restore test runs.
func (c Config) RestoreTestEnabled() bool { return c.RestoreTestSchedule != RestoreTestOff }

// Defaults are the values used when a key is absent; cdk.json repeats them so
// operators see every knob. They are also the one list of the app's context
// keys: a key in the app's namespace that is not here is refused as a typo.
var Defaults = map[string]any{
	KeyPrefix:                           "dr-analytics",
	KeyAccount:                          "", // unset: CDK_DEFAULT_ACCOUNT, else resolved at deploy time
	KeyPrimaryRegion:                    "us-east-1",
	KeyBackupRegion:                     "us-west-2",
	KeyNoncurrentVersionDays:            30,
	KeyBackupRetentionDays:              35,
	KeyBackupFrequencyHours:             1,
	KeyAlarmEmail:                       "",
	KeyLogRetentionDays:                 90,
	KeyProducerCIDRs:                    "",
	KeyProducerPrefixList:               "",
	KeyPrimaryCertificateArn:            "",
	KeyBackupCertificateArn:             "",
	KeyAggregateKey:                     "type",
	KeyCompactionSchedule:               "cron(30 1 * * ? *)",
	KeyFirehoseBufferSeconds:            60,
	KeyRestoreSource:                    RestoreAuto,
	KeyFrequentBackupRetentionDays:      2,
	KeyAllowPrimaryDeployDuringFailover: false,
	KeyReadinessInterval:                15,
	KeyRPOTarget:                        60,
	KeyRTOTarget:                        60,
	KeyRestoreTestSchedule:              "cron(0 6 ? * SUN *)",
	KeyTier:                             TierBackupRestore,
}

// LogRetentionValues are the retention periods (days) CloudWatch Logs accepts.
var LogRetentionValues = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

var (
	prefixPattern      = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
	accountPattern     = regexp.MustCompile(`^[0-9]{12}$`)
	prefixListPattern  = regexp.MustCompile(`^pl-[0-9a-f]{8,17}$`)
	certificatePattern = regexp.MustCompile(`^arn:aws:acm:([a-z0-9-]+):[0-9]{12}:certificate/[0-9a-f-]{36}$`)
	// AggregateKeyPattern is a top-level event field name; the aggregator checks its env with it too.
	AggregateKeyPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)
)

// Lookup returns a context value, or nil when the key is absent.
type Lookup func(key string) any

// LoadContext validates the whole CDK context: it refuses unknown keys in
// the app's namespace, then loads like Load. app.go passes the app's
// GetAllContext; drctl passes cdk.json's "context" with its -c overrides.
func LoadContext(context map[string]any, env func(string) string) (Config, []string, error) {
	if err := checkKeys(context); err != nil {
		return Config{}, nil, err
	}
	return Load(func(key string) any { return context[key] }, env)
}

// Load reads and validates every key. env supplies CDK_DEFAULT_ACCOUNT.
// Warnings are returned for the caller to print; errors stop synth.
func Load(lookup Lookup, env func(string) string) (Config, []string, error) {
	r := reader{lookup: lookup}
	c := Config{
		Prefix:                           r.str(KeyPrefix),
		PrimaryRegion:                    r.str(KeyPrimaryRegion),
		BackupRegion:                     r.str(KeyBackupRegion),
		Account:                          r.account(KeyAccount),
		NoncurrentVersionDays:            r.integer(KeyNoncurrentVersionDays, 1, 3650),
		BackupRetentionDays:              r.integer(KeyBackupRetentionDays, 1, 36500),
		BackupFrequencyHours:             r.integer(KeyBackupFrequencyHours, 1, 24),
		AlarmEmail:                       r.str(KeyAlarmEmail),
		LogRetentionDays:                 r.integer(KeyLogRetentionDays, 1, 3653),
		ProducerCIDRs:                    r.list(KeyProducerCIDRs),
		ProducerPrefixList:               r.str(KeyProducerPrefixList),
		PrimaryCertificateArn:            r.str(KeyPrimaryCertificateArn),
		BackupCertificateArn:             r.str(KeyBackupCertificateArn),
		AggregateKey:                     r.str(KeyAggregateKey),
		CompactionSchedule:               r.str(KeyCompactionSchedule),
		FirehoseBufferSeconds:            r.integer(KeyFirehoseBufferSeconds, 0, 900),
		RestoreSource:                    r.str(KeyRestoreSource),
		FrequentBackupRetentionDays:      r.integer(KeyFrequentBackupRetentionDays, 1, 36500),
		AllowPrimaryDeployDuringFailover: r.boolean(KeyAllowPrimaryDeployDuringFailover),
		// EventBridge Scheduler's rate() takes whole minutes, at least 1; a day
		// is the longest gap that still deserves the name "continuous".
		ReadinessIntervalMinutes: r.integer(KeyReadinessInterval, 1, 1440),
		RPOTargetMinutes:         r.integer(KeyRPOTarget, 1, 10080),
		RTOTargetMinutes:         r.integer(KeyRTOTarget, 1, 10080),
		RestoreTestSchedule:      r.str(KeyRestoreTestSchedule),
		Tier:                     r.str(KeyTier),
	}
	if r.err != nil {
		return Config{}, nil, r.err
	}
	if c.Account == "" && env != nil {
		c.Account = env("CDK_DEFAULT_ACCOUNT")
	}
	warnings, err := c.validate()
	if err != nil {
		return Config{}, nil, err
	}
	return c, warnings, nil
}

// Names derives resource names. account is the resolved account id or a
// deploy-time token; pass c.Account when it is known.
func (c Config) Names(account string) naming.Names {
	return naming.Names{Prefix: c.Prefix, Account: account}
}

// HTTPS reports whether ingest listens with TLS (both certificates given).
func (c Config) HTTPS() bool { return c.PrimaryCertificateArn != "" }

// ListenerPort is the port producers connect to, on the accelerator and the ALBs.
func (c Config) ListenerPort() int {
	if c.HTTPS() {
		return 443
	}
	return 80
}

// CertificateArn returns the ingest certificate for a region, or "".
func (c Config) CertificateArn(region string) string {
	if region == c.PrimaryRegion {
		return c.PrimaryCertificateArn
	}
	return c.BackupCertificateArn
}

func (c Config) validate() ([]string, error) {
	var warnings []string
	if !prefixPattern.MatchString(c.Prefix) || strings.Contains(c.Prefix, "--") {
		return nil, invalid(KeyPrefix, c.Prefix, "lowercase letters, digits and single hyphens, starting with a letter, e.g. dr-analytics")
	}
	for _, key := range []string{KeyPrimaryRegion, KeyBackupRegion} {
		region := c.PrimaryRegion
		if key == KeyBackupRegion {
			region = c.BackupRegion
		}
		if !isRegion(region) {
			return nil, invalid(key, region, "a commercial AWS region name such as us-east-1 ("+strings.Join(commercialRegions, ", ")+")")
		}
	}
	if c.PrimaryRegion == c.BackupRegion {
		return nil, invalid(KeyBackupRegion, c.BackupRegion, "a region other than primaryRegion "+c.PrimaryRegion)
	}
	if c.Account != "" && !accountPattern.MatchString(c.Account) {
		return nil, invalid(KeyAccount, c.Account, "a 12-digit AWS account id, or unset to use the deploy-time account")
	}
	if err := c.validateNameLengths(); err != nil {
		return nil, err
	}
	if c.FrequentBackupRetentionDays > c.BackupRetentionDays {
		return nil, invalid(KeyFrequentBackupRetentionDays, strconv.Itoa(c.FrequentBackupRetentionDays), fmt.Sprintf("at most backupRetentionDays (%d): frequent recovery points are kept briefly, daily ones longer", c.BackupRetentionDays))
	}
	if 24%c.BackupFrequencyHours != 0 {
		return nil, invalid(KeyBackupFrequencyHours, strconv.Itoa(c.BackupFrequencyHours), "a divisor of 24: 1, 2, 3, 4, 6, 8, 12 or 24")
	}
	if c.AlarmEmail != "" {
		if addr, err := mail.ParseAddress(c.AlarmEmail); err != nil || addr.Address != c.AlarmEmail {
			return nil, invalid(KeyAlarmEmail, c.AlarmEmail, "one plain e-mail address such as ops@example.com, or empty for no subscription")
		}
	}
	if !slices.Contains(LogRetentionValues, c.LogRetentionDays) {
		return nil, invalid(KeyLogRetentionDays, strconv.Itoa(c.LogRetentionDays), "a CloudWatch Logs retention: "+joinInts(LogRetentionValues))
	}
	for _, cidr := range c.ProducerCIDRs {
		p, err := netip.ParsePrefix(cidr)
		switch {
		case err != nil || p.Masked() != p:
			return nil, invalid(KeyProducerCIDRs, cidr, "IPv4 CIDR blocks with no host bits set, comma-separated, e.g. 203.0.113.0/24,198.51.100.7/32")
		case !p.Addr().Is4():
			// The accelerator is created without IpAddressType, which
			// defaults to IPV4 (AWS::GlobalAccelerator::Accelerator,
			// IpAddressType), so producers reach it over IPv4 only; a
			// dual-stack accelerator needs dual-stack endpoints ("Endpoints
			// for standard accelerators in AWS Global Accelerator").
			return nil, invalid(KeyProducerCIDRs, cidr, "IPv4 CIDR blocks only: the accelerator is IPv4-only, so IPv6 producers cannot reach it; list their IPv4 addresses, e.g. 203.0.113.0/24")
		case p.Bits() == 0:
			// cdk-nag AwsSolutions-EC23 refuses a security group open to
			// the whole internet; say so here, in one line, not per stack.
			return nil, invalid(KeyProducerCIDRs, cidr, "the producers' own CIDR blocks or a prefix list (producerPrefixList): 0.0.0.0/0 would open ingest to the whole internet, which the security checks refuse")
		}
	}
	if c.ProducerPrefixList != "" && !prefixListPattern.MatchString(c.ProducerPrefixList) {
		return nil, invalid(KeyProducerPrefixList, c.ProducerPrefixList, "a managed prefix list id such as pl-0123456789abcdef0, or empty")
	}
	if len(c.ProducerCIDRs) == 0 && c.ProducerPrefixList == "" {
		warnings = append(warnings, fmt.Sprintf("no producers may reach the ingest listener: set context %q (e.g. -c %s=203.0.113.0/24) or %q to allow them", KeyProducerCIDRs, KeyProducerCIDRs, KeyProducerPrefixList))
	}
	if (c.PrimaryCertificateArn == "") != (c.BackupCertificateArn == "") {
		key, value := KeyBackupCertificateArn, c.BackupCertificateArn
		if c.PrimaryCertificateArn == "" {
			key, value = KeyPrimaryCertificateArn, c.PrimaryCertificateArn
		}
		return nil, invalid(key, value, "an ACM certificate ARN: HTTPS needs a certificate in both regions, because both ALBs sit behind one accelerator listener")
	}
	for key, want := range map[string]string{KeyPrimaryCertificateArn: c.PrimaryRegion, KeyBackupCertificateArn: c.BackupRegion} {
		arn := c.PrimaryCertificateArn
		if key == KeyBackupCertificateArn {
			arn = c.BackupCertificateArn
		}
		if arn == "" {
			continue
		}
		m := certificatePattern.FindStringSubmatch(arn)
		if m == nil || m[1] != want {
			return nil, invalid(key, arn, "an ACM certificate ARN in "+want+", e.g. arn:aws:acm:"+want+":123456789012:certificate/<uuid>")
		}
	}
	if !AggregateKeyPattern.MatchString(c.AggregateKey) {
		return nil, invalid(KeyAggregateKey, c.AggregateKey, "an event field name (letters, digits, _ . -, at most 64), e.g. type")
	}
	if err := ValidateSchedule(c.CompactionSchedule); err != nil {
		return nil, invalid(KeyCompactionSchedule, c.CompactionSchedule, "an EventBridge Scheduler expression in UTC such as cron(30 1 * * ? *) or rate(1 day): "+err.Error())
	}
	if !slices.Contains([]string{RestoreAuto, RestorePITR, RestoreBackup}, c.RestoreSource) {
		return nil, invalid(KeyRestoreSource, c.RestoreSource, "auto (PITR when the primary answers, else the backup vault), pitr or backup")
	}
	if !slices.Contains([]string{TierBackupRestore, TierPilotLight}, c.Tier) {
		return nil, invalid(KeyTier, c.Tier, "backup-restore (nothing billed by the hour in the backup region) or pilot-light (ingest pre-built there, out of traffic)")
	}
	if c.RestoreTestSchedule != RestoreTestOff {
		if err := ValidateSchedule(c.RestoreTestSchedule); err != nil {
			return nil, invalid(KeyRestoreTestSchedule, c.RestoreTestSchedule, "an EventBridge Scheduler expression in UTC such as cron(0 6 ? * SUN *) (weekly), or off: "+err.Error())
		}
		if _, err := SchedulePeriod(c.RestoreTestSchedule); err != nil {
			return nil, invalid(KeyRestoreTestSchedule, c.RestoreTestSchedule, err.Error())
		}
	}
	if c.PrimaryRegion == GlobalAcceleratorControlRegion {
		warnings = append(warnings, fmt.Sprintf("primaryRegion is %s, which also hosts Global Accelerator's control plane: if that region fails, failover cannot move traffic; choose another primary region", GlobalAcceleratorControlRegion))
	}
	return warnings, nil
}

// validateNameLengths checks every derived bucket name against S3's limit,
// with a 12-digit account standing in when the account is unknown. The
// longest name decides the room left for the prefix.
func (c Config) validateNameLengths() error {
	names := c.Names(naming.AccountPlaceholder)
	longest := ""
	for _, region := range []string{c.PrimaryRegion, c.BackupRegion} {
		for _, p := range naming.Purposes {
			if name := names.Bucket(p, region); len(name) > len(longest) {
				longest = name
			}
		}
	}
	if len(longest) > naming.MaxBucketNameLength {
		room := naming.MaxBucketNameLength - (len(longest) - len(c.Prefix))
		return invalid(KeyPrefix, c.Prefix, fmt.Sprintf("at most %d characters with these regions: bucket name %s would be %d characters and S3 allows %d", room, longest, len(longest), naming.MaxBucketNameLength))
	}
	return nil
}

func invalid(key, value, allowed string) error {
	return fmt.Errorf("config: context key %q has invalid value %q; allowed: %s", key, value, allowed)
}

func joinInts(values []int) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

// reader converts raw context values (JSON types from cdk.json, strings from
// -c flags) and keeps the first conversion error.
type reader struct {
	lookup Lookup
	err    error
}

func (r *reader) raw(key string) any {
	if r.lookup != nil {
		if v := r.lookup(key); v != nil {
			return v
		}
	}
	return Defaults[key]
}

// account reads an account id, which cdk.json may hold as a JSON number:
// a 12-digit whole number is taken as is; any other number (an id with a
// leading zero has lost it) must be quoted.
func (r *reader) account(key string) string {
	v, ok := r.raw(key).(float64)
	if !ok {
		return r.str(key)
	}
	if v == float64(int64(v)) && v >= 1e11 && v < 1e12 {
		return strconv.FormatInt(int64(v), 10)
	}
	r.fail(invalid(key, strconv.FormatFloat(v, 'f', -1, 64), `a 12-digit AWS account id written as a quoted string, e.g. "account": "012345678901" (a JSON number drops leading zeros)`))
	return ""
}

func (r *reader) str(key string) string {
	switch v := r.raw(key).(type) {
	case string:
		return strings.TrimSpace(v)
	case nil:
		return ""
	default:
		r.fail(invalid(key, fmt.Sprint(v), "a string"))
		return ""
	}
}

func (r *reader) integer(key string, lo, hi int) int {
	var n int
	switch v := r.raw(key).(type) {
	case int:
		n = v
	case float64:
		if v != float64(int(v)) {
			r.fail(invalid(key, fmt.Sprint(v), fmt.Sprintf("a whole number from %d to %d", lo, hi)))
			return 0
		}
		n = int(v)
	case string:
		parsed, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			r.fail(invalid(key, v, fmt.Sprintf("a whole number from %d to %d", lo, hi)))
			return 0
		}
		n = parsed
	default:
		r.fail(invalid(key, fmt.Sprint(v), fmt.Sprintf("a whole number from %d to %d", lo, hi)))
		return 0
	}
	if n < lo || n > hi {
		r.fail(invalid(key, strconv.Itoa(n), fmt.Sprintf("a whole number from %d to %d", lo, hi)))
	}
	return n
}

// boolean accepts a JSON boolean (cdk.json) or "true"/"false" (-c key=true).
func (r *reader) boolean(key string) bool {
	switch v := r.raw(key).(type) {
	case bool:
		return v
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b
		}
	}
	r.fail(invalid(key, fmt.Sprint(r.raw(key)), "true or false"))
	return false
}

// list accepts a JSON array (cdk.json), a JSON array in a string, or a
// comma-separated string (-c key=a,b).
func (r *reader) list(key string) []string {
	var items []string
	switch v := r.raw(key).(type) {
	case []any:
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				r.fail(invalid(key, fmt.Sprint(v), "a list of strings"))
				return nil
			}
			items = append(items, s)
		}
	case []string:
		items = v
	case string:
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, "[") {
			if err := json.Unmarshal([]byte(v), &items); err != nil {
				r.fail(invalid(key, v, "a JSON list of strings or a comma-separated string"))
				return nil
			}
		} else if v != "" {
			items = strings.Split(v, ",")
		}
	case nil:
	default:
		r.fail(invalid(key, fmt.Sprint(v), "a list of strings or a comma-separated string"))
		return nil
	}
	out := items[:0:0]
	for _, item := range items {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}
