package gates

import (
	"fmt"
	"math"
	"slices"
)

// SequentialConfig fixes the sequential test before any canary data is seen.
type SequentialConfig struct {
	// Alpha bounds P(ever roll back a canary no worse than stable). It is
	// split between the error family (ErrorsShare of it, 80%) and the
	// latency family (the rest).
	Alpha float64
	// Margin is the tolerated ratio r0 (1 = "no worse than stable").
	Margin float64
	// Evidence requires promotion evidence: the canary is shown to be less
	// than PromoteRatio times worse than stable, with error probability
	// Alpha, for errors and at every latency bound.
	Evidence bool
	// PromoteRatio is r1 of the promotion test (H0': r >= r1).
	PromoteRatio float64
	// Warmup marks the tiles (by index) that fall in a warm-up: they are
	// left out of the latency rollback e-process. They are chosen by time
	// (after the canary's start and each weight change), never by data.
	Warmup []bool
	// NoIntervals skips the confidence intervals, which only reports show
	// (decisions never read them): for simulations of many canaries.
	NoIntervals bool
}

// Defaults of the sequential test.
const (
	DefaultAlpha        = 0.05
	DefaultPromoteRatio = 2.0
	gridPoints          = 20
	gridMax             = 20.0
	// rollbackGridMax is the top of the rollback mixture's log grid.
	rollbackGridMax = 10.0
	// ErrorsShare is the share of alpha spent on the error family; the
	// latency family gets the rest (Bonferroni).
	ErrorsShare = 0.8
	// pointMassWeight is the prior weight of the point mass at
	// pointMassRatio times the margin; the log grid has the rest.
	pointMassWeight = 0.5
	pointMassRatio  = 1.5
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

// familyAlpha is the alpha of the error family (errors true) or the latency
// family.
func (c SequentialConfig) familyAlpha(errors bool) float64 {
	if errors {
		return ErrorsShare * c.Alpha
	}
	return (1 - ErrorsShare) * c.Alpha
}

// rejectAt is the e-value at which the test rolls back on the error family
// (errors true) or the latency family: 1/alpha of the family. The test and
// the gate's report both read it here.
func (c SequentialConfig) rejectAt(errors bool) float64 { return 1 / c.familyAlpha(errors) }

// rollbackMixture is the prior over ratios worse than the margin r0: half
// on 20 points evenly spaced in log r over [1.05*r0, 10*r0] (equal
// weights), half on 1.5*r0. The grid keeps large regressions fast to
// detect; the point mass buys power against the modest regressions (x1.5)
// a grid dilutes. The grid stops at 10: a regression larger than that
// still shows at once (its likelihood at 10 is already overwhelming),
// and the prior density the grid does not spend above 10 goes to the
// ratios between 2 and 10 that one interval has to catch.
func (c SequentialConfig) rollbackMixture() Mixture {
	grid := LogGrid(1.05*c.Margin, rollbackGridMax*c.Margin, gridPoints)
	point := LogGrid(pointMassRatio*c.Margin, pointMassRatio*c.Margin, 1)
	return grid.Blend(1-pointMassWeight, point)
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
	// phi is the largest dispersion factor of the tiles.
	phi float64
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
			f.phi = math.Max(f.phi, p.Phi)
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
		f.CI = Interval{0, math.Inf(1)}
		if !cfg.NoIntervals {
			f.CI = ConfidenceInterval(tiles, ci, cfg.Alpha)
		}
		return f
	}
	res.Errors = family("errors", 0, errs)
	for i, b := range bounds {
		if i < len(slow) {
			res.Latency = append(res.Latency, family(fmt.Sprintf("slower than %s", formatMillis(b)), b, withoutWarmup(slow[i], cfg.Warmup)))
		}
	}

	// Bonferroni across the two families: errors at ErrorsShare*alpha,
	// latency at the rest. The latency family's e-process is the average of
	// its bounds' e-processes: under the null (the canary no slower than
	// stable at any bound) each is an e-process, and so is their average.
	errE := res.Errors.perTile
	latE := averageLog(res.Latency, func(f Family) []float64 { return f.perTile }, len(errs))
	logP := 0.0 // log of the always-valid p-value
	for k := range errs {
		for _, c := range []struct {
			name string
			v    []float64
			a    float64
		}{{"errors", errE, cfg.familyAlpha(true)}, {"latency", latE, cfg.familyAlpha(false)}} {
			if c.v == nil {
				continue
			}
			share := c.a / cfg.Alpha
			logP = math.Min(logP, -c.v[k]-math.Log(share))
			if !res.Reject && c.v[k] >= math.Log(cfg.rejectAt(c.name == "errors")) {
				res.Reject, res.RejectTile, res.RejectFamily = true, k, c.name
			}
		}
	}
	res.PValue = math.Exp(logP)

	if cfg.Evidence {
		res.PromoteTile = promotionTile(cfg, res)
		res.Promote = res.PromoteTile >= 0 && !res.Reject
	}
	res.Holding = holding(cfg, res)
	return res
}

// withoutWarmup returns the tiles with the warm-up ones emptied (they add
// nothing to the likelihood), or tiles itself when none is marked.
func withoutWarmup(tiles []Pair, warm []bool) []Pair {
	if !slices.Contains(warm, true) {
		return tiles
	}
	out := slices.Clone(tiles)
	for k := range out {
		if k < len(warm) && warm[k] {
			out[k] = Pair{}
		}
	}
	return out
}

// promotionTile returns the first tile at which every family has promotion
// evidence: the errors' ratio is shown below r1, and at every latency bound
// the ratio is shown below r1 by that bound's own e-process. The null of
// promotion is "the canary is r1 times worse in errors or at some bound", a
// union: it is rejected only when each part is, each at level alpha, so no
// average across bounds (whose nulls differ) may stand in for one. A family
// in which stable has too few bad events for any ratio to be shown (errors
// of a service that almost never fails, a latency bound stable almost never
// exceeds) is shown instead by the canary's own rate being below an
// absolute allowance ([absoluteAllowed]). It returns -1 if that never
// happened.
//
// Each family may promote by either route, and which one it takes depends
// on stable's count, which grows with the data: a family whose stable count
// passes minStableBad during the canary could have promoted by the absolute
// route before and by the ratio route after. Its null (r >= r1 and the rate
// at least the allowance) is rejected when either route rejects, so each
// route is judged at alpha/2 ([SequentialConfig.routeAlpha]) and the two
// together at most alpha, in every family, whichever routes are tried.
func promotionTile(cfg SequentialConfig, res SequentialResult) int {
	logThr := math.Log(1 / cfg.routeAlpha())
	first := func(f Family) int {
		for k, v := range f.perTilePromote {
			if v >= logThr {
				return k
			}
		}
		if res.Tiles > 0 && absoluteAllowed(cfg, f) {
			return res.Tiles - 1
		}
		return -1
	}
	at := first(res.Errors)
	if at < 0 {
		return -1
	}
	for _, f := range res.Latency {
		k := first(f)
		if k < 0 {
			return -1
		}
		at = max(at, k)
	}
	return at
}

// With fewer than minStableBad bad events of stable in a family no ratio
// can be certified, and promotion evidence for that family falls back to
// the canary's rate being below absoluteAllowance (or r1 times stable's
// rate, if that is more) with confidence 1-alpha/2.
const (
	minStableBad      = 10
	absoluteAllowance = 0.001
	// promoteRoutes is the number of routes by which a family may promote
	// (the ratio and the absolute allowance); each is judged at
	// alpha/promoteRoutes.
	promoteRoutes = 2
)

// routeAlpha is the level at which each promotion route of a family is
// judged: alpha split evenly between the ratio and the absolute route, so
// that a family that may promote by either is wrongly promoted with
// probability at most alpha (union bound). The split does not depend on
// which routes a family turns out to take: that depends on stable's count,
// which depends on the data.
func (c SequentialConfig) routeAlpha() float64 { return c.Alpha / promoteRoutes }

// absoluteAllowed reports whether f, a family in which stable has fewer
// than minStableBad bad events, has its canary's rate shown below the
// allowance by the beta-binomial confidence sequence ([RateUpperBound]) at
// level alpha/2 (the route's share, [SequentialConfig.routeAlpha]). The
// counts are divided by the family's dispersion factor: clustered requests
// carry less information than as many independent ones.
func absoluteAllowed(cfg SequentialConfig, f Family) bool {
	if f.StableBad >= minStableBad || f.CanaryRequests <= 0 {
		return false
	}
	allowance := math.Max(absoluteAllowance, cfg.PromoteRatio*f.StableBad/math.Max(1, f.StableRequests))
	phi := math.Max(1, f.phi)
	return RateUpperBound(f.CanaryBad/phi, f.CanaryRequests/phi, cfg.routeAlpha()) <= allowance
}

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
