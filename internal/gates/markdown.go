package gates

import (
	"fmt"
	"io"
	"strings"
	"time"
)

var verdictIcon = map[Verdict]string{Pass: "✅", Fail: "❌", Inconclusive: "⏳", Error: "⚠️"}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", "<br>")
}

// WriteMarkdown writes the report for a pull request body: a verdict line,
// a table of gates, each gate's query, and a Mermaid chart of the canary's
// and stable's error rate and p99 latency over the tiles so far.
func (r *Report) WriteMarkdown(w io.Writer) error {
	fmt.Fprintf(w, "### Gates for `%s` at %d%%: %s %s\n\n", r.Canary, r.Weight, verdictIcon[r.Verdict], r.Verdict)
	fmt.Fprintf(w, "Stage since %s, evaluated at %s on %s tiles; the canary served %.0f requests (minimum %d).\n\n",
		r.Stage.Start.UTC().Format(time.RFC3339), r.Stage.Now.UTC().Format(time.RFC3339), promDuration(r.Interval), r.CanaryRequests, r.MinRequests)
	for _, reason := range r.RollbackReasons {
		fmt.Fprintf(w, "> **Rollback:** %s\n", mdCell(reason))
	}
	if len(r.RollbackReasons) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "| Gate | Role | Verdict | Canary | Stable | Threshold | Samples (canary/stable) | Failed checks | Message |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, g := range r.all() {
		fmt.Fprintf(w, "| %s | %s | %s %s | %s | %s | %s | %.0f / %.0f | %d of %d | %s |\n",
			mdCell(g.Name), g.Role, verdictIcon[g.Verdict], g.Verdict, value(g.Value, g.Unit), value(g.Stable, g.Unit),
			mdCell(g.Threshold), g.Samples.Canary, g.Samples.Stable, g.FailedChecks, g.Checks, mdCell(g.Message))
	}
	fmt.Fprintln(w)
	r.writeCharts(w)
	fmt.Fprintln(w, "<details><summary>Queries</summary>")
	fmt.Fprintln(w)
	for _, g := range r.all() {
		if g.Query == "" {
			continue
		}
		fmt.Fprintf(w, "**%s** (%s .. %s)\n\n```promql\n%s\n```\n\n", mdCell(g.Name),
			g.Window.Start.UTC().Format(time.RFC3339), g.Window.End.UTC().Format(time.RFC3339), g.Query)
	}
	fmt.Fprintln(w, "</details>")
	return nil
}

// writeCharts writes Mermaid xy charts of the history, canary vs stable.
func (r *Report) writeCharts(w io.Writer) {
	if len(r.History) == 0 {
		return
	}
	var labels []string
	var ce, se, cp, sp []string
	num := func(v, scale float64) string {
		if !finite(v) {
			return "0"
		}
		return fmt.Sprintf("%.4g", v*scale)
	}
	for _, h := range r.History {
		labels = append(labels, `"`+h.End.UTC().Format("15:04")+`"`)
		ce = append(ce, num(h.CanaryErrorRate, 100))
		se = append(se, num(h.StableErrorRate, 100))
		cp = append(cp, num(h.CanaryP99, 1))
		sp = append(sp, num(h.StableP99, 1))
	}
	chart := func(title, axis string, canary, stable []string) {
		fmt.Fprintf(w, "```mermaid\nxychart-beta\n    title \"%s (line 1: canary, line 2: stable)\"\n", title)
		fmt.Fprintf(w, "    x-axis [%s]\n    y-axis \"%s\"\n", strings.Join(labels, ", "), axis)
		fmt.Fprintf(w, "    line [%s]\n    line [%s]\n```\n\n", strings.Join(canary, ", "), strings.Join(stable, ", "))
	}
	chart("Error rate per interval", "errors (%)", ce, se)
	chart("p99 latency per interval", "p99 (ms)", cp, sp)
}
