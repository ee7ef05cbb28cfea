package readiness

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	backuptypes "github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/globalaccelerator"
	gatypes "github.com/aws/aws-sdk-go-v2/service/globalaccelerator/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dr-analytics/drplan/internal/awserr"
	"github.com/dr-analytics/drplan/internal/naming"
)

// Thresholds behind the verdicts.
const (
	// replicationWarn: a latency well inside RTC's 15 minutes but far
	// above its usual seconds means replication is falling behind.
	replicationWarn = 5 * time.Minute
	// pitrWarn: PITR's latest restorable time normally trails by ~5 min.
	pitrWarn = 15 * time.Minute
	// copyGrace is how long a recovery point may take to be copied to the
	// backup vault after its backup window.
	copyGrace = time.Hour
	// metricWindow is how far back replication metrics are read.
	metricWindow = 15 * time.Minute
	// BootstrapParameter is where `cdk bootstrap` records its version.
	BootstrapParameter = "/cdk-bootstrap/hnb659fds/version"
	// BootstrapStack is the stack `cdk bootstrap` deploys.
	BootstrapStack = "CDKToolkit"
	maxPages       = 100
)

// replication checks that the primary bucket of purpose p replicates to
// its replica with RTC, then reads the rule's replication metrics.
func (r *run) replication(ctx context.Context, p naming.Purpose) []Line {
	src, dst := r.names.Bucket(p, r.Primary.Name), r.names.Bucket(p, r.Backup.Name)
	rule := Line{Region: r.Primary.Name, Check: "replication " + string(p)}
	lag := Line{Region: r.Primary.Name, Check: "replication lag " + string(p)}
	var out *s3.GetBucketReplicationOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		out, err = r.Primary.S3.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(src)})
		return err
	})
	r.noteAnswer(err)
	if err != nil {
		r.record(func(f *figures) { f.replicationUnknown = true })
		rule.Status, rule.Detail = Fail, fmt.Sprintf("GetBucketReplication %s: %v", src, err)
		if errorCode(err) == "ReplicationConfigurationNotFoundError" {
			rule.Detail = fmt.Sprintf("%s has no replication configuration: objects do not reach %s; deploy PrimaryStack", src, r.Backup.Name)
		}
		lag.Status, lag.Detail = Fail, "not measured: no replication rule could be read"
		return []Line{rule, lag}
	}
	var found *s3types.ReplicationRule
	if out.ReplicationConfiguration != nil {
		for i, candidate := range out.ReplicationConfiguration.Rules {
			if candidate.Destination != nil && deref(candidate.Destination.Bucket) == "arn:aws:s3:::"+dst {
				found = &out.ReplicationConfiguration.Rules[i]
				break
			}
		}
	}
	if found == nil {
		r.record(func(f *figures) { f.replicationUnknown = true })
		rule.Status, rule.Detail = Fail, fmt.Sprintf("no replication rule of %s targets %s: deploy PrimaryStack", src, dst)
		lag.Status, lag.Detail = Fail, "not measured: no replication rule"
		return []Line{rule, lag}
	}
	id := deref(found.ID)
	rtc := found.Destination.ReplicationTime != nil && found.Destination.ReplicationTime.Status == s3types.ReplicationTimeStatusEnabled
	metrics := found.Destination.Metrics != nil && found.Destination.Metrics.Status == s3types.MetricsStatusEnabled
	switch {
	case found.Status != s3types.ReplicationRuleStatusEnabled:
		rule.Status, rule.Detail = Fail, fmt.Sprintf("rule %s (%s -> %s) is %s: new objects do not reach the backup region; enable it (redeploy PrimaryStack)", id, src, dst, found.Status)
	case !rtc:
		rule.Status, rule.Detail = Fail, fmt.Sprintf("rule %s (%s -> %s) has Replication Time Control off: no 15-minute guarantee; redeploy PrimaryStack", id, src, dst)
	case !metrics:
		rule.Status, rule.Detail = Warn, fmt.Sprintf("rule %s (%s -> %s) enabled with RTC, but replication metrics are off: latency cannot be measured", id, src, dst)
	default:
		rule.Status, rule.Detail = OK, fmt.Sprintf("rule %s enabled, RTC 15 min, metrics on: %s -> %s", id, src, dst)
	}
	return []Line{rule, r.replicationLag(ctx, lag, p, src, dst, id)}
}

// replicationLag reads the rule's S3 replication metrics of the last 15
// minutes from CloudWatch in the primary region.
func (r *run) replicationLag(ctx context.Context, lag Line, p naming.Purpose, src, dst, ruleID string) Line {
	dims := map[string]string{"SourceBucket": src, "DestinationBucket": dst, "RuleId": ruleID}
	series, err := r.metrics(ctx, r.Primary.CloudWatch, []metricQuery{
		{id: "latency", namespace: "AWS/S3", name: "ReplicationLatency", stat: "Maximum", dims: dims},
		{id: "pending", namespace: "AWS/S3", name: "OperationsPendingReplication", stat: "Maximum", dims: dims},
		{id: "failed", namespace: "AWS/S3", name: "OperationsFailedReplication", stat: "Sum", dims: dims},
	})
	if err != nil {
		r.record(func(f *figures) { f.replicationUnknown = true })
		lag.Status, lag.Detail = Fail, fmt.Sprintf("CloudWatch GetMetricData: %v", err)
		return lag
	}
	latency := time.Duration(maxOf(series["latency"]) * float64(time.Second))
	pending := latest(series["pending"])
	failed := sum(series["failed"])
	r.record(func(f *figures) {
		if f.replicationLatency == nil || latency > *f.replicationLatency {
			f.replicationLatency = &latency
		}
		f.replication = append(f.replication, BucketReplication{Bucket: string(p), LatencySeconds: seconds(latency), FailedOperations: failed})
	})
	lag.Value, lag.Unit = value(latency), "seconds"
	detail := fmt.Sprintf("latency max %s, %.0f operations pending, %.0f failed (last 15 min)", duration(latency), pending, failed)
	if len(series["latency"]) == 0 {
		detail = fmt.Sprintf("no replication in the last 15 min (latency 0s), %.0f operations pending, %.0f failed", pending, failed)
	}
	switch {
	case failed > 0:
		lag.Status, lag.Detail = Fail, detail+": failed objects are not in the backup region; check the replication role and bucket keys"
	case latency > rtcBound:
		lag.Status, lag.Detail = Fail, detail+": beyond the 15-minute RTC threshold"
	case latency > replicationWarn:
		lag.Status, lag.Detail = Warn, detail+": replication is falling behind"
	default:
		lag.Status, lag.Detail = OK, detail
	}
	return lag
}

// noteAnswer records that the primary region answered a call.
func (r *run) noteAnswer(err error) {
	if answered(err) {
		r.record(func(f *figures) { f.primaryAnswered = true })
	}
}

// pitr checks point-in-time recovery on the primary table.
func (r *run) pitr(ctx context.Context) []Line {
	table := r.names.Table()
	line := Line{Region: r.Primary.Name, Check: "table PITR"}
	var out *dynamodb.DescribeContinuousBackupsOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		out, err = r.Primary.DynamoDB.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
		return err
	})
	r.noteAnswer(err)
	if err != nil {
		line.Status, line.Detail = Fail, fmt.Sprintf("DescribeContinuousBackups %s: %v", table, err)
		return []Line{line}
	}
	var desc *ddbtypes.PointInTimeRecoveryDescription
	if out.ContinuousBackupsDescription != nil {
		desc = out.ContinuousBackupsDescription.PointInTimeRecoveryDescription
	}
	if desc == nil || desc.PointInTimeRecoveryStatus != ddbtypes.PointInTimeRecoveryStatusEnabled || desc.LatestRestorableDateTime == nil {
		r.record(func(f *figures) { f.pitrOff = true })
		status := "DISABLED"
		if desc != nil && desc.PointInTimeRecoveryStatus != "" {
			status = string(desc.PointInTimeRecoveryStatus)
		}
		line.Status, line.Detail = Fail, fmt.Sprintf("PITR is %s on %s: failover can only restore the newest vault copy; enable PITR (redeploy PrimaryStack)", status, table)
		return []Line{line}
	}
	lag := max(r.now.Sub(*desc.LatestRestorableDateTime), 0)
	r.record(func(f *figures) { f.pitrLag = &lag })
	line.Value, line.Unit = value(lag), "seconds"
	line.Detail = fmt.Sprintf("on for %s, latest restorable %s (lag %s)", table, desc.LatestRestorableDateTime.UTC().Format(time.RFC3339), duration(lag))
	line.Status = OK
	if lag > pitrWarn {
		line.Status, line.Detail = Warn, line.Detail+": PITR is trailing more than usual"
	}
	return []Line{line}
}

// recoveryPoint finds the newest completed copy of the primary table in
// the backup vault.
func (r *run) recoveryPoint(ctx context.Context) []Line {
	vault := r.names.BackupVault()
	tableArn := r.names.TableArn(r.Primary.Name)
	line := Line{Region: r.Backup.Name, Check: "vault recovery point"}
	var newest *backuptypes.RecoveryPointByBackupVault
	completed := 0
	var token *string
	for page := 0; page < maxPages; page++ {
		var out *backup.ListRecoveryPointsByBackupVaultOutput
		err := r.call(ctx, func(ctx context.Context) (err error) {
			out, err = r.Backup.Backup.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{
				BackupVaultName: aws.String(vault), ByResourceArn: aws.String(tableArn), NextToken: token,
			})
			return err
		})
		if err != nil {
			line.Status, line.Detail = Fail, fmt.Sprintf("ListRecoveryPointsByBackupVault %s: %v", vault, err)
			return []Line{line}
		}
		for i, rp := range out.RecoveryPoints {
			if rp.Status != backuptypes.RecoveryPointStatusCompleted || rp.CreationDate == nil {
				continue
			}
			completed++
			if newest == nil || rp.CreationDate.After(*newest.CreationDate) {
				newest = &out.RecoveryPoints[i]
			}
		}
		if token = out.NextToken; token == nil || *token == "" {
			break
		}
	}
	if newest == nil {
		line.Status, line.Detail = Fail, fmt.Sprintf("no completed copy of %s in vault %s: if the primary region is lost the table cannot be restored; check the backup plan's copy rule and DynamoDB advanced features", r.names.Table(), vault)
		return []Line{line}
	}
	age := max(r.now.Sub(*newest.CreationDate), 0)
	r.record(func(f *figures) { f.recoveryPointAge = &age })
	every := time.Duration(r.Config.BackupFrequencyHours) * time.Hour
	line.Value, line.Unit = value(age), "seconds"
	line.Detail = fmt.Sprintf("newest copy %s (age %s, backups every %s), %d completed in %s", newest.CreationDate.UTC().Format(time.RFC3339), duration(age), duration(every), completed, vault)
	switch {
	case age <= every+copyGrace:
		line.Status = OK
	case age <= 2*every+copyGrace:
		line.Status, line.Detail = Warn, line.Detail+": the latest backup or its copy is late"
	default:
		line.Status, line.Detail = Fail, line.Detail+": stale, backups or their copies to the backup region are failing; check AWS Backup jobs"
	}
	return []Line{line}
}

// backupSettings checks that AWS Backup manages DynamoDB with advanced
// features in a region: copies of DynamoDB backups to another region need
// them.
func (r *run) backupSettings(ctx context.Context, region Region, severity Status) []Line {
	line := Line{Region: region.Name, Check: "backup settings"}
	var out *backup.DescribeRegionSettingsOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		out, err = region.Backup.DescribeRegionSettings(ctx, &backup.DescribeRegionSettingsInput{})
		return err
	})
	if err != nil {
		line.Status, line.Detail = Fail, fmt.Sprintf("DescribeRegionSettings: %v", err)
		return []Line{line}
	}
	optIn, hasOptIn := out.ResourceTypeOptInPreference["DynamoDB"]
	switch {
	case hasOptIn && !optIn:
		line.Status, line.Detail = severity, fmt.Sprintf("AWS Backup does not protect DynamoDB in %s (service opt-in off): turn it on in AWS Backup settings", region.Name)
	case !out.ResourceTypeManagementPreference["DynamoDB"]:
		line.Status, line.Detail = severity, fmt.Sprintf("advanced DynamoDB backup features are off in %s: cross-region copies of the table fail; run `aws backup update-region-settings --region %s --resource-type-management-preference DynamoDB=true`", region.Name, region.Name)
	default:
		line.Status, line.Detail = OK, "DynamoDB advanced backup features on (cross-region copies allowed)"
	}
	return []Line{line}
}

// bootstrap checks that `cdk deploy BackupFailoverStack` can run in the
// backup region during a disaster.
func (r *run) bootstrap(ctx context.Context) []Line {
	line := Line{Region: r.Backup.Name, Check: "cdk bootstrap"}
	var out *ssm.GetParameterOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		out, err = r.Backup.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(BootstrapParameter)})
		return err
	})
	if err == nil && out.Parameter != nil {
		line.Status, line.Detail = OK, fmt.Sprintf("bootstrap version %s (%s)", deref(out.Parameter.Value), BootstrapParameter)
		return []Line{line}
	}
	if err != nil && errorCode(err) != "ParameterNotFound" {
		line.Status, line.Detail = Fail, fmt.Sprintf("SSM GetParameter %s: %v", BootstrapParameter, err)
		return []Line{line}
	}
	stack, err := r.stack(ctx, r.Backup, BootstrapStack)
	switch {
	case err != nil:
		line.Status, line.Detail = Fail, fmt.Sprintf("DescribeStacks %s: %v", BootstrapStack, err)
	case stack == nil:
		line.Status, line.Detail = Fail, fmt.Sprintf("%s is not bootstrapped: failover cannot deploy; run `cdk bootstrap aws://%s/%s` now, not during the disaster", r.Backup.Name, r.names.Account, r.Backup.Name)
	default:
		line.Status, line.Detail = Warn, fmt.Sprintf("stack %s is %s but %s is missing: re-run `cdk bootstrap aws://%s/%s`", BootstrapStack, stack.StackStatus, BootstrapParameter, r.names.Account, r.Backup.Name)
	}
	return []Line{line}
}

// accelerator checks the accelerator and each region's endpoint group:
// its traffic dial and endpoint health.
func (r *run) accelerator(ctx context.Context) []Line {
	acc := Line{Region: "global", Check: "accelerator"}
	param := r.names.ListenerParameter()
	var out *ssm.GetParameterOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		out, err = r.Backup.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
		return err
	})
	if err != nil || out.Parameter == nil {
		acc.Status, acc.Detail = Fail, fmt.Sprintf("listener parameter %s in %s: %v: deploy BackupStack", param, r.Backup.Name, err)
		return []Line{acc}
	}
	listener := deref(out.Parameter.Value)
	accArn, _, ok := strings.Cut(listener, "/listener/")
	if !ok {
		acc.Status, acc.Detail = Fail, fmt.Sprintf("parameter %s holds %q, not a listener ARN: redeploy BackupStack", param, listener)
		return []Line{acc}
	}
	var described *globalaccelerator.DescribeAcceleratorOutput
	err = r.call(ctx, func(ctx context.Context) (err error) {
		described, err = r.GlobalAccelerator.DescribeAccelerator(ctx, &globalaccelerator.DescribeAcceleratorInput{AcceleratorArn: aws.String(accArn)})
		return err
	})
	switch {
	case err != nil:
		acc.Status, acc.Detail = Fail, fmt.Sprintf("DescribeAccelerator %s: %v", accArn, err)
	case described.Accelerator == nil:
		acc.Status, acc.Detail = Fail, fmt.Sprintf("DescribeAccelerator %s returned nothing", accArn)
	default:
		a := described.Accelerator
		acc.Detail = fmt.Sprintf("%s (%s) %s", deref(a.Name), deref(a.DnsName), a.Status)
		switch {
		case !deref(a.Enabled):
			acc.Status, acc.Detail = Fail, acc.Detail+", disabled: producers cannot reach ingest; enable the accelerator"
		case a.Status != gatypes.AcceleratorStatusDeployed:
			acc.Status, acc.Detail = Warn, acc.Detail+", a change is still deploying"
		default:
			acc.Status, acc.Detail = OK, acc.Detail+", enabled"
		}
	}
	lines := []Line{acc}
	groups, err := r.endpointGroups(ctx, listener)
	if err != nil {
		return append(lines, Line{Region: "global", Check: "endpoint groups", Status: Fail, Detail: fmt.Sprintf("ListEndpointGroups %s: %v", listener, err)})
	}
	lines = append(lines, groupLine(r.Primary.Name, groups[r.Primary.Name], true))
	lines = append(lines, groupLine(r.Backup.Name, groups[r.Backup.Name], false))
	return lines
}

func (r *run) endpointGroups(ctx context.Context, listener string) (map[string]gatypes.EndpointGroup, error) {
	groups := map[string]gatypes.EndpointGroup{}
	var token *string
	for page := 0; page < maxPages; page++ {
		var out *globalaccelerator.ListEndpointGroupsOutput
		err := r.call(ctx, func(ctx context.Context) (err error) {
			out, err = r.GlobalAccelerator.ListEndpointGroups(ctx, &globalaccelerator.ListEndpointGroupsInput{ListenerArn: aws.String(listener), NextToken: token})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, g := range out.EndpointGroups {
			groups[deref(g.EndpointGroupRegion)] = g
		}
		if token = out.NextToken; token == nil || *token == "" {
			break
		}
	}
	return groups, nil
}

// groupLine judges one region's endpoint group. The primary group must
// exist and take traffic; the backup group exists only during DR.
func groupLine(region string, g gatypes.EndpointGroup, primary bool) Line {
	line := Line{Region: region, Check: "endpoint group"}
	if g.EndpointGroupArn == nil {
		if primary {
			line.Status, line.Detail = Fail, "no endpoint group for the primary region: producers cannot reach it; deploy PrimaryStack"
		} else {
			line.Status, line.Detail = OK, "none (normal operation: BackupFailoverStack adds it during DR)"
		}
		return line
	}
	dial := float32(100) // the service's default when unset
	if g.TrafficDialPercentage != nil {
		dial = *g.TrafficDialPercentage
	}
	healthy, total, weighted := 0, len(g.EndpointDescriptions), 0
	for _, e := range g.EndpointDescriptions {
		if e.HealthState == gatypes.HealthStateHealthy {
			healthy++
		}
		// Weight 0 keeps an endpoint out of traffic, failover included
		// ("How failover works for unhealthy endpoints"); unset is 128.
		if e.Weight == nil || *e.Weight > 0 {
			weighted++
		}
	}
	line.Value, line.Unit = number(float64(dial)), "percent"
	line.Detail = fmt.Sprintf("dial %s%%, %d/%d endpoints healthy", trimFloat(float64(dial)), healthy, total)
	switch {
	case !primary && total > 0 && weighted == 0:
		// The pilot-light tier's pre-built endpoint, idle until failover.
		line.Status, line.Detail = OK, line.Detail+", weight 0: pre-built, out of traffic until failover (pilot-light)"
		if healthy < total {
			line.Status, line.Detail = Warn, line.Detail+"; not healthy, so failover would have to wait for it"
		}
	case dial > 0 && total == 0:
		line.Status, line.Detail = Fail, line.Detail+": traffic is dialled to a group without endpoints"
	case dial > 0 && healthy == 0:
		line.Status, line.Detail = Fail, line.Detail+": traffic is dialled to a group with no healthy endpoint"
	case healthy < total:
		line.Status, line.Detail = Warn, line.Detail+": some endpoints are unhealthy"
	case primary && dial < 100:
		line.Status, line.Detail = Warn, line.Detail+": the primary does not take all traffic (DR active?); `drctl failback` sets it back to 100"
	case !primary && dial > 0:
		line.Status, line.Detail = Warn, line.Detail+": the backup region takes traffic (DR active)"
	default:
		line.Status = OK
	}
	return line
}

// stacks checks the product's stacks and whether DR is active.
func (r *run) stacks(ctx context.Context) []Line {
	var lines []Line
	for _, want := range []struct {
		region Region
		name   string
	}{{r.Backup, naming.BackupStack}, {r.Primary, naming.PrimaryStack}} {
		line := Line{Region: want.region.Name, Check: "stack " + want.name}
		name := r.names.StackName(want.name)
		stack, err := r.stack(ctx, want.region, name)
		switch {
		case err != nil:
			line.Status, line.Detail = Fail, fmt.Sprintf("DescribeStacks %s: %v", name, err)
		case stack == nil:
			line.Status, line.Detail = Fail, fmt.Sprintf("%s (%s) is not deployed in %s: run `cdk deploy %s`", want.name, name, want.region.Name, want.name)
		default:
			line.Status, line.Detail = stackStatus(stack.StackStatus), string(stack.StackStatus)
			if want.name == naming.PrimaryStack && stack.StackStatus == cfntypes.StackStatusRollbackFailed {
				line.Detail += ": " + r.firstCreateCleanup(want.region.Name, name)
			}
		}
		lines = append(lines, line)
	}
	line := Line{Region: r.Backup.Name, Check: "stack " + naming.BackupFailoverStack}
	stack, err := r.stack(ctx, r.Backup, r.names.StackName(naming.BackupFailoverStack))
	switch {
	case err != nil:
		line.Status, line.Detail = Fail, fmt.Sprintf("DescribeStacks %s: %v", r.names.StackName(naming.BackupFailoverStack), err)
	case stack == nil:
		line.Status, line.Detail = OK, "not deployed (normal operation)"
		if recorded := r.leftoverFailoverRecord(ctx); recorded != "" {
			line.Status, line.Detail = Warn, "not deployed, but "+recorded
		}
	default:
		created := deref(stack.CreationTime)
		line.Value, line.Unit = value(r.now.Sub(created)), "seconds"
		line.Status, line.Detail = Warn, fmt.Sprintf("%s since %s (%s ago), restore source %s at %s%s: DR is active; run `drctl failback` once the primary is healthy",
			stack.StackStatus, created.UTC().Format(time.RFC3339), duration(r.now.Sub(created)), output(stack, "RestoreSource"), output(stack, "RestorePointInTime"),
			r.failoverStart(ctx, created))
		if stackStatus(stack.StackStatus) == Fail {
			line.Status = Fail
		}
	}
	lines = append(lines, line)
	if err == nil {
		lines = append(lines, r.restoredTable(ctx, stack != nil))
	}
	return lines
}

// failoverStart describes the first failover attempt's start as the
// restore recorded it in SSM: failback reaches back to it (or to the
// stack's creation, when that is earlier).
func (r *run) failoverStart(ctx context.Context, created time.Time) string {
	param := r.names.FailoverStartedParameter()
	var out *ssm.GetParameterOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		out, err = r.Backup.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
		return err
	})
	switch {
	case errorCode(err) == "ParameterNotFound":
		return fmt.Sprintf("; no failover start recorded in SSM %s (failback uses the stack's creation)", param)
	case err != nil:
		return fmt.Sprintf("; the recorded failover start is unreadable (SSM GetParameter %s: %v)", param, err)
	}
	value := ""
	if out.Parameter != nil {
		value = deref(out.Parameter.Value)
	}
	started, perr := time.Parse(time.RFC3339, value)
	switch {
	case perr != nil:
		return fmt.Sprintf("; SSM %s holds %q, not a time: failback refuses to start until it is fixed or -since is given", param, value)
	case started.Before(created):
		return fmt.Sprintf("; first failover attempt began %s (SSM %s), before this stack: failback reaches back to it", started.UTC().Format(time.RFC3339), param)
	default:
		return fmt.Sprintf("; failover start recorded %s (SSM %s)", started.UTC().Format(time.RFC3339), param)
	}
}

// leftoverFailoverRecord describes a failover start still recorded in SSM
// while no failover runs: a failback that did not finish (it clears the
// record), or an abandoned failover. The next failover would keep that old
// time, and its failback would copy far more than needed.
func (r *run) leftoverFailoverRecord(ctx context.Context) string {
	param := r.names.FailoverStartedParameter()
	var out *ssm.GetParameterOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		out, err = r.Backup.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(param)})
		return err
	})
	if err != nil || out.Parameter == nil {
		return "" // ParameterNotFound is normal; other errors show in failback's own checks
	}
	return fmt.Sprintf("SSM %s still records a failover that began %s: finish it with `drctl failback` (which clears the record), or delete the parameter if that failover was abandoned",
		param, deref(out.Parameter.Value))
}

// restoredTable checks the backup region's copy of the aggregates table.
// Failover restores it under the table's own name and failback never
// deletes it, so one left from an earlier disaster would be adopted, stale,
// by the next failover instead of a fresh restore.
func (r *run) restoredTable(ctx context.Context, drActive bool) Line {
	line := Line{Region: r.Backup.Name, Check: "restored table"}
	var out *dynamodb.DescribeTableOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		out, err = r.Backup.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(r.names.Table())})
		return err
	})
	switch {
	case errorCode(err) == "ResourceNotFoundException" && drActive:
		line.Status, line.Detail = Warn, fmt.Sprintf("%s does not exist yet in %s: the failover's restore has not created it; see the BackupFailoverStack events", r.names.Table(), r.Backup.Name)
	case errorCode(err) == "ResourceNotFoundException":
		line.Status, line.Detail = OK, "none (normal operation: failover restores it)"
	case err != nil:
		line.Status, line.Detail = Fail, fmt.Sprintf("DescribeTable %s: %v", r.names.Table(), err)
	case drActive:
		return r.protection(ctx, line, out.Table)
	default:
		line.Status = Warn
		line.Detail = fmt.Sprintf("%s remains in %s from an earlier failover: back it up and delete it before the next failover, or that failover adopts it as it is instead of restoring fresh data", r.names.Table(), r.Backup.Name)
	}
	return line
}

// protection checks that the table restored for this failover is ready and
// protected like the primary's: the restore's Ready step does this, but a
// restore longer than its wait leaves it to the operator.
func (r *run) protection(ctx context.Context, line Line, table *ddbtypes.TableDescription) Line {
	name, region := r.names.Table(), r.Backup.Name
	if table.TableStatus != ddbtypes.TableStatusActive {
		line.Status, line.Detail = Warn, fmt.Sprintf("%s is %s: still restoring (RestoreStatus RESTORING); the aggregator retries from the stream until it is ACTIVE", name, table.TableStatus)
		return line
	}
	var backups *dynamodb.DescribeContinuousBackupsOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		backups, err = r.Backup.DynamoDB.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(name)})
		return err
	})
	if err != nil {
		line.Status, line.Detail = Fail, fmt.Sprintf("DescribeContinuousBackups %s in %s: %v", name, region, err)
		return line
	}
	var missing []string
	if !pitrEnabled(backups) {
		missing = append(missing, fmt.Sprintf("aws dynamodb update-continuous-backups --region %s --table-name %s --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true", region, name))
	}
	if table.DeletionProtectionEnabled == nil || !*table.DeletionProtectionEnabled {
		missing = append(missing, fmt.Sprintf("aws dynamodb update-table --region %s --table-name %s --deletion-protection-enabled", region, name))
	}
	if len(missing) > 0 {
		line.Status, line.Detail = Warn, fmt.Sprintf("%s is ACTIVE but not protected like the primary; run: %s", name, strings.Join(missing, " && "))
		return line
	}
	line.Status, line.Detail = OK, fmt.Sprintf("%s is ACTIVE with PITR and deletion protection (restored for this failover)", name)
	return line
}

func pitrEnabled(out *dynamodb.DescribeContinuousBackupsOutput) bool {
	d := out.ContinuousBackupsDescription
	return d != nil && d.PointInTimeRecoveryDescription != nil &&
		d.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus == ddbtypes.PointInTimeRecoveryStatusEnabled
}

// stack describes a stack; nil without error when it does not exist.
func (r *run) stack(ctx context.Context, region Region, name string) (*cfntypes.Stack, error) {
	var out *cloudformation.DescribeStacksOutput
	err := r.call(ctx, func(ctx context.Context) (err error) {
		out, err = region.CloudFormation.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		return err
	})
	if err != nil {
		if awserr.StackNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	for i := range out.Stacks {
		if out.Stacks[i].StackStatus != cfntypes.StackStatusDeleteComplete {
			return &out.Stacks[i], nil
		}
	}
	return nil, nil
}

// firstCreateCleanup is what to do when PrimaryStack's first create could
// not roll back: a rollback cannot delete a table with deletion protection,
// so the (still empty) table is left behind and the stack stays
// ROLLBACK_FAILED (README "When the first deploy fails").
func (r *run) firstCreateCleanup(region, stack string) string {
	table := r.names.Table()
	return fmt.Sprintf("the first create failed and its rollback could not delete the protected table; if %s holds no items, "+
		"run `aws dynamodb update-table --region %s --table-name %s --no-deletion-protection-enabled`, "+
		"`aws dynamodb delete-table --region %s --table-name %s`, `aws cloudformation delete-stack --region %s --stack-name %s`, then deploy again",
		table, region, table, region, table, region, stack)
}

func stackStatus(s cfntypes.StackStatus) Status {
	status := string(s)
	switch {
	case strings.HasSuffix(status, "_FAILED") || strings.Contains(status, "ROLLBACK"):
		return Fail
	case strings.HasSuffix(status, "_IN_PROGRESS"):
		return Warn
	}
	return OK
}

func output(s *cfntypes.Stack, key string) string {
	for _, o := range s.Outputs {
		if deref(o.OutputKey) == key {
			return deref(o.OutputValue)
		}
	}
	return "?"
}

type metricQuery struct {
	id, namespace, name, stat string
	dims                      map[string]string
}

// metrics reads one-minute datapoints of the last metricWindow, oldest
// first, by query id.
func (r *run) metrics(ctx context.Context, cw CloudWatchAPI, queries []metricQuery) (map[string][]float64, error) {
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(r.now.Add(-metricWindow)), EndTime: aws.Time(r.now),
		ScanBy: cwtypes.ScanByTimestampAscending,
	}
	for _, q := range queries {
		var dims []cwtypes.Dimension
		for k, v := range q.dims {
			dims = append(dims, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(v)})
		}
		in.MetricDataQueries = append(in.MetricDataQueries, cwtypes.MetricDataQuery{
			Id: aws.String(q.id),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String(q.namespace), MetricName: aws.String(q.name), Dimensions: dims},
				Period: aws.Int32(60), Stat: aws.String(q.stat),
			},
		})
	}
	series := map[string][]float64{}
	for page := 0; page < maxPages; page++ {
		var out *cloudwatch.GetMetricDataOutput
		err := r.call(ctx, func(ctx context.Context) (err error) {
			out, err = cw.GetMetricData(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, res := range out.MetricDataResults {
			series[deref(res.Id)] = append(series[deref(res.Id)], res.Values...)
		}
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	return series, nil
}

func maxOf(vs []float64) float64 {
	m := 0.0
	for _, v := range vs {
		m = math.Max(m, v)
	}
	return m
}

func sum(vs []float64) float64 {
	s := 0.0
	for _, v := range vs {
		s += v
	}
	return s
}

func latest(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	return vs[len(vs)-1]
}

func trimFloat(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%.1f", f), ".0") }

// duration prints a duration to the second, e.g. "4m12s", "2h5m0s".
func duration(d time.Duration) string { return d.Round(time.Second).String() }
