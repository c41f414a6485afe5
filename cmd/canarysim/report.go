package main

import (
	"fmt"
	"math"
	"strings"
	"time"
)

func fmtP(p float64) string { return fmt.Sprintf("%.1f%%", 100*p) }

func fmtNum(v float64, unit string) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f%s", v, unit)
}

// markdown renders the benchmark section.
func markdown(cells []Cell, reps int, alpha float64, seed uint64, cmd string, elapsed time.Duration, workers int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Rollback policies on simulated canaries\n\n")
	fmt.Fprintf(&b, "Produced by `%s` (%d replicates a cell, seed %d, alpha %g; %s on %d goroutines).\n\n", cmd, reps, seed, alpha, elapsed, workers)
	b.WriteString(`Traffic: 1, 10 and 100 requests/s with a run every 5 minutes; the canary's weight goes
5% -> 10% -> 25% -> 50% one step per run (the same schedule for every policy, so every policy
sees the same requests) and stays at 50%; promotion is allowed from minute 30, and a run ends
after 2 hours (24 runs) or 24 hours for the A/A run (288 runs, no promotion, load and the shared
error rate varying over the day). Stable fails 1% of requests; latency is lognormal (median
40 ms, sigma 0.6) observed through Istio's default histogram buckets. Requests arrive as a
Poisson process. The outage raises both versions to 10% errors from minute 10 to 20.

Every policy reads the per-tile counts that promoter's Prometheus range queries return.
promoter's sequential test and the Flagger-style policy are evaluated by promoter's own gate
code (` + "`gates.Judge`" + `, ` + "`gates.RunSequential`" + `); the guide's script and the naive z-test are
not promoter gates and are evaluated as written:

- **Flagger-style**: request-success-rate >= 99% and request-duration p99 <= 500 ms checked on
  every 5-minute interval with any request; rollback after 5 failed checks (counted over the
  whole analysis); promotion when both hold over the last step.
- **guide's script**: rollback when the last 5-minute interval has >= 100 canary requests and an
  error rate above 5%; promotion when it has >= 100 requests and an error rate <= 5%.
- **naive z-test**: one-sided two-proportion z-test of canary vs stable on everything since the
  canary started (errors, and requests slower than stable's p99 bucket bound), each at alpha/2,
  repeated at every run.
- **promoter sequential**: ` + "`type: sequential`" + ` with ` + "`promoteWhen: evidence`" + ` (rollback e-process on errors and
  slow requests at alpha/2 each; promotion when the ratio is shown below 2x at level alpha).

Columns: P(rollback); median minutes to rollback and median canary requests served before it
(over the runs that rolled back); P(promote) within 2 hours.

`)
	byScenario := map[string][]Cell{}
	var order []string
	for _, c := range cells {
		if _, ok := byScenario[c.Scenario.Name]; !ok {
			order = append(order, c.Scenario.Name)
		}
		byScenario[c.Scenario.Name] = append(byScenario[c.Scenario.Name], c)
	}
	for _, name := range order {
		fmt.Fprintf(&b, "### %s\n\n", name)
		b.WriteString("| req/s | policy | P(rollback) | median min to rollback | median canary requests before rollback | P(promote) |\n")
		b.WriteString("|---:|---|---:|---:|---:|---:|\n")
		for _, c := range byScenario[name] {
			for _, s := range c.Results {
				fmt.Fprintf(&b, "| %g | %s | %s | %s | %s | %s |\n", c.RPS, s.Policy, fmtP(s.PRollback),
					fmtNum(s.MedianMinutes, ""), fmtNum(s.MedianCanaryRequests, ""), fmtP(s.PPromote))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(targets(cells))
	b.WriteString(`Notes:

- Flagger-style false rollbacks come from its 99% success-rate threshold at a 1% base error
  rate: about half of the 5-minute checks of a healthy canary fail by chance (fewer at 1 req/s,
  where most 5-minute windows have no error at all), and five failures end the run. Its p99
  <= 500 ms check never sees the latency regressions: through Istio's buckets a p99 of 160 or
  240 ms interpolates well inside the (100, 250] and (250, 500] buckets.
- The guide's script only watches errors above 5%, so it never sees x1.5 or x2 regressions
  and fires on any outage that lasts a full interval.
- The naive z-test is calibrated for a single look; re-run every 5 minutes it rolls back a
  quarter to a half of healthy canaries.
- The sequential test's x5 detection within the first run at 10 req/s is borderline: that
  run sees about 7.5 canary errors against 1.5 expected, and the evidence threshold
  1/(alpha/2) = 40 is crossed in a little over half the replicates; the rest roll back at the
  second run. P(promote) of a healthy canary at 1 req/s is low because promotion waits for
  evidence that the canary is less than 2x worse than stable, which 2 hours of 1 req/s at 1%
  errors cannot give; that is the intended behaviour (hold rather than guess).
- Reproduce with ` + "`make bench-gates`" + ` (the command above); ` + "`-quick`" + ` runs 200 replicates a cell
  in a few seconds.

`)
	return b.String()
}

// find returns the summary of policy in the cell of scenario at rps.
func find(cells []Cell, scenario string, rps float64, policy string) (Summary, bool) {
	for _, c := range cells {
		if c.Scenario.Name == scenario && c.RPS == rps {
			for _, s := range c.Results {
				if s.Policy == policy {
					return s, true
				}
			}
		}
	}
	return Summary{}, false
}

// targets checks promoter's sequential test against the benchmark's targets.
func targets(cells []Cell) string {
	const seq = "promoter sequential"
	var b strings.Builder
	b.WriteString("### Targets for promoter's sequential test\n\n| target | measured | met |\n|---|---|---|\n")
	row := func(target, measured string, ok bool) {
		mark := "yes"
		if !ok {
			mark = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", target, measured, mark)
	}
	check := func(target, scenario string, rpss []float64, measure func(Summary) (string, bool)) {
		var parts []string
		all, any := true, false
		for _, r := range rpss {
			s, ok := find(cells, scenario, r, seq)
			if !ok {
				continue
			}
			any = true
			m, good := measure(s)
			parts = append(parts, fmt.Sprintf("%g req/s: %s", r, m))
			all = all && good
		}
		if any {
			row(target, strings.Join(parts, "; "), all)
		}
	}
	lowRollback := func(s Summary) (string, bool) { return fmtP(s.PRollback), s.PRollback <= 0.05 }
	within := func(limit float64) func(Summary) (string, bool) {
		return func(s Summary) (string, bool) {
			// The median over all replicates: a replicate that never rolled
			// back counts as slower than any limit.
			ok := s.PRollback > 0.5 && s.MedianMinutes <= limit
			return fmt.Sprintf("P(rollback) %s, median %s min", fmtP(s.PRollback), fmtNum(s.MedianMinutes, "")), ok
		}
	}
	check("healthy canary: false rollback <= 5%", "healthy", []float64{1, 10, 100}, lowRollback)
	check("shared outage: false rollback <= 5%", "shared outage", []float64{1, 10, 100}, lowRollback)
	check("A/A over 288 looks: false rollback <= 5%", "A/A, 288 looks", []float64{1, 10, 100}, lowRollback)
	check("errors x5 rolled back within 5 min (median)", "errors x5", []float64{10, 100}, within(5))
	check("errors x2 rolled back within 25 min at 10 req/s", "errors x2", []float64{10}, within(25))
	check("errors x2 rolled back within 10 min at 100 req/s", "errors x2", []float64{100}, within(10))
	check("latency x1.5 rolled back within 5 min (median)", "latency x1.5", []float64{10, 100}, within(5))
	check("errors x2: P(promote) <= 1%", "errors x2", []float64{10, 100}, func(s Summary) (string, bool) {
		return fmtP(s.PPromote), s.PPromote <= 0.01
	})
	b.WriteString("\n")
	return b.String()
}
