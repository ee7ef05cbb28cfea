package tablerestore

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/dr-analytics/drplan/config"
	"github.com/dr-analytics/drplan/internal/customresource"
)

// Property names of the start resource, as the CDK side writes them.
const (
	PropTableName           = "TableName"
	PropSourceTableArn      = "SourceTableArn"
	PropSourceRegion        = "SourceRegion"
	PropVaultName           = "VaultName"
	PropRestoreRoleArn      = "RestoreRoleArn"
	PropSource              = "Source"
	PropProbeTimeoutSeconds = "ProbeTimeoutSeconds"
	// PropFailoverStartedParameter is the SSM parameter that records when
	// the failover began: naming.Names.FailoverStartedParameter().
	PropFailoverStartedParameter = "FailoverStartedParameter"
)

// Property names of the ready resource besides TableName, Source,
// SourceTableArn, VaultName and RestoreRoleArn. TableName, Source,
// PointInTime, RestoreJobId, RecoveryPointArn, SourceTableArn and
// FailoverStartedAt take the start resource's attributes of the same names
// ("none" and "unknown" count as absent); VaultName and RestoreRoleArn are
// the start resource's properties of the same names, for restoring in
// place from the vault (empty: no vault to fall back to).
const (
	PropPointInTime      = "PointInTime"
	PropRestoreJobID     = "RestoreJobId"
	PropRecoveryPointArn = "RecoveryPointArn"
	// PropFailoverStartedAt is the start resource's FailoverStartedAt
	// attribute: it names this failover's restore jobs.
	PropFailoverStartedAt = "FailoverStartedAt"
	// PropTags are the template's tags for the table, a map.
	PropTags = "Tags"
	// PropWaitMinutes is how long isComplete waits for the restore before
	// it completes with Status RESTORING, e.g. "50"; DefaultWaitMinutes when
	// absent. Keep it below the provider's total timeout.
	PropWaitMinutes = "WaitMinutes"
)

// DefaultWaitMinutes applies when WaitMinutes is absent.
const DefaultWaitMinutes = 50

// maxWaitMinutes is the Provider framework's longest total timeout (2 h).
const maxWaitMinutes = 120

// defaultProbeTimeout applies when ProbeTimeoutSeconds is absent.
const defaultProbeTimeout = 5 * time.Second

// maxProbeTimeout keeps the probe well inside the onEvent function's timeout.
const maxProbeTimeout = 60 * time.Second

var (
	tableNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	// arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME
	tableArnPattern = regexp.MustCompile(`^arn:(aws[a-z-]*):dynamodb:([a-z0-9-]+):([0-9]{12}):table/([a-zA-Z0-9_.-]{3,255})$`)
	roleArnPattern  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/\S+$`)
	// A hierarchical SSM parameter name: /a/b/c.
	parameterNamePattern = regexp.MustCompile(`^(/[a-zA-Z0-9_.-]+)+$`)
)

// properties are the validated ResourceProperties of a start event.
type properties struct {
	TableName      string
	SourceTableArn string
	SourceRegion   string
	VaultName      string
	RestoreRoleArn string
	Source         string // config.RestoreAuto, RestorePITR or RestoreBackup
	ProbeTimeout   time.Duration
	// FailoverStartedParameter names the SSM parameter of the start time.
	FailoverStartedParameter string

	// partition and account come from SourceTableArn; the restored table
	// lives in the same account.
	partition, account string
}

// parseProperties validates what the template passed. Each error names the
// property, the value and what to change.
func parseProperties(raw map[string]any) (properties, error) {
	var p properties
	var err error
	text := textReader(raw, &err)
	p.TableName = text(PropTableName)
	p.SourceTableArn = text(PropSourceTableArn)
	p.SourceRegion = text(PropSourceRegion)
	p.VaultName = text(PropVaultName)
	p.RestoreRoleArn = text(PropRestoreRoleArn)
	p.Source = text(PropSource)
	timeout := text(PropProbeTimeoutSeconds)
	p.FailoverStartedParameter = text(PropFailoverStartedParameter)
	if err != nil {
		return p, err
	}

	if !tableNamePattern.MatchString(p.TableName) {
		return p, fmt.Errorf("property TableName is %q: give the aggregates table's name (3-255 of a-z A-Z 0-9 _ . -)", p.TableName)
	}
	if p.Source == "" {
		p.Source = config.RestoreAuto
	}
	switch p.Source {
	case config.RestoreAuto, config.RestorePITR, config.RestoreBackup:
	default:
		return p, fmt.Errorf("property Source is %q: use auto, pitr or backup (cdk deploy -c restoreSource=...)", p.Source)
	}
	m := tableArnPattern.FindStringSubmatch(p.SourceTableArn)
	if m == nil {
		return p, fmt.Errorf("property SourceTableArn is %q: give the primary table's ARN, arn:aws:dynamodb:REGION:ACCOUNT:table/NAME", p.SourceTableArn)
	}
	p.partition, p.account = m[1], m[3]
	if p.SourceRegion != m[2] {
		return p, fmt.Errorf("property SourceRegion is %q but SourceTableArn is in %q: give the primary region", p.SourceRegion, m[2])
	}
	if p.Source != config.RestorePITR {
		if p.VaultName == "" {
			return p, fmt.Errorf("property VaultName is empty: give the backup vault in this region (needed for restoreSource=%s)", p.Source)
		}
		if !roleArnPattern.MatchString(p.RestoreRoleArn) {
			return p, fmt.Errorf("property RestoreRoleArn is %q: give the ARN of the role AWS Backup assumes to restore (needed for restoreSource=%s)", p.RestoreRoleArn, p.Source)
		}
	}
	var ok bool
	if p.ProbeTimeout, ok = customresource.DurationProperty(timeout, time.Second, defaultProbeTimeout, maxProbeTimeout); !ok {
		return p, fmt.Errorf("property ProbeTimeoutSeconds is %q: give seconds above 0 and at most %d, e.g. \"5\"", timeout, int(maxProbeTimeout.Seconds()))
	}
	if len(p.FailoverStartedParameter) > 1011 || !parameterNamePattern.MatchString(p.FailoverStartedParameter) {
		return p, fmt.Errorf("property FailoverStartedParameter is %q: give the SSM parameter that records the failover start, e.g. /dr-analytics/failover/started-at (naming.Names.FailoverStartedParameter)", p.FailoverStartedParameter)
	}
	return p, nil
}

// textReader reads string properties until the first error, which it keeps
// in *err, so a parser reads every property and checks once.
func textReader(raw map[string]any, err *error) func(key string) string {
	return func(key string) string {
		if *err != nil {
			return ""
		}
		s, e := customresource.StringProperty(raw, key)
		*err = e
		return s
	}
}

// readyProperties are the validated ResourceProperties of a ready event.
type readyProperties struct {
	TableName string
	// restore says how the table came to be, for its tags; its TableArn
	// is unset. Its FailoverStartedAt is set.
	restore restoreData
	Tags    map[string]string
	Wait    time.Duration
	// vault restores in place: its VaultName is "" when there is no vault
	// to fall back to.
	vault properties
}

// parseReadyProperties validates a ready resource's properties, which
// mostly come from the start resource's attributes.
func parseReadyProperties(raw map[string]any) (readyProperties, error) {
	var p readyProperties
	var err error
	text := textReader(raw, &err)
	// "none" and "unknown" are the start resource's words for absent.
	attribute := func(key string) string {
		s := text(key)
		if s == none || s == unknownPoint {
			return ""
		}
		return s
	}
	p.TableName = text(PropTableName)
	d := restoreData{
		TableName: p.TableName, Source: text(PropSource), PointInTime: attribute(PropPointInTime),
		RestoreJobID: attribute(PropRestoreJobID), RecoveryPointArn: attribute(PropRecoveryPointArn),
		SourceTableArn: attribute(PropSourceTableArn), FailoverStartedAt: attribute(PropFailoverStartedAt),
	}
	wait := text(PropWaitMinutes)
	vault, role := text(PropVaultName), text(PropRestoreRoleArn)
	if err != nil {
		return p, err
	}
	if !tableNamePattern.MatchString(p.TableName) {
		return p, fmt.Errorf("property TableName is %q: give the start resource's TableName attribute (3-255 of a-z A-Z 0-9 _ . -)", p.TableName)
	}
	switch d.Source {
	case SourcePITR, SourceBackup, SourceExisting:
	default:
		return p, fmt.Errorf("property Source is %q: give the start resource's Source attribute (pitr, backup or existing)", d.Source)
	}
	if d.PointInTime != "" {
		if _, perr := time.Parse(time.RFC3339, d.PointInTime); perr != nil {
			return p, fmt.Errorf("property PointInTime is %q: give the start resource's PointInTime attribute (RFC 3339, or unknown)", d.PointInTime)
		}
	}
	m := tableArnPattern.FindStringSubmatch(d.SourceTableArn)
	if m == nil {
		return p, fmt.Errorf("property SourceTableArn is %q: give the start resource's SourceTableArn attribute, arn:aws:dynamodb:REGION:ACCOUNT:table/NAME", d.SourceTableArn)
	}
	if _, perr := time.Parse(time.RFC3339, d.FailoverStartedAt); perr != nil {
		return p, fmt.Errorf("property FailoverStartedAt is %q: give the start resource's FailoverStartedAt attribute (RFC 3339)", d.FailoverStartedAt)
	}
	if vault != "" && !roleArnPattern.MatchString(role) {
		return p, fmt.Errorf("property RestoreRoleArn is %q: give the ARN of the role AWS Backup assumes to restore from vault %s", role, vault)
	}
	p.vault = properties{TableName: p.TableName, SourceTableArn: d.SourceTableArn, VaultName: vault, RestoreRoleArn: role,
		partition: m[1], account: m[3]}
	p.restore = d
	var ok bool
	if p.Wait, ok = customresource.DurationProperty(wait, time.Minute, DefaultWaitMinutes*time.Minute, maxWaitMinutes*time.Minute); !ok {
		return p, fmt.Errorf("property WaitMinutes is %q: give minutes above 0 and at most %d, below the provider's total timeout, e.g. \"%d\"", wait, maxWaitMinutes, DefaultWaitMinutes)
	}
	p.Tags, err = parseTags(raw[PropTags])
	return p, err
}

func parseTags(raw any) (map[string]string, error) {
	tags := map[string]string{}
	if raw == nil {
		return tags, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("property Tags is %v (%T): give a map of tag key to value", raw, raw)
	}
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("property Tags has %s=%v (%T): tag values must be strings", k, v, v)
		}
		if k == "" || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, fmt.Errorf("property Tags has key %q: tag keys must be non-empty and must not start with aws:", k)
		}
		tags[k] = s
	}
	return tags, nil
}

// tableArn is the ARN of the restored table in region, for when no API
// answer carries it yet (a backup restore job has not created the table).
func (p properties) tableArn(region string) string {
	return fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", p.partition, region, p.account, p.TableName)
}
