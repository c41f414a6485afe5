package gates

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// SequentialPairs turns the canary's tiles into the sequential test's
// input: error counts per tile, and slow-request counts above each bound,
// each tile with its dispersion factor estimated from stable's pods in
// baseline (the tiles before the canary) and the canary's tiles up to it.
// Counts are rounded to whole requests. missing lists the bounds that some
// tile's canary or stable histogram lacks (those tiles count nothing at
// that bound: a missing bucket is not zero slow requests).
func SequentialPairs(tiles, baseline []Tile, bounds []float64) (errs []Pair, slow [][]Pair, missing []float64) {
	errs = make([]Pair, len(tiles))
	slow = make([][]Pair, len(bounds))
	for b := range bounds {
		slow[b] = make([]Pair, len(tiles))
	}
	disp := make([]dispersionAcc, len(bounds)+1) // errors, then each bound
	pf := newPodFamilies(bounds)
	addPods := func(t Tile) {
		pf.fill(t.StablePods)
		for f := range disp {
			if pf.ok[f] {
				disp[f].add(pf.n[f], pf.y[f])
			}
		}
	}
	for _, t := range baseline {
		addPods(t)
	}
	// A family's factor is the one pooled over all families: clustered
	// requests (sessions, batch clients) share their latency as well as
	// their fate, and the latency counts, many more than the errors, show
	// the clustering long before a low error rate can. A family whose own
	// counts are significantly more dispersed than the pooled estimate
	// (errors in bad-pod minutes) uses its own.
	var phis []float64
	setPhis := func() {
		var pooled dispersionAcc
		for _, d := range disp {
			pooled = pooled.plus(d)
		}
		p := pooled.phi()
		phis = phis[:0]
		for _, d := range disp {
			if d.above(p, zDispersionOwn) {
				phis = append(phis, math.Max(p, d.x2/d.df))
			} else {
				phis = append(phis, p)
			}
		}
	}
	phi := func(f int) float64 { return phis[f] }
	lacks := map[float64]bool{}
	for k, t := range tiles {
		addPods(t)
		setPhis()
		errs[k] = Pair{
			NC: math.Round(t.Requests.Canary), NS: math.Round(t.Requests.Stable),
			YC: math.Round(t.Errors.Canary), YS: math.Round(t.Errors.Stable),
			Phi: phi(0),
		}
		for b, le := range bounds {
			yc, okc := t.CanaryLatency.Above(le)
			ys, oks := t.StableLatency.Above(le)
			if (!okc && t.CanaryLatency.Total() > 0) || (!oks && t.StableLatency.Total() > 0) {
				lacks[le] = true
				continue
			}
			slow[b][k] = Pair{
				NC: math.Round(t.CanaryLatency.Total()), NS: math.Round(t.StableLatency.Total()),
				YC: math.Round(yc), YS: math.Round(ys),
				Phi: phi(b + 1),
			}
		}
	}
	for _, le := range bounds {
		if lacks[le] {
			missing = append(missing, le)
		}
	}
	return errs, slow, missing
}

// SequentialConfigOf returns the sequential test's configuration from a
// sequential gate: alpha (default 0.05), margin r0 (default 1), and with
// analysis.promoteWhen "evidence" the promotion test against r1 = 1 +
// maxIncrease (default 2, i.e. maxIncrease 100%).
func SequentialConfigOf(a spec.Analysis, g spec.Gate) SequentialConfig {
	cfg := SequentialConfig{Alpha: g.Alpha, Margin: g.Margin, Evidence: a.PromoteWhen == "evidence"}
	if inc, ok := number(g.MaxIncrease); ok && inc > 0 {
		cfg.PromoteRatio = 1 + inc
	}
	return cfg.withDefaults()
}

// Bounds returns the latency bounds the sequential test counts slow
// requests at: chosen from stable's latency before the canary started, or,
// when stable had none, from stable's latency in the canary's first tile
// that has some (never from the canary's own data). Once recorded with the
// canary ([Pinned]) they are read back from there instead.
func Bounds(obs *Observations) []float64 {
	if b := ChooseBounds(obs.Baseline); b != nil {
		return b
	}
	for _, t := range obs.CanaryTiles.Tiles {
		if b := ChooseBounds(t.StableLatency); b != nil {
			return b
		}
	}
	return nil
}

// sequentialGate runs the sequential test over the canary's tiles.
func sequentialGate(c *spec.Canary, g spec.Gate, st Stage, obs *Observations, opts Options) GateResult {
	ts := obs.CanaryTiles
	v := viewOf(ts, ts.Tiles)
	res := GateResult{
		Name: gateName(g), Type: g.Type, Role: "gate", Window: v.w, Samples: v.req,
		Unit: "ratio", Query: ts.Queries[FamilyErrors] + "\n" + ts.Queries[FamilyRequests] + "\n" + ts.Queries[FamilyLatency],
	}
	cfg := SequentialConfigOf(c.Spec.Analysis, g)
	var bounds []float64
	if p := st.Pinned; p != nil {
		cfg.Alpha, cfg.Margin, cfg.PromoteRatio = p.Alpha, p.Margin, p.PromoteRatio
		cfg = cfg.withDefaults()
		bounds = p.Bounds
	}
	res.Threshold = fmt.Sprintf("E < %.4g for errors, %.4g for latency (alpha %g, margin %gx)",
		cfg.rejectAt(true), cfg.rejectAt(false), cfg.Alpha, cfg.Margin)
	if err := firstErr(ts.Errs, FamilyRequests, FamilyErrors, FamilyLatency); err != nil {
		res.Verdict, res.Value, res.Stable = Error, math.NaN(), math.NaN()
		res.Message = queryErrorMessage(err)
		return res
	}
	if st.Pinned == nil {
		if obs.BaselineErr != nil {
			// Without stable's history the latency bounds would come from
			// whatever this run can see, and could differ at the next run.
			res.Verdict, res.Value, res.Stable = Error, math.NaN(), math.NaN()
			res.Message = queryErrorMessage(obs.BaselineErr) + "; the sequential test needs stable's latency before the canary started to choose its bounds, and holds until it can read it"
			return res
		}
		bounds = Bounds(obs)
	}
	errs, slow, missing := SequentialPairs(ts.Tiles, obs.BaselineTiles, bounds)
	cfg.Warmup = st.warmupTiles(ts.Tiles, c.Spec.Analysis.Warmup.Duration)
	cfg.NoIntervals = opts.NoIntervals
	sr := RunSequential(cfg, errs, bounds, slow)
	res.Sequential = &sr
	res.Value = ratio(sr.Errors.CanaryBad, sr.Errors.CanaryRequests)
	res.Stable = ratio(sr.Errors.StableBad, sr.Errors.StableRequests)
	res.Checks = sr.Tiles

	switch {
	case sr.Reject:
		res.Verdict = Fail
		fam := sr.Errors
		if sr.RejectFamily == "latency" && len(sr.Latency) > 0 {
			fam = worstFamily(sr.Latency)
		}
		what := "error rate"
		if fam.Bound > 0 {
			what = "rate of requests " + fam.Name
		}
		res.Message = fmt.Sprintf("canary is worse than stable (p = %.2g): its %s is %s stable's (%s); the evidence was conclusive at the interval ending %s",
			sr.PValue, what, fam.CI, rates(fam), ts.Tiles[sr.RejectTile].End.UTC().Format(time.RFC3339))
	case sr.Errors.CanaryRequests == 0:
		res.Verdict = Inconclusive
		res.Message = "the canary has served no requests since it started"
	case len(missing) > 0:
		var names []string
		for _, le := range missing {
			names = append(names, formatMillis(le))
		}
		res.Verdict = Inconclusive
		res.Message = fmt.Sprintf("the latency histograms lack the bucket bound %s chosen when the canary started, so slow requests cannot be counted there (did the buckets change?); the test holds", strings.Join(names, ", "))
	case cfg.Evidence && !sr.Promote:
		res.Verdict = Inconclusive
		res.Message = sr.Holding
	default:
		res.Verdict = Pass
		res.Message = fmt.Sprintf("no evidence the canary is worse than stable (p = %.2g); error-rate ratio %s", sr.PValue, sr.Errors.CI)
		if len(bounds) == 0 {
			res.Message += "; latency not tested (no stable latency data to choose bucket bounds from)"
		}
	}
	if phi := lastPhi(errs); phi > 1 {
		res.Message += fmt.Sprintf("; error counts %.2gx overdispersed (from stable's pods), evidence scaled down", phi)
	}
	return res
}

func lastPhi(ps []Pair) float64 {
	if len(ps) == 0 {
		return 1
	}
	return math.Max(1, ps[len(ps)-1].Phi)
}

func rates(f Family) string {
	return fmt.Sprintf("canary %.0f of %.0f, stable %.0f of %.0f", f.CanaryBad, f.CanaryRequests, f.StableBad, f.StableRequests)
}

// worstFamily returns the latency family with the most evidence.
func worstFamily(fs []Family) Family {
	best := fs[0]
	for _, f := range fs[1:] {
		if f.MaxLogE > best.MaxLogE {
			best = f
		}
	}
	return best
}

func firstErr(errs map[MetricFamily]error, fams ...MetricFamily) error {
	for _, f := range fams {
		if errs[f] != nil {
			return errs[f]
		}
	}
	return nil
}
