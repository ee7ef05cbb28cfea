package partition

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// MetricsNamespace is the CloudWatch namespace of the registrar's metrics.
const MetricsNamespace = "DRAnalytics/PartitionRegistrar"

// writeMetrics writes one CloudWatch embedded-metric-format line: every
// metric is always present (zeros included) so alarms and dashboards see a
// continuous series.
func (r *Registrar) writeMetrics(res Result, messages, poison, failedMessages int) {
	type metric struct {
		name  string
		value int
	}
	values := []metric{
		{"Messages", messages},
		{"Received", res.Received},
		{"Registered", len(res.Created)},
		{"AlreadyPresent", len(res.AlreadyPresent)},
		{"CacheHits", res.CacheHits},
		{"Failed", len(res.Failed)},
		{"FailedMessages", failedMessages},
		{"PoisonMessages", poison},
		{"GlueCalls", res.GlueCalls},
		{"GlueRetries", res.GlueRetries},
	}
	skipped := 0
	for _, reason := range SkipReasons {
		skipped += res.Skipped[reason]
		values = append(values, metric{SkippedMetric(reason), res.Skipped[reason]})
	}
	values = append(values, metric{"Skipped", skipped})

	line := map[string]any{"FunctionName": r.functionName}
	definitions := make([]map[string]string, len(values))
	for i, v := range values {
		line[v.name] = v.value
		definitions[i] = map[string]string{"Name": v.name, "Unit": "Count"}
	}
	line["_aws"] = map[string]any{
		"Timestamp": r.now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  MetricsNamespace,
			"Dimensions": [][]string{{"FunctionName"}},
			"Metrics":    definitions,
		}},
	}
	out, err := json.Marshal(line)
	if err != nil { // cannot happen: only strings and ints
		r.logger.Error("encode metrics", "error", err.Error())
		return
	}
	if _, err := r.metrics.Write(append(out, '\n')); err != nil {
		r.logger.Error("write metrics", "error", err.Error())
	}
}

// SkippedMetric is the metric counting skips for a reason, e.g.
// "SkippedFolderMarker" for "folder-marker".
func SkippedMetric(reason SkipReason) string {
	var b strings.Builder
	b.WriteString("Skipped")
	for _, word := range strings.Split(string(reason), "-") {
		if word != "" {
			b.WriteString(strings.ToUpper(word[:1]) + word[1:])
		}
	}
	return b.String()
}

// truncate shortens s to at most n bytes for a log line, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
