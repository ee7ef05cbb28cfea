package failback

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Step is what one step did.
type Step struct {
	Name string
	// Finished is when the step ended; Duration how long it took.
	Finished time.Time
	Duration time.Duration
	// Actions say what was done, or would be in a dry run.
	Actions []string
	// Counts compare both sides.
	Counts []Count
	// Mismatches are what did not match or could not be done.
	Mismatches []string
	// Error is why the step stopped, if it did.
	Error string
}

// status is the step's verdict: FAILED, MISMATCH, "dry run" or done.
func (s *Step) status(dryRun bool) string {
	switch {
	case s.Error != "":
		return "FAILED"
	case len(s.Mismatches) > 0:
		return "MISMATCH"
	case dryRun:
		return "dry run"
	}
	return "done"
}

// Count is one figure on both sides; -1 where a side has none.
type Count struct {
	What            string
	Unit            string // objects, bytes, items, records, percent
	Backup, Primary int64
}

// Report is the whole run.
type Report struct {
	DryRun          bool
	Primary, Backup string
	Preflight       Preflight
	Started         time.Time
	Finished        time.Time
	Steps           []*Step
	// RecordError says why the failback record could not be written
	// (the failback itself goes on); "" when it was, or in a dry run.
	RecordError string

	copied []Object
}

// OK reports whether every step finished and everything matched.
func (r Report) OK() bool {
	for _, s := range r.Steps {
		if s.Error != "" || len(s.Mismatches) > 0 {
			return false
		}
	}
	return len(r.Steps) > 0
}

// maxListed bounds how many mismatches the text report lists per step.
const maxListed = 20

// WriteText prints the report for people.
func (r Report) WriteText(w io.Writer) error {
	mode := ""
	if r.DryRun {
		mode = " (dry run: nothing was changed)"
	}
	fmt.Fprintf(w, "Failback %s -> %s%s\n", r.Backup, r.Primary, mode)
	fmt.Fprintf(w, "  caller %s (account %s)\n  failover at %s (from %s)\n\n",
		r.Preflight.Caller, r.Preflight.Account, r.Preflight.Failover.Format(time.RFC3339), r.Preflight.FailoverSource)
	for i, s := range r.Steps {
		status := s.status(r.DryRun)
		fmt.Fprintf(w, "%d. %-24s %-8s %s\n", i+1, s.Name, status, s.Duration.Round(time.Millisecond))
		for _, a := range s.Actions {
			fmt.Fprintf(w, "     %s\n", a)
		}
		if len(s.Counts) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(tw, "     \t%s\t%s\t\n", r.Backup, r.Primary)
			for _, c := range s.Counts {
				fmt.Fprintf(tw, "     %s\t%s\t%s\t\n", c.What, countText(c.Backup, c.Unit), countText(c.Primary, c.Unit))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		for j, m := range s.Mismatches {
			if j == maxListed {
				fmt.Fprintf(w, "     ! ... and %d more\n", len(s.Mismatches)-maxListed)
				break
			}
			fmt.Fprintf(w, "     ! %s\n", m)
		}
		if s.Error != "" {
			fmt.Fprintf(w, "     error: %s\n", s.Error)
		}
	}
	if r.RecordError != "" {
		fmt.Fprintf(w, "\n! %s\n", r.RecordError)
	}
	verdict := "all steps done, both sides match"
	if !r.OK() {
		verdict = "NOT complete: see the FAILED and MISMATCH steps; running failback again resumes"
	}
	if r.DryRun && r.OK() {
		verdict = "dry run complete; run without -dry-run to fail back"
	}
	_, err := fmt.Fprintf(w, "\n%s (total %s)\n", verdict, r.Finished.Sub(r.Started).Round(time.Millisecond))
	if err == nil && r.OK() && !r.DryRun {
		_, err = fmt.Fprintf(w, "next: `cdk destroy %s --exclusively --force` removes the backup compute (tables and buckets are retained)\n", "BackupFailoverStack")
	}
	return err
}

func countText(v int64, unit string) string {
	switch {
	case v < 0:
		return "-"
	case unit == "bytes":
		return bytesText(v)
	case unit == "percent":
		return fmt.Sprintf("%d%%", v)
	}
	return fmt.Sprint(v)
}

// bytesText prints a size in binary units, e.g. "1.5 GiB".
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/float64(div)), ".0") + " " + string("KMGTPE"[exp]) + "iB"
}
