package failback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/recoverytime"
)

// clearStep deletes the failover's recorded start once a real run has
// brought everything back and every count matched, so the next disaster's
// failover records its own start. While anything is left to do, the
// record stays and a later run reaches back to the same start.
func clearStep(ctx context.Context, in Input, names naming.Names, report Report, s *Step) error {
	param := names.FailoverStartedParameter()
	recorded := "no recorded start was read"
	if t := report.Preflight.RecordedStart; !t.IsZero() {
		recorded = "recorded start " + t.Format(time.RFC3339)
	}
	if !report.OK() {
		s.Actions = append(s.Actions, fmt.Sprintf("kept SSM parameter %s in %s (%s): the failback is not complete, and the next run reaches back to the same start", param, in.Backup.Name, recorded))
		return nil
	}
	if in.DryRun {
		s.Actions = append(s.Actions, fmt.Sprintf("would delete SSM parameter %s in %s (%s) once everything matches, so the next failover records its own start", param, in.Backup.Name, recorded))
		return nil
	}
	_, err := do(ctx, in.Retry, func(ctx context.Context) error {
		_, err := in.Backup.SSM.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(param)})
		return err
	})
	switch {
	case errors.As(err, new(*ssmtypes.ParameterNotFound)):
		s.Actions = append(s.Actions, fmt.Sprintf("SSM parameter %s in %s is already gone: the next failover records its own start", param, in.Backup.Name))
	case err != nil:
		return fmt.Errorf("delete SSM parameter %s in %s: %w: allow ssm:DeleteParameter on it, or delete it by hand (aws ssm delete-parameter --name %s --region %s) before the next failover", param, in.Backup.Name, err, param, in.Backup.Name)
	default:
		s.Actions = append(s.Actions, fmt.Sprintf("deleted SSM parameter %s in %s (%s): the next failover records its own start", param, in.Backup.Name, recorded))
	}
	return nil
}

// recordTimes writes when each step so far finished to the failback record
// in the backup region (naming.Names.FailbackRecordParameter), finished
// once the run ended; `drctl status` shows it. A dry run writes nothing. A
// measurement must not fail a failback: the first failed write goes into
// the report and the run goes on without trying again.
func recordTimes(ctx context.Context, in Input, names naming.Names, report *Report, finished bool) {
	if in.DryRun || report.RecordError != "" {
		return
	}
	rec := recoverytime.Failback{FailoverStartedAt: report.Preflight.Failover, StartedAt: report.Started}
	for _, s := range report.Steps {
		rec.Steps = append(rec.Steps, recoverytime.FailbackStep{Name: s.Name, FinishedAt: s.Finished, Seconds: s.Duration.Seconds(),
			Status: strings.ToLower(s.status(false))})
	}
	if finished {
		rec.FinishedAt, rec.Complete = &report.Finished, report.OK()
	}
	param := names.FailbackRecordParameter()
	_, err := do(ctx, in.Retry, func(ctx context.Context) error {
		return recoverytime.RecordFailback(ctx, in.Backup.SSM, param, rec)
	})
	if err != nil {
		report.RecordError = fmt.Sprintf("failback times not recorded in SSM parameter %s (%s): %v; drctl status will not show this failback", param, in.Backup.Name, err)
	}
}
