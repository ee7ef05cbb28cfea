package tablerestore

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dr-analytics/drplan/config"
)

// Resource property names, as the CDK side writes them.
const (
	PropTableName           = "TableName"
	PropSourceTableArn      = "SourceTableArn"
	PropSourceRegion        = "SourceRegion"
	PropVaultName           = "VaultName"
	PropRestoreRoleArn      = "RestoreRoleArn"
	PropSource              = "Source"
	PropProbeTimeoutSeconds = "ProbeTimeoutSeconds"
	PropTags                = "Tags"
)

// defaultProbeTimeout applies when ProbeTimeoutSeconds is absent.
const defaultProbeTimeout = 5 * time.Second

// maxProbeTimeout keeps the probe well inside the onEvent function's timeout.
const maxProbeTimeout = 60 * time.Second

var (
	tableNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	// arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME
	tableArnPattern = regexp.MustCompile(`^arn:(aws[a-z-]*):dynamodb:([a-z0-9-]+):([0-9]{12}):table/([a-zA-Z0-9_.-]{3,255})$`)
	roleArnPattern  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/\S+$`)
)

// properties are the validated ResourceProperties of one event.
type properties struct {
	TableName      string
	SourceTableArn string
	SourceRegion   string
	VaultName      string
	RestoreRoleArn string
	Source         string // config.RestoreAuto, RestorePITR or RestoreBackup
	ProbeTimeout   time.Duration
	Tags           map[string]string

	// partition and account come from SourceTableArn; the restored table
	// lives in the same account.
	partition, account string
}

// parseProperties validates what the template passed. Each error names the
// property, the value and what to change.
func parseProperties(raw map[string]any) (properties, error) {
	var p properties
	var err error
	text := func(key string) string {
		if err != nil {
			return ""
		}
		v, present := raw[key]
		if !present || v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			err = fmt.Errorf("property %s is %v (%T): give a string", key, v, v)
		}
		return strings.TrimSpace(s)
	}
	p.TableName = text(PropTableName)
	p.SourceTableArn = text(PropSourceTableArn)
	p.SourceRegion = text(PropSourceRegion)
	p.VaultName = text(PropVaultName)
	p.RestoreRoleArn = text(PropRestoreRoleArn)
	p.Source = text(PropSource)
	timeout := text(PropProbeTimeoutSeconds)
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
	p.ProbeTimeout = defaultProbeTimeout
	if timeout != "" {
		seconds, perr := strconv.ParseFloat(timeout, 64)
		p.ProbeTimeout = time.Duration(seconds * float64(time.Second))
		if perr != nil || p.ProbeTimeout <= 0 || p.ProbeTimeout > maxProbeTimeout {
			return p, fmt.Errorf("property ProbeTimeoutSeconds is %q: give seconds above 0 and at most %d, e.g. \"5\"", timeout, int(maxProbeTimeout.Seconds()))
		}
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
