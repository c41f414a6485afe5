package main

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/spec"
)

// decision is what a policy does at one run.
type decision int

const (
	hold decision = iota
	rollback
	promote
)

// Policy decides at each run from the observations promoter would fetch.
type Policy struct {
	Name string
	// Canary is the spec the policy evaluates through gates.Judge; nil for
	// a policy outside promoter's gates (the naive z-test).
	Canary  *spec.Canary
	Options gates.Options
	// WholeCanaryStage counts the policy's checks since the canary started
	// rather than since the weight step (Flagger's failed-check counter
	// runs across the whole analysis).
	WholeCanaryStage bool
	// decide replaces gates.Judge for policies outside promoter's gates.
	decide func(tr Traffic, look int, mayPromote bool) decision
	// monotone says a rollback decision, once due, stays due at every
	// later look of the same stage grid, so one evaluation at the last look
	// gives the first look at which it was due (see lastLookRollback).
	monotone bool
	// advancesOnPass makes the policy move the weight only after a passing
	// check, as Flagger's scheduler does, instead of following the shared
	// schedule; it then sees traffic drawn for its own weights.
	advancesOnPass bool
}

// benchCanary returns the simulator's canary spec with the given gates.
func benchCanary(a spec.Analysis) *spec.Canary {
	c := &spec.Canary{}
	c.Metadata.Name = "bench"
	c.Spec.Host = "bench"
	c.Spec.VirtualService.Namespace = "bench"
	a.Interval = spec.D(tile)
	a.Lag = spec.D(lag)
	a.Warmup = spec.D(tile)
	a.Versions = spec.Versions{Stable: "v1", Canary: "v2"}
	c.Spec.Analysis = a
	return c
}

// policies are the compared policies, each given the same traffic.
func policies(alpha float64) []Policy {
	return []Policy{
		{
			// Flagger's defaults from its documentation: request-success-rate
			// >= 99%, request-duration (p99) <= 500ms, threshold 5.
			Name: "Flagger-style",
			Canary: benchCanary(spec.Analysis{Threshold: 5, Gates: []spec.Gate{
				{Name: "request-success-rate", Type: spec.GateSuccessRate, Min: spec.Q("0.99")},
				{Name: "request-duration", Type: spec.GateLatency, Quantile: 0.99, Max: spec.Q("500ms")},
			}}),
			// Flagger checks every interval that has any request, and
			// advances the weight only after a passing check.
			Options:          gates.Options{TriggerMinRequests: 1},
			WholeCanaryStage: true,
			advancesOnPass:   true,
		},
		{
			// The guide's script: roll back when the last interval's error
			// rate is above 5% once it has at least 100 requests. Evaluated
			// directly on the tiles, as the script does: promoter's own
			// rollbackOn triggers add protections (shared incidents) that
			// the script does not have.
			Name:   "guide's script",
			decide: guideScript,
		},
		{
			Name:   "naive z-test",
			decide: naiveZ(alpha),
		},
		{
			Name: "promoter sequential",
			Canary: benchCanary(spec.Analysis{PromoteWhen: "evidence", Gates: []spec.Gate{
				{Name: "regression", Type: spec.GateSequential, Alpha: alpha},
			}}),
			// Decisions never read the confidence intervals; skip them.
			Options:  gates.Options{NoIntervals: true},
			monotone: true,
		},
	}
}

// zCrit is the one-sided normal quantile for alpha/2 per family.
func zCrit(alpha float64) float64 {
	// Inverse of the upper tail by bisection on erfc.
	lo, hi := 0.0, 10.0
	for range 100 {
		mid := (lo + hi) / 2
		if 0.5*math.Erfc(mid/math.Sqrt2) > alpha/2 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// naiveZ is a two-proportion z-test of the canary's against stable's error
// rate and slow-request rate (above stable's p99 bucket bound), on all data
// since the canary started, repeated at every run at a fixed alpha (split
// over the two families): the way a fixed-horizon test is usually
// (mis)applied. It reads the same per-tile counts as the sequential test.
func naiveZ(alpha float64) func(tr Traffic, look int, mayPromote bool) decision {
	z := zCrit(alpha)
	return func(tr Traffic, look int, mayPromote bool) decision {
		for _, cum := range tr.cumulative {
			c := cum[look-1]
			if c.NC == 0 || c.NS == 0 || c.YC+c.YS == 0 {
				continue
			}
			pool := (c.YC + c.YS) / (c.NC + c.NS)
			se := math.Sqrt(pool * (1 - pool) * (1/c.NC + 1/c.NS))
			if se > 0 && (c.YC/c.NC-c.YS/c.NS)/se > z {
				return rollback
			}
		}
		if mayPromote {
			return promote
		}
		return hold
	}
}

// guideScript is the guide's rollback script: at each run, the error rate
// of the last 5-minute interval, once it holds at least 100 canary
// requests; above 5% rolls back. It promotes when allowed and the last
// interval is under the limit with enough requests.
func guideScript(tr Traffic, look int, mayPromote bool) decision {
	t := tr.Tiles[look-1]
	if t.Requests.Canary < 100 {
		return hold
	}
	if t.Errors.Canary/t.Requests.Canary > 0.05 {
		return rollback
	}
	if mayPromote {
		return promote
	}
	return hold
}

// cumulate returns the running totals of the sequential test's counts
// (errors, and slow requests above the highest bound) after each tile.
func cumulate(tr Traffic) [][]gates.Pair {
	obs := &gates.Observations{Baseline: tr.Baseline}
	obs.CanaryTiles.Tiles = tr.Tiles
	bounds := gates.Bounds(obs)
	errs, slow, _ := gates.SequentialPairs(tr.Tiles, nil, bounds)
	for k := range errs {
		errs[k].Phi = 0 // the naive test assumes independent requests
	}
	fams := [][]gates.Pair{errs}
	if len(slow) > 0 {
		// The highest bound: the one above stable's p99.
		last := slow[len(slow)-1]
		for k := range last {
			last[k].Phi = 0
		}
		fams = append(fams, last)
	}
	out := make([][]gates.Pair, len(fams))
	for f, ps := range fams {
		var acc gates.Pair
		for _, p := range ps {
			acc = gates.Pair{NC: acc.NC + p.NC, NS: acc.NS + p.NS, YC: acc.YC + p.YC, YS: acc.YS + p.YS}
			out[f] = append(out[f], acc)
		}
	}
	return out
}

// stageOf returns the stage the run at look (1-based) judges: the weight of
// the tile just completed and when that weight step began.
func stageOf(p Policy, sc Scenario, start time.Time, look int) gates.Stage {
	t := time.Duration(look-1) * tile
	w, from := sc.weight(t)
	if p.WholeCanaryStage {
		from = 0
	}
	return gates.Stage{Weight: w, Start: start.Add(from), CanaryStart: start, Changes: sc.changesUntil(start, t),
		Now: start.Add(time.Duration(look)*tile + lag)}
}

// observations builds what Observe would return at the run at look: the
// same per-tile counts the Prometheus range queries return.
func observations(tr Traffic, st gates.Stage, look int) *gates.Observations {
	obs := &gates.Observations{Baseline: tr.Baseline, BaselineTiles: tr.BaselineTiles}
	obs.CanaryTiles.Tiles = tr.Tiles[:look]
	first := 0
	for first < look && tr.Tiles[first].Start.Before(st.Start) {
		first++
	}
	obs.StageTiles.Tiles = tr.Tiles[first:look]
	return obs
}

// decideAt runs the policy at one look.
func (p Policy) decideAt(tr Traffic, sc Scenario, start time.Time, look int, mayPromote bool) decision {
	if p.decide != nil {
		return p.decide(tr, look, mayPromote)
	}
	st := stageOf(p, sc, start, look)
	obs := observations(tr, st, look)
	r := gates.Judge(p.Canary, st, obs, p.Options)
	switch {
	case r.Rollback:
		return rollback
	case mayPromote && r.Verdict == gates.Pass:
		return promote
	}
	return hold
}

// lastLookRollback returns the first look (1-based) at which the policy
// rolls back, from one evaluation at the last look: the sequential test
// reports the first tile at which its e-process crossed the threshold, which
// is exactly the first run that would have rolled back (a run at look k sees
// tiles 1..k, and its decision is "E crossed at some tile <= k"). Used for
// runs without promotion, where it saves evaluating every look.
func (p Policy) lastLookRollback(tr Traffic, sc Scenario, start time.Time, looks int) int {
	st := stageOf(p, sc, start, looks)
	r := gates.Judge(p.Canary, st, observations(tr, st, looks), p.Options)
	for _, g := range r.Gates {
		if s := g.Sequential; s != nil && s.Reject {
			return s.RejectTile + 1
		}
	}
	return 0
}

// flaggerRun plays Flagger's scheduler: at each interval the checks run on
// the interval just ended; a failed check counts towards the threshold
// (over the whole analysis) and holds the weight, a passing one advances
// it one step, and a passing check at the last step promotes. Its traffic
// is drawn for its own weights, from its own random stream.
func flaggerRun(p Policy, sc Scenario, g tileGen, rng *rand.Rand, baseline gates.Histogram) outcome {
	steps := []int{5, 10, 25, 50}
	if sc.FixedWeight > 0 {
		steps = []int{sc.FixedWeight}
	}
	step, failed, served, cold := 0, 0, 0.0, true
	for look := 1; look <= sc.Looks; look++ {
		tl := g.tile(rng, start, look-1, steps[step], cold)
		cold = false
		served += tl.Requests.Canary
		obs := &gates.Observations{Baseline: baseline}
		obs.CanaryTiles.Tiles = []gates.Tile{tl}
		obs.StageTiles = obs.CanaryTiles
		st := gates.Stage{Weight: steps[step], Start: tl.Start, CanaryStart: start, Now: tl.End.Add(lag)}
		r := gates.Judge(p.Canary, st, obs, p.Options)
		pass, fail := true, false
		for _, gr := range r.Gates {
			pass = pass && gr.Verdict == gates.Pass
			fail = fail || gr.Verdict == gates.Fail
		}
		switch {
		case fail:
			failed++
			if failed >= p.Canary.Spec.Analysis.Threshold {
				return outcome{rolledBack: true, look: look, minutes: float64(look) * tile.Minutes(), canaryRequests: served}
			}
		case pass && step == len(steps)-1:
			if sc.Promote {
				return outcome{promoted: true}
			}
		case pass:
			step++
			cold = true
		}
	}
	return outcome{}
}
