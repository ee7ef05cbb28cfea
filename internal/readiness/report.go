package readiness

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteText prints the checklist for people: one line per check, then the
// RPO estimate and the counts.
func (r Report) WriteText(w io.Writer) error {
	account := "account " + r.Account
	if r.Account == "" {
		account = "account unknown: see the credentials line"
	}
	fmt.Fprintf(w, "DR readiness of %s (%s): primary %s, backup %s, at %s\n\n",
		r.Prefix, account, r.PrimaryRegion, r.BackupRegion, r.GeneratedAt.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tREGION\tCHECK\tDETAIL")
	for _, l := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Status, l.Region, l.Check, l.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.RPO.Bound != "" {
		fmt.Fprintf(w, "\n%s\n", r.RPO.Text())
	}
	if r.DashboardURL != "" {
		fmt.Fprintf(w, "\nDashboard: %s\n", r.DashboardURL)
	}
	_, err := fmt.Fprintf(w, "\n%d OK, %d WARN, %d FAIL\n", r.Summary.OK, r.Summary.Warn, r.Summary.Fail)
	return err
}

// WriteJSON prints the report as one indented JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Text explains the estimate in two lines.
func (p RPO) Text() string {
	s := func(v float64) string { return (time.Duration(v) * time.Second).String() }
	text := fmt.Sprintf("Estimated RPO now: %s (bound by the %s path)\n  S3: %s = Firehose buffer %s + replication latency %s (%s); table: %s (%s)",
		s(p.Seconds), p.Bound, s(p.S3), s(p.FirehoseBuffer), s(p.ReplicationLatency), p.ReplicationLatencySource, s(p.Table), tableSource(p.TableSource))
	if p.TableIfPrimaryLost != nil {
		text += fmt.Sprintf("\n  If the primary region is lost entirely, the table restores from the newest vault copy: %s", s(*p.TableIfPrimaryLost))
	}
	if !p.Complete {
		text += "\n  (incomplete: a figure could not be read; see the FAIL lines)"
	}
	return text
}

func tableSource(s string) string {
	switch s {
	case "pitr":
		return "PITR lag"
	case "backup-vault":
		return "age of the newest copied recovery point, PITR unavailable"
	}
	return "unknown: neither PITR nor a vault copy could be read"
}
