package demo

import (
	"fmt"
	"math"
	"strings"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/promote"
)

// evidence summarises the gate report behind a decision in one line:
// canary vs stable error rate and p99, the canary's requests, and the
// sequential test's p-value.
func evidence(d promote.Decision) string {
	r := d.Report
	if r == nil {
		return ""
	}
	var parts []string
	seen := map[string]bool{}
	for _, g := range r.Gates {
		key := g.Type
		if g.Type == "latency" {
			key = "latency"
		}
		if seen[key] {
			continue
		}
		switch g.Type {
		case "error-rate", "success-rate":
			if !math.IsNaN(g.Value) {
				parts = append(parts, fmt.Sprintf("errors %s vs %s", pct(g.Value, g.Type), pct(g.Stable, g.Type)))
				seen[key] = true
			}
		case "latency":
			if !math.IsNaN(g.Value) {
				parts = append(parts, fmt.Sprintf("p99 %.0fms vs %.0fms", g.Value, g.Stable))
				seen[key] = true
			}
		case "sequential":
			if s := g.Sequential; s != nil {
				parts = append(parts, fmt.Sprintf("sequential p=%.2g", s.PValue))
				seen[key] = true
			}
		}
	}
	parts = append(parts, fmt.Sprintf("%.0f canary requests", r.CanaryRequests))
	if r.Verdict != gates.Pass {
		parts = append(parts, "gates "+string(r.Verdict))
	}
	return "[" + strings.Join(parts, " · ") + "]"
}

func pct(v float64, typ string) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if typ == "success-rate" {
		v = 1 - v
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}
