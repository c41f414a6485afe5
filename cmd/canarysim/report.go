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
	b.WriteString(`Traffic: 1, 10 and 100 requests/s with a run every 5 minutes, one minute after each
interval ends (analysis.lag); the canary's weight goes 5% -> 10% -> 25% -> 50% one step per run
and stays at 50% (the same schedule, and the same requests, for every policy but Flagger-style,
below); promotion is allowed from minute 30, and a run ends after 2 hours (24 runs) or 24 hours
(288 runs, no promotion). Stable fails 1% of requests; latency is lognormal (median 40 ms, sigma
0.6) observed through Istio's default histogram buckets. Stable runs on 10 pods, the canary on
1. Requests arrive as a Poisson process of sessions; unless a scenario says otherwise a session
is one request. Scenarios:

- errors xF / latency xF: the canary's error rate / median latency is F times stable's.
- shared outage: both versions at 10% errors from minute 10 to 20.
- A/A: load and the shared error rate vary over the day.
- overdispersed D=k: sessions of k requests that share one outcome (error and latency) and one
  pod, for both versions.
- cold start: 20% of the canary's requests are 3x slower in the interval after its start and
  after each weight change.
- bad-pod bursts: every pod of both versions has, in 2% of its intervals, a minute of 50%
  errors (the canary's single pod too).
- header-route segment: 1% of all traffic is routed to the canary by a header; that segment's
  error rate is 3x the service's (the canary is no worse than stable on the same requests, but
  its mix is worse). Not counted as a null scenario below: the canary's measured rate is higher.
- stable degrading: stable's error rate rises by a point an hour; the canary stays at 1%.
- 1% weight: the canary stays at 1% for 2 hours.
- coarse buckets: median 120 ms, sigma 0.15 through Istio's buckets.

Every policy reads the per-tile counts that promoter's Prometheus range queries return.
promoter's sequential test and the Flagger-style policy are evaluated by promoter's own gate
code (` + "`gates.Judge`" + `, ` + "`gates.RunSequential`" + `); the guide's script and the naive z-test are
not promoter gates and are evaluated as written:

- **Flagger-style**: request-success-rate >= 99% and request-duration p99 <= 500 ms checked on
  every 5-minute interval; as Flagger's scheduler does, a failed check holds the weight and
  counts towards the threshold (5, over the whole analysis: rollback), a passing check advances
  the weight one step, and a passing check at the last step promotes. Its weights follow its
  own checks, so its traffic is drawn for its own schedule (same model, its own random stream).
- **guide's script**: rollback when the last 5-minute interval has >= 100 canary requests and an
  error rate above 5%; promotion when it has >= 100 requests and an error rate <= 5%.
- **naive z-test**: one-sided two-proportion z-test of canary vs stable on everything since the
  canary started (errors, and requests slower than stable's p99 bucket bound), each at alpha/2,
  repeated at every run.
- **promoter sequential**: ` + "`type: sequential`" + ` with ` + "`promoteWhen: evidence`" + ` and the defaults
  (rollback e-process on errors at 0.8 alpha and on slow requests at 0.2 alpha, each a mixture
  of a log grid and a point mass at 1.5x; counts scaled by the dispersion estimated from
  stable's pods; one interval of warm-up after each weight change left out of the latency test;
  promotion when the ratio is shown below 2x for errors and at every latency bound, or, where
  stable has fewer than 10 bad events, the canary's rate below 0.1%; each of the two routes at
  level alpha/2, so a family that may take either is wrongly promoted at most alpha).

Columns: P(rollback); the fraction rolled back by the first run (the run one minute after the
first interval ends) and within 60 minutes; median minutes to rollback and median canary
requests served before it (over the runs that rolled back); P(promote).

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
		b.WriteString("| req/s | policy | P(rollback) | in the first run | within 60 min | median min to rollback | median canary requests before rollback | P(promote) |\n")
		b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range byScenario[name] {
			for _, s := range c.Results {
				fmt.Fprintf(&b, "| %g | %s | %s | %s | %s | %s | %s | %s |\n", c.RPS, s.Policy, fmtP(s.PRollback), fmtP(s.PFirstRun), fmtP(s.PWithinHour),
					fmtNum(s.MedianMinutes, ""), fmtNum(s.MedianCanaryRequests, ""), fmtP(s.PPromote))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(targets(cells, alpha))
	b.WriteString(`Notes:

- Flagger-style false rollbacks come from its 99% success-rate threshold at a 1% base error
  rate: about half of the 5-minute checks of a healthy canary fail by chance, each holds the
  weight, and five failures end the run. Its p99 <= 500 ms check never sees the latency
  regressions through Istio's buckets.
- The guide's script only watches errors above 5%, so it never sees x1.5 or x2 regressions
  and fires on any outage that lasts a full interval.
- The naive z-test is calibrated for a single look; re-run every 5 minutes it rolls back a
  large share of healthy canaries, and far more under overdispersion.
- promoter's guarantee (false rollback <= alpha) covers a canary that is no worse than stable
  on the same requests, with counts whose dispersion stable's pods show. Where a rollback is
  not false in that sense (the header-route segment: the canary's mix of requests is worse) or
  where the canary's variance is larger than stable's pods show (bad-pod bursts on a single
  canary pod serving up to half the traffic: its bursts weigh ten times a stable pod's), the
  rates above are what it does, not what it promises.
- The latency regressions are caught from the first interval after the warm-up: latency
  evidence is left out for the interval after each weight change, which on this schedule is
  the first 20 minutes.
- Reproduce with ` + "`make bench-gates`" + ` (the command above); ` + "`-reps 200`" + ` gives a quick look.

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
func targets(cells []Cell, alpha float64) string {
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
	lowRollback := func(s Summary) (string, bool) { return fmtP(s.PRollback), s.PRollback <= alpha }
	for _, sc := range scenarios {
		if sc.Null {
			check(fmt.Sprintf("%s: false rollback <= %g%%", sc.Name, 100*alpha), sc.Name, []float64{1, 10, 100}, lowRollback)
		}
	}
	check("errors x1.5 at 10 req/s: rolled back within 60 min >= 80%", "errors x1.5", []float64{10}, func(s Summary) (string, bool) {
		return fmtP(s.PWithinHour), s.PWithinHour >= 0.8
	})
	check("errors x5 at 10 req/s: rolled back in the first run >= 55%", "errors x5", []float64{10}, func(s Summary) (string, bool) {
		return fmtP(s.PFirstRun), s.PFirstRun >= 0.55
	})
	for _, name := range []string{"errors x2", "latency x2"} {
		check(name+": P(promote) <= 1%", name, []float64{10, 100}, func(s Summary) (string, bool) {
			return fmtP(s.PPromote), s.PPromote <= 0.01
		})
	}
	b.WriteString("\n")
	return b.String()
}
