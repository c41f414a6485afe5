package gates

import (
	"fmt"
	"math"
)

// SequentialConfig fixes the sequential test before any canary data is seen.
type SequentialConfig struct {
	// Alpha bounds P(ever roll back a canary no worse than stable). It is
	// split evenly between the error family and the latency family.
	Alpha float64
	// Margin is the tolerated ratio r0 (1 = "no worse than stable").
	Margin float64
	// Evidence requires promotion evidence: the canary is shown to be less
	// than PromoteRatio times worse than stable, with error probability
	// Alpha, in every family.
	Evidence bool
	// PromoteRatio is r1 of the promotion test (H0': r >= r1).
	PromoteRatio float64
}

// Defaults of the sequential test.
const (
	DefaultAlpha        = 0.05
	DefaultPromoteRatio = 2.0
	gridPoints          = 20
	gridMax             = 20.0
)

func (c SequentialConfig) withDefaults() SequentialConfig {
	if c.Alpha <= 0 || c.Alpha >= 1 {
		c.Alpha = DefaultAlpha
	}
	if c.Margin < 1 {
		c.Margin = 1
	}
	if c.PromoteRatio <= c.Margin {
		c.PromoteRatio = math.Max(DefaultPromoteRatio, 1.5*c.Margin)
	}
	return c
}

// rollbackMixture is the prior over ratios worse than the margin: 20 points
// evenly spaced in log r over [1.05*r0, 20], equal weights.
func (c SequentialConfig) rollbackMixture() Mixture {
	return LogGrid(1.05*c.Margin, math.Max(gridMax, 2*c.Margin), gridPoints)
}

// promoteMixture is the prior over ratios better than r1: 20 points evenly
// spaced in log r over [1/20, r1/1.05].
func (c SequentialConfig) promoteMixture() Mixture {
	return LogGrid(1/gridMax, c.PromoteRatio/1.05, gridPoints)
}

// ciMixture is the two-sided prior used for confidence intervals.
func ciMixture() Mixture { return LogGrid(1/gridMax, gridMax, 2*gridPoints+1) }

// Family is the sequential test's result for one kind of bad event: errors,
// or requests slower than one bucket bound.
type Family struct {
	// Name says what was counted: "errors" or "slower than 250ms".
	Name string
	// Bound is the latency bucket bound in milliseconds (0 for errors).
	Bound float64
	// Totals over all tiles.
	CanaryBad, CanaryRequests, StableBad, StableRequests float64
	// LogE is log E after the last tile; MaxLogE its running maximum.
	LogE, MaxLogE float64
	// PromoteLogE is the log promotion e-value (max over tiles).
	PromoteLogE float64
	// CI is the confidence interval for the rate ratio.
	CI Interval
	// perTile is log E after each tile, and perTilePromote log E'.
	perTile, perTilePromote []float64
}

// SequentialResult is the outcome of the sequential test over the tiles since
// the canary started.
type SequentialResult struct {
	Config SequentialConfig
	// Errors is the error family; Latency holds one family per bucket bound.
	Errors  Family
	Latency []Family
	// Tiles is the number of tiles considered.
	Tiles int
	// Reject is true when an e-process reached its threshold at some tile;
	// RejectTile is the first such tile (0-based), or -1, and RejectFamily
	// names it.
	Reject       bool
	RejectTile   int
	RejectFamily string
	// PValue is the always-valid p-value, min(1, 1/max E), Bonferroni-
	// corrected across the two families.
	PValue float64
	// Promote is true when promotion evidence was reached in every family
	// (only computed with Config.Evidence); PromoteTile is the first tile at
	// which it held, or -1.
	Promote     bool
	PromoteTile int
	// Holding explains, when neither rejecting nor promoting, what the test
	// is waiting for.
	Holding string
}

// RunSequential runs the sequential test over aligned tiles: errs holds the
// error counts of each tile, slow[b][k] the slow-request counts of tile k
// above bounds[b]. It is a pure function: the same tiles give the same
// result whichever run computes them.
func RunSequential(cfg SequentialConfig, errs []Pair, bounds []float64, slow [][]Pair) SequentialResult {
	cfg = cfg.withDefaults()
	res := SequentialResult{Config: cfg, Tiles: len(errs), RejectTile: -1, PromoteTile: -1, PValue: 1}
	up, down, ci := cfg.rollbackMixture(), cfg.promoteMixture(), ciMixture()
	family := func(name string, bound float64, tiles []Pair) Family {
		f := Family{Name: name, Bound: bound}
		for _, p := range tiles {
			f.CanaryBad += p.YC
			f.CanaryRequests += p.NC
			f.StableBad += p.YS
			f.StableRequests += p.NS
		}
		f.perTile = up.EProcess(tiles, cfg.Margin)
		f.MaxLogE, f.PromoteLogE = math.Inf(-1), math.Inf(-1)
		for _, v := range f.perTile {
			f.MaxLogE = math.Max(f.MaxLogE, v)
		}
		if n := len(f.perTile); n > 0 {
			f.LogE = f.perTile[n-1]
		}
		f.perTilePromote = down.EProcess(tiles, cfg.PromoteRatio)
		for _, v := range f.perTilePromote {
			f.PromoteLogE = math.Max(f.PromoteLogE, v)
		}
		f.CI = ConfidenceInterval(tiles, ci, cfg.Alpha)
		return f
	}
	res.Errors = family("errors", 0, errs)
	for i, b := range bounds {
		if i < len(slow) {
			res.Latency = append(res.Latency, family(fmt.Sprintf("slower than %s", formatMillis(b)), b, slow[i]))
		}
	}

	// Each family is tested at alpha/2. The latency family's e-process is the
	// average of its bounds' e-processes (an average of e-processes is one).
	logThr := math.Log(2 / cfg.Alpha)
	errE := res.Errors.perTile
	latE := averageLog(res.Latency, func(f Family) []float64 { return f.perTile }, len(errs))
	maxE := math.Inf(-1)
	for k := range errs {
		for _, c := range []struct {
			name string
			v    []float64
		}{{"errors", errE}, {"latency", latE}} {
			if c.v == nil {
				continue
			}
			maxE = math.Max(maxE, c.v[k])
			if !res.Reject && c.v[k] >= logThr {
				res.Reject, res.RejectTile, res.RejectFamily = true, k, c.name
			}
		}
	}
	if !math.IsInf(maxE, -1) {
		res.PValue = math.Min(1, 2*math.Exp(-maxE))
	}

	if cfg.Evidence {
		res.PromoteTile = promotionTile(cfg, res)
		res.Promote = res.PromoteTile >= 0 && !res.Reject
	}
	res.Holding = holding(cfg, res)
	return res
}

// promotionTile returns the first tile at which every family has promotion
// evidence: the errors' ratio is shown below r1 (or, when stable has too few
// errors for any ratio to be shown, the canary's error rate is shown below
// stable's plus a small absolute allowance), and the latency average of E'
// reached 1/alpha. It returns -1 if that never happened.
func promotionTile(cfg SequentialConfig, res SequentialResult) int {
	logThr := math.Log(1 / cfg.Alpha)
	latE := averageLog(res.Latency, func(f Family) []float64 { return f.perTilePromote }, res.Tiles)
	errOK, latOK := false, len(res.Latency) == 0
	for k := range res.Tiles {
		errOK = errOK || res.Errors.perTilePromote[k] >= logThr
		latOK = latOK || latE[k] >= logThr
		if errOK && latOK {
			return k
		}
	}
	// Stable almost never fails: certify an absolute bound instead.
	if !errOK && res.Errors.StableBad < minStableBad && latOK {
		allowance := math.Max(absoluteErrorAllowance, cfg.PromoteRatio*res.Errors.StableBad/math.Max(1, res.Errors.StableRequests))
		if RateUpperBound(res.Errors.CanaryBad, res.Errors.CanaryRequests, cfg.Alpha) <= allowance {
			return res.Tiles - 1
		}
	}
	return -1
}

// With fewer than minStableBad stable errors no ratio can be certified, and
// promotion evidence for errors falls back to the canary's error rate being
// below absoluteErrorAllowance with confidence 1-alpha.
const (
	minStableBad           = 10
	absoluteErrorAllowance = 0.001
)

func holding(cfg SequentialConfig, res SequentialResult) string {
	switch {
	case res.Reject:
		return ""
	case res.Errors.CanaryRequests == 0:
		return "the canary has served no requests yet"
	case cfg.Evidence && !res.Promote:
		return fmt.Sprintf("no evidence yet that the canary is less than %.3gx worse than stable (error-rate ratio between %s)", cfg.PromoteRatio, res.Errors.CI)
	}
	return ""
}

// averageLog returns, for each tile, log of the average of exp(get(f)[k])
// over families; nil when there are no families.
func averageLog(fams []Family, get func(Family) []float64, n int) []float64 {
	if len(fams) == 0 {
		return nil
	}
	out := make([]float64, n)
	for k := range n {
		mx := math.Inf(-1)
		for _, f := range fams {
			mx = math.Max(mx, get(f)[k])
		}
		var s float64
		for _, f := range fams {
			s += math.Exp(get(f)[k] - mx)
		}
		out[k] = mx + math.Log(s/float64(len(fams)))
	}
	return out
}

// String formats the interval as "0.8x-1.6x".
func (iv Interval) String() string {
	f := func(v float64) string {
		switch {
		case math.IsInf(v, 1):
			return "inf"
		case v == 0:
			return "0"
		}
		return fmt.Sprintf("%.3g", v)
	}
	return f(iv.Lo) + "x-" + f(iv.Hi) + "x"
}

func formatMillis(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%gs", ms/1000)
	}
	return fmt.Sprintf("%gms", ms)
}
