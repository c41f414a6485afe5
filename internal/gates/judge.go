package gates

import (
	"fmt"
	"math"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// Options tune judgement beyond what a spec says.
type Options struct {
	// TriggerMinRequests is the least number of canary requests a tile
	// needs before a rate trigger in rollbackOn may fire on it (default
	// 100): an error-rate trigger must not fire on one failed request out of
	// three.
	TriggerMinRequests int
	// NoIntervals skips the sequential test's confidence intervals, which
	// only the report's text shows; decisions are the same without them.
	NoIntervals bool
}

// DefaultTriggerMinRequests is the default of Options.TriggerMinRequests.
const DefaultTriggerMinRequests = 100

// Judge turns observations into a report. It is pure: the same spec, stage
// and observations give the same report.
//
// Promotion gates are judged over the stage's complete tiles; below
// analysis.minRequests canary requests every promotion gate is at best
// Inconclusive. Each promotion gate is also checked on every tile, and a
// gate whose failed checks reach analysis.threshold rolls the canary back
// (Flagger's semantics, recomputed from Prometheus on every run). A
// rollbackOn trigger rolls back as soon as one tile breaches it. The
// sequential test runs over the canary's tiles and rolls back when it
// rejects.
func Judge(c *spec.Canary, st Stage, obs *Observations, opts Options) *Report {
	if opts.TriggerMinRequests <= 0 {
		opts.TriggerMinRequests = DefaultTriggerMinRequests
	}
	a := c.Spec.Analysis
	st.interval = a.Interval.Duration
	r := &Report{
		Canary:      c.Metadata.Name,
		Weight:      st.Weight,
		Stage:       st,
		Interval:    a.Interval.Duration,
		MinRequests: a.MinRequests,
		Verdict:     Pass,
	}
	stage := viewOf(obs.StageTiles, obs.StageTiles.Tiles)
	r.CanaryRequests = stage.req.Canary
	r.History = history(obs.CanaryTiles.Tiles)

	for i, g := range a.Gates {
		var res GateResult
		if g.Type == spec.GateSequential {
			res = sequentialGate(c, g, st, obs, opts)
		} else {
			res = promotionGate(g, st, stage, obs, GateKey("gates", i))
			countChecks(&res, g, st, obs, GateKey("gates", i), opts)
			if a.Threshold > 0 && res.FailedChecks >= a.Threshold {
				r.rollback(fmt.Sprintf("gate %s failed %d of %d checks (threshold %d)", res.Name, res.FailedChecks, res.Checks, a.Threshold))
			}
		}
		if res.Verdict == Fail && res.Sequential != nil {
			r.rollback(fmt.Sprintf("gate %s: %s", res.Name, res.Message))
		}
		if res.Type != spec.GateSequential && res.Verdict != Error && res.Verdict != Inconclusive && stage.req.Canary < float64(a.MinRequests) {
			res.Verdict = Inconclusive
			res.Message = fmt.Sprintf("canary served %.0f requests; %d needed before this gate can pass (so far: %s)", stage.req.Canary, a.MinRequests, res.Message)
		}
		r.Gates = append(r.Gates, res)
		r.Verdict = worse(r.Verdict, res.Verdict)
	}
	for i, g := range a.RollbackOn {
		res := trigger(g, st, obs, GateKey("rollbackOn", i), opts)
		if res.Verdict == Fail {
			r.rollback(fmt.Sprintf("rollbackOn %s: %s", res.Name, res.Message))
		}
		r.RollbackOn = append(r.RollbackOn, res)
		// A trigger that could not be evaluated blocks nothing by itself,
		// but an error must be visible.
		if res.Verdict == Error {
			r.Verdict = worse(r.Verdict, Error)
		}
	}
	if obs.MissingCanary != "" {
		// The canary's label value matches no series: say which exist.
		for _, list := range [][]GateResult{r.Gates, r.RollbackOn} {
			for i := range list {
				if list[i].Verdict == Inconclusive {
					list[i].Message += ": " + obs.MissingCanary
				}
			}
		}
	}
	if len(obs.StageTiles.Tiles) == 0 && r.Verdict == Pass {
		r.Verdict = Inconclusive
	}
	if r.Rollback {
		r.Verdict = Fail
	}
	return r
}

func (r *Report) rollback(reason string) {
	r.Rollback = true
	r.RollbackReasons = append(r.RollbackReasons, reason)
}

func gateName(g spec.Gate) string {
	if g.Name != "" {
		return g.Name
	}
	return g.Type
}

// promotionGate judges a gate over the whole stage so far.
func promotionGate(g spec.Gate, st Stage, stage view, obs *Observations, key string) GateResult {
	res := GateResult{Name: gateName(g), Type: g.Type, Role: "gate", Window: stage.w, Samples: stage.req}
	if stage.tiles == 0 {
		res.Verdict, res.Value, res.Stable = Inconclusive, math.NaN(), math.NaN()
		res.Message = fmt.Sprintf("the stage's first %s interval is not over yet", promDuration(st.interval))
		res.Query = stage.queries[FamilyRequests]
		return res
	}
	custom := math.NaN()
	if cu, ok := obs.Custom[key]; ok {
		res.Query = cu.Query
		if cu.Err != nil {
			res.Verdict, res.Value, res.Stable = Error, math.NaN(), math.NaN()
			res.Message = queryErrorMessage(cu.Err)
			return res
		}
		// A custom query is a per-interval check: its verdict is the
		// latest tile's.
		if n := len(cu.Values); n > 0 {
			custom = cu.Values[n-1]
			res.Window = Window{Start: stage.w.End.Add(-(stage.w.End.Sub(stage.w.Start) / time.Duration(stage.tiles))), End: stage.w.End}
		}
	}
	ck := evaluate(g, stage, st.Weight, custom)
	res.apply(ck)
	return res
}

func queryErrorMessage(err error) string {
	msg := "the query failed: " + err.Error()
	if qe, ok := err.(*QueryError); ok && qe.Hint() != "" {
		msg += "; " + qe.Hint()
	}
	return msg
}

func (res *GateResult) apply(ck check) {
	res.Verdict, res.Value, res.Stable, res.Unit, res.Threshold, res.Message = ck.verdict, ck.value, ck.stable, ck.unit, ck.threshold, ck.message
	if ck.query != "" && res.Query == "" {
		res.Query = ck.query
	}
}

// countsTowardThreshold says whether failed checks of a gate type count
// towards analysis.threshold: a low request count or a weight that has not
// synced yet is not the canary's fault.
func countsTowardThreshold(typ string) bool {
	return typ != spec.GateRequestCount && typ != spec.GateTrafficShare
}

// countChecks checks the gate on each stage tile (Flagger's checks); a
// failed check counts towards analysis.threshold only when the canary is
// worse than stable in that tile (see sharedIncident).
// A tile with fewer canary requests than opts.TriggerMinRequests is no check
// for rate and latency gates: the p99 of a dozen requests, or one error in
// twenty, is noise, and counting it would roll back quiet services.
func countChecks(res *GateResult, g spec.Gate, st Stage, obs *Observations, key string, opts Options) {
	if !countsTowardThreshold(g.Type) {
		return
	}
	ts := obs.StageTiles
	cu, isCustom := obs.Custom[key]
	for k := range ts.Tiles {
		custom := math.NaN()
		if isCustom && k < len(cu.Values) {
			custom = cu.Values[k]
		}
		tv := viewOf(ts, ts.Tiles[k:k+1])
		if needsVolume(g.Type) && tv.req.Canary < float64(opts.TriggerMinRequests) {
			continue
		}
		tv.quiet = true
		ck := evaluate(g, tv, st.Weight, custom)
		if ck.verdict == Pass || ck.verdict == Fail {
			res.Checks++
		}
		// As for rollbackOn triggers: a failed check counts only when the
		// canary is worse than stable in the interval. An absolute limit
		// that stable breaks too, or that the canary misses by no more than
		// noise around stable's own rate, is no reason to roll back.
		if ck.verdict == Fail && !sharedIncident(g, ck, tv) {
			res.FailedChecks++
		}
	}
}

// trigger judges a rollbackOn trigger on each stage tile; it fires on the
// first tile that breaches it with enough requests.
func trigger(g spec.Gate, st Stage, obs *Observations, key string, opts Options) GateResult {
	res := GateResult{Name: gateName(g), Type: g.Type, Role: "rollbackOn", Verdict: Inconclusive, Value: math.NaN(), Stable: math.NaN()}
	ts := obs.StageTiles
	cu, isCustom := obs.Custom[key]
	if isCustom && cu.Err != nil {
		res.Verdict, res.Query, res.Message = Error, cu.Query, queryErrorMessage(cu.Err)
		return res
	}
	if len(ts.Tiles) == 0 {
		res.Message = fmt.Sprintf("the stage's first %s interval is not over yet", promDuration(st.interval))
		return res
	}
	needsCount := needsVolume(g.Type)
	shared := ""
	for k := range ts.Tiles {
		v := viewOf(ts, ts.Tiles[k:k+1])
		custom := math.NaN()
		if isCustom && k < len(cu.Values) {
			custom = cu.Values[k]
		}
		v.quiet = true
		ck := evaluate(g, v, st.Weight, custom)
		if ck.verdict == Fail || k == len(ts.Tiles)-1 {
			v.quiet = false // the tile the trigger reports on: describe it
			ck = evaluate(g, v, st.Weight, custom)
		}
		if ck.verdict == Fail && needsCount && v.req.Canary < float64(opts.TriggerMinRequests) {
			ck.verdict = Inconclusive
			ck.message = fmt.Sprintf("canary served %.0f requests in the interval; a trigger needs %d", v.req.Canary, opts.TriggerMinRequests)
		}
		if ck.verdict == Fail && sharedIncident(g, ck, v) {
			// Stable breaches the same absolute limit in the same interval:
			// an incident shared by both versions (a dependency outage, a
			// bad node), not the canary's fault. Rolling back would not
			// help; the sequential test compares the versions instead.
			v.quiet = false
			ck = evaluate(g, v, st.Weight, custom)
			ck.verdict = Inconclusive
			ck.message = fmt.Sprintf("not fired in the interval ending %s: stable breaches the same limit (%s), a shared incident that is not the canary's fault (%s)",
				v.w.End.UTC().Format(time.RFC3339), describeStable(g, ck), ck.message)
			shared = ck.message
		}
		res.Checks++
		res.Window, res.Samples = v.w, v.req
		if isCustom {
			res.Query = cu.Query
		}
		res.apply(ck)
		if ck.verdict == Fail {
			res.FailedChecks++
			res.Message = fmt.Sprintf("%s (interval ending %s)", ck.message, v.w.End.UTC().Format(time.RFC3339))
			return res
		}
	}
	if shared != "" {
		res.Message = shared
	}
	return res
}

// needsVolume reports gate types whose value is only meaningful over enough
// requests.
func needsVolume(typ string) bool {
	return typ == spec.GateErrorRate || typ == spec.GateSuccessRate || typ == spec.GateLatency
}

// sharedIncidentZ is how many standard errors worse than stable the canary
// must be in an interval for an absolute rate trigger to be its fault.
const sharedIncidentZ = 3

// sharedIncident reports whether a failed trigger check is an incident the
// canary shares with stable: stable breaches the same limit, or (for rates)
// the canary's error rate is not significantly above stable's in the
// interval (a one-sided two-proportion z-test), so that sampling noise
// around a limit both versions sit at does not roll the canary back.
func sharedIncident(g spec.Gate, ck check, v view) bool {
	if !finite(ck.stable) {
		return false
	}
	switch g.Type {
	case spec.GateErrorRate, spec.GateSuccessRate:
		if max, ok := number(g.Max); ok && ck.stable > max {
			return true
		}
		if min, ok := number(g.Min); ok {
			if g.Type == spec.GateSuccessRate && min > 1 {
				min /= 100
			}
			if ck.stable < min {
				return true
			}
		}
		nc, ns := v.req.Canary, v.req.Stable
		if nc <= 0 || ns <= 0 {
			return false
		}
		pc, ps := v.err.Canary/nc, v.err.Stable/ns
		p := (v.err.Canary + v.err.Stable) / (nc + ns)
		se := math.Sqrt(p * (1 - p) * (1/nc + 1/ns))
		return se > 0 && (pc-ps)/se < sharedIncidentZ
	case spec.GateLatency:
		if max, ok := g.Max.Duration(); ok && g.Max.IsSet() {
			return ck.stable > float64(max)/float64(time.Millisecond)
		}
	}
	return false
}

func describeStable(g spec.Gate, ck check) string {
	if g.Type == spec.GateLatency {
		return "stable " + ms(ck.stable)
	}
	return "stable " + pct(ck.stable)
}

// historyTiles is how many of the latest tiles the report's chart shows.
const historyTiles = 48

// history summarises the latest tiles for the report's chart.
func history(tiles []Tile) []HistoryPoint {
	if len(tiles) > historyTiles {
		tiles = tiles[len(tiles)-historyTiles:]
	}
	out := make([]HistoryPoint, 0, len(tiles))
	for _, t := range tiles {
		out = append(out, HistoryPoint{
			End:             t.End,
			CanaryErrorRate: ratio(t.Errors.Canary, t.Requests.Canary),
			StableErrorRate: ratio(t.Errors.Stable, t.Requests.Stable),
			CanaryP99:       t.CanaryLatency.Quantile(0.99),
			StableP99:       t.StableLatency.Quantile(0.99),
		})
	}
	return out
}
