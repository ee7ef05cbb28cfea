package failback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/dr-analytics/drplan/internal/naming"
)

// Recompaction limits.
const (
	// maxRunningCompactions bounds concurrent executions, so a long
	// disaster does not start a month of Athena queries at once.
	maxRunningCompactions = 4
	// maxCompactionTries bounds the executions one day gets across runs:
	// a name is never reused, so each retry takes the next suffix.
	maxCompactionTries = 5
)

// compactionDays are the UTC days from the failover's to yesterday's: the
// primary's compacted/ for them was built (in the backup region) from a
// replica that can lack raw objects that never replicated. Today is left to
// the nightly schedule, as the compaction job refuses a day still running.
func compactionDays(failover, now time.Time) []string {
	day := failover.UTC().Truncate(24 * time.Hour)
	today := now.UTC().Truncate(24 * time.Hour)
	var days []string
	for ; day.Before(today); day = day.AddDate(0, 0, 1) {
		days = append(days, day.Format(time.DateOnly))
	}
	return days
}

// compactionRun is one day's recompaction.
type compactionRun struct {
	day, execution string
	// status is the execution's final status; "" while it runs or when it
	// never started; note says why, or that an earlier run did it.
	status, detail, note string
}

// recompactStep runs the primary's compaction state machine for every
// whole day since failover, now that the primary's raw data is complete,
// and waits for the executions. Execution names derive from the day and
// the failover time, so a second failback finds the first one's executions
// instead of compacting again.
func recompactStep(ctx context.Context, in Input, names naming.Names, failover time.Time, s *Step) error {
	days := compactionDays(failover, in.Now())
	if len(days) == 0 {
		s.Actions = append(s.Actions, fmt.Sprintf("no whole UTC day since the failover (%s): the nightly compaction covers today", failover.UTC().Format(time.DateOnly)))
		return nil
	}
	machine := fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", in.Primary.Name, names.Account, names.StateMachine())
	if in.DryRun {
		s.Actions = append(s.Actions, fmt.Sprintf("would recompact %d day(s) from the primary's raw data with %s: %s", len(days), machine, strings.Join(days, ", ")))
		return nil
	}
	in.Progress.Start("recompact days", int64(len(days)), 0)
	defer in.Progress.Done()
	runs := make([]*compactionRun, len(days))
	for i, day := range days {
		runs[i] = &compactionRun{day: day}
	}
	deadline := in.Now().Add(in.CompactionTimeout)
	next := 0
	var running []*compactionRun
	for {
		for len(running) < maxRunningCompactions && next < len(runs) {
			r := runs[next]
			next++
			if err := startCompaction(ctx, in, machine, failover, r); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r.execution, r.status, r.detail = "", "", err.Error()
				in.Progress.Add(1, 0)
				continue
			}
			if r.status == "" {
				running = append(running, r)
			} else {
				in.Progress.Add(1, 0)
			}
		}
		if len(running) == 0 && next == len(runs) {
			break
		}
		for _, r := range running {
			if err := describeCompaction(ctx, in, r); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r.status, r.detail = "UNKNOWN", err.Error()
			}
			if r.status != "" {
				in.Progress.Add(1, 0)
			}
		}
		running = slices.DeleteFunc(running, func(r *compactionRun) bool { return r.status != "" })
		if len(running) == 0 && next == len(runs) {
			break
		}
		if !in.Now().Before(deadline) {
			break
		}
		if len(running) > 0 {
			if err := in.Retry.Sleep(ctx, in.CompactionPoll); err != nil {
				return err
			}
		}
	}
	succeeded := 0
	for _, r := range runs {
		switch {
		case r.status == string(sfntypes.ExecutionStatusSucceeded):
			succeeded++
			s.Actions = append(s.Actions, fmt.Sprintf("%s recompacted%s (execution %s)", r.day, r.note, r.execution))
		case r.execution == "" && r.detail == "":
			s.Mismatches = append(s.Mismatches, fmt.Sprintf("%s not recompacted: not started within -compaction-timeout %s; run failback again", r.day, in.CompactionTimeout))
		case r.execution == "":
			s.Mismatches = append(s.Mismatches, fmt.Sprintf("%s not recompacted: %s; compacted/dt=%s/ holds the backup region's compaction copied back", r.day, r.detail, r.day))
		case r.status == "":
			s.Mismatches = append(s.Mismatches, fmt.Sprintf("%s still compacting after -compaction-timeout %s (execution %s): watch it in the Step Functions console, or run failback again to wait for it", r.day, in.CompactionTimeout, r.execution))
		default:
			s.Mismatches = append(s.Mismatches, fmt.Sprintf("%s compaction %s%s (execution %s): compacted/dt=%s/ holds the backup region's compaction copied back; fix the cause, then run failback again (it starts a new execution)", r.day, r.status, r.detail, r.execution, r.day))
		}
	}
	s.Counts = append(s.Counts, Count{What: "days recompacted since failover", Unit: "days", Backup: -1, Primary: int64(succeeded)})
	return nil
}

// startCompaction starts a day's execution, or adopts the one an earlier
// run started: running (Step Functions returns it for the same name and
// input) or succeeded. A failed one is left, and the next name tried.
func startCompaction(ctx context.Context, in Input, machine string, failover time.Time, r *compactionRun) error {
	input, err := json.Marshal(map[string]string{"date": r.day})
	if err != nil {
		return err
	}
	base := fmt.Sprintf("failback-%s-%d", r.day, failover.Unix())
	var previous []string
	for try := 1; try <= maxCompactionTries; try++ {
		name := base
		if try > 1 {
			name = fmt.Sprintf("%s-r%d", base, try)
		}
		var out *sfn.StartExecutionOutput
		_, err := do(ctx, in.Retry, func(ctx context.Context) (err error) {
			out, err = in.Primary.StepFunctions.StartExecution(ctx, &sfn.StartExecutionInput{
				StateMachineArn: aws.String(machine), Name: aws.String(name), Input: aws.String(string(input)),
			})
			return err
		})
		if err == nil {
			r.execution = aws.ToString(out.ExecutionArn)
			return nil
		}
		if !errors.As(err, new(*sfntypes.ExecutionAlreadyExists)) {
			return fmt.Errorf("start %s: %w", machine, err)
		}
		r.execution = strings.Replace(machine, ":stateMachine:", ":execution:", 1) + ":" + name
		if err := describeCompaction(ctx, in, r); err != nil {
			return err
		}
		switch r.status {
		case string(sfntypes.ExecutionStatusSucceeded):
			r.note = " by an earlier failback"
			return nil
		case "":
			// Running with another input: wait for it all the same.
			return nil
		}
		previous = append(previous, fmt.Sprintf("%s %s", name, r.status))
		r.status, r.detail = "", ""
	}
	r.execution = ""
	return fmt.Errorf("every execution name failback may use for %s ended unsuccessfully (%s): start the state machine by hand with {\"date\":%q}", r.day, strings.Join(previous, ", "), r.day)
}

// describeCompaction reads an execution's status into r: "" while it runs.
func describeCompaction(ctx context.Context, in Input, r *compactionRun) error {
	var out *sfn.DescribeExecutionOutput
	_, err := do(ctx, in.Retry, func(ctx context.Context) (err error) {
		out, err = in.Primary.StepFunctions.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(r.execution)})
		return err
	})
	if err != nil {
		return fmt.Errorf("describe execution %s: %w", r.execution, err)
	}
	switch out.Status {
	case sfntypes.ExecutionStatusRunning, sfntypes.ExecutionStatusPendingRedrive:
		r.status = ""
	default:
		r.status = string(out.Status)
		if e := aws.ToString(out.Error); e != "" {
			r.detail = ": " + e
			if c := aws.ToString(out.Cause); c != "" {
				r.detail += ": " + c
			}
		}
	}
	return nil
}
