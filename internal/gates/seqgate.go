package gates

import (
	"fmt"
	"math"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// SequentialPairs turns the canary's tiles into the sequential test's
// input: error counts per tile, and slow-request counts above each bound.
// Counts are rounded to whole requests (Prometheus' increase() extrapolates).
func SequentialPairs(tiles []Tile, bounds []float64) (errs []Pair, slow [][]Pair) {
	errs = make([]Pair, len(tiles))
	slow = make([][]Pair, len(bounds))
	for b := range bounds {
		slow[b] = make([]Pair, len(tiles))
	}
	for k, t := range tiles {
		errs[k] = Pair{
			NC: math.Round(t.Requests.Canary), NS: math.Round(t.Requests.Stable),
			YC: math.Round(t.Errors.Canary), YS: math.Round(t.Errors.Stable),
		}
		for b, le := range bounds {
			yc, _ := t.CanaryLatency.Above(le)
			ys, _ := t.StableLatency.Above(le)
			slow[b][k] = Pair{
				NC: math.Round(t.CanaryLatency.Total()), NS: math.Round(t.StableLatency.Total()),
				YC: math.Round(yc), YS: math.Round(ys),
			}
		}
	}
	return errs, slow
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
// when there is none, from stable's latency in the canary's first tile
// (never from the canary's own data).
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
func sequentialGate(c *spec.Canary, g spec.Gate, obs *Observations) GateResult {
	ts := obs.CanaryTiles
	v := viewOf(ts, ts.Tiles)
	res := GateResult{
		Name: gateName(g), Type: g.Type, Role: "gate", Window: v.w, Samples: v.req,
		Unit: "ratio", Query: ts.Queries[FamilyErrors] + "\n" + ts.Queries[FamilyRequests] + "\n" + ts.Queries[FamilyLatency],
	}
	cfg := SequentialConfigOf(c.Spec.Analysis, g)
	res.Threshold = fmt.Sprintf("E < %g (alpha %g, margin %gx)", 1/cfg.Alpha, cfg.Alpha, cfg.Margin)
	if err := firstErr(ts.Errs, FamilyRequests, FamilyErrors, FamilyLatency); err != nil {
		res.Verdict, res.Value, res.Stable = Error, math.NaN(), math.NaN()
		res.Message = queryErrorMessage(err)
		return res
	}
	bounds := Bounds(obs)
	errs, slow := SequentialPairs(ts.Tiles, bounds)
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
	return res
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
