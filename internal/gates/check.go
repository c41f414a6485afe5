package gates

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// view is what a gate sees of a window: the sums of a run of tiles.
type view struct {
	w        Window
	tiles    int
	req, err Counts
	lc, ls   Histogram
	errs     map[MetricFamily]error
	queries  map[MetricFamily]string
	// quiet views are per-tile checks: verdicts and values only, no text.
	quiet bool
}

func viewOf(ts TileSet, tiles []Tile) view {
	v := view{errs: ts.Errs, queries: ts.Queries, tiles: len(tiles)}
	if len(tiles) == 1 { // no copies for a single tile: views are read-only
		t := tiles[0]
		v.w, v.req, v.err, v.lc, v.ls = Window{t.Start, t.End}, t.Requests, t.Errors, t.CanaryLatency, t.StableLatency
		return v
	}
	for i, t := range tiles {
		if i == 0 {
			v.w.Start = t.Start
		}
		v.w.End = t.End
		v.req.Canary += t.Requests.Canary
		v.req.Stable += t.Requests.Stable
		v.err.Canary += t.Errors.Canary
		v.err.Stable += t.Errors.Stable
		v.lc = v.lc.addInPlace(t.CanaryLatency, i == 0)
		v.ls = v.ls.addInPlace(t.StableLatency, i == 0)
	}
	return v
}

// check is one evaluation of a gate on one view.
type check struct {
	verdict       Verdict
	value, stable float64
	unit          string
	threshold     string
	query         string
	message       string
}

// needs returns the families a gate type reads.
func needs(typ string) []MetricFamily {
	switch typ {
	case spec.GateErrorRate, spec.GateSuccessRate:
		return []MetricFamily{FamilyRequests, FamilyErrors}
	case spec.GateLatency:
		return []MetricFamily{FamilyLatency}
	case spec.GateRequestCount, spec.GateTrafficShare:
		return []MetricFamily{FamilyRequests}
	}
	return nil
}

// queryError returns an Error check when a family the gate reads failed.
func (v view) queryError(typ string) (check, bool) {
	for _, f := range needs(typ) {
		if err := v.errs[f]; err != nil {
			msg := fmt.Sprintf("the %s query failed: %v", f, err)
			var qe *QueryError
			if errors.As(err, &qe) && qe.Hint() != "" {
				msg += "; " + qe.Hint()
			}
			return check{verdict: Error, value: math.NaN(), stable: math.NaN(), query: v.queries[f], message: msg}, true
		}
	}
	return check{}, false
}

// evaluate judges gate g on view v at committed weight (percent). custom is
// the custom gate's value on this view (NaN if none).
func evaluate(g spec.Gate, v view, weight int, custom float64) check {
	if c, failed := v.queryError(g.Type); failed {
		return c
	}
	switch g.Type {
	case spec.GateErrorRate:
		return rateCheck(g, v, false)
	case spec.GateSuccessRate:
		return rateCheck(g, v, true)
	case spec.GateLatency:
		return latencyCheck(g, v)
	case spec.GateRequestCount:
		return countCheck(g, v)
	case spec.GateTrafficShare:
		return shareCheck(g, v, weight)
	case spec.GateCustom:
		return customCheck(g, custom)
	}
	return check{verdict: Error, value: math.NaN(), stable: math.NaN(), message: fmt.Sprintf("unknown gate type %q", g.Type)}
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return a / b
}

// number returns a spec quantity as a number, and whether it was given.
func number(q spec.Quantity) (float64, bool) {
	if !q.IsSet() {
		return 0, false
	}
	return q.Number()
}

func pct(v float64) string {
	if !finite(v) {
		return "n/a"
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", 100*v), "0"), ".") + "%"
}

// rateCheck judges an error-rate or success-rate gate. In a quiet view (a
// per-tile check) only the verdict and values are computed.
func rateCheck(g spec.Gate, v view, success bool) check {
	c := check{unit: "ratio"}
	errC, errS := ratio(v.err.Canary, v.req.Canary), ratio(v.err.Stable, v.req.Stable)
	c.value, c.stable = errC, errS
	if success {
		c.value, c.stable = 1-errC, 1-errS
	}
	if !v.quiet {
		c.query = v.queries[FamilyErrors] + " / " + v.queries[FamilyRequests]
	}
	if v.req.Canary <= 0 {
		c.verdict = Inconclusive
		c.message = "the canary served no requests in the window"
		return c
	}
	name := "error rate"
	if success {
		name = "success rate"
	}
	var conds []string
	c.verdict = Pass
	if max, ok := number(g.Max); ok && c.value > max {
		c.verdict = Fail
		if !v.quiet {
			c.message = fmt.Sprintf("canary %s %s is above the maximum %s", name, pct(c.value), pct(max))
		}
	} else if ok && !v.quiet {
		conds = append(conds, "<= "+pct(max))
	}
	min, hasMin := number(g.Min)
	if hasMin && success && min > 1 {
		min /= 100 // Flagger writes success rates in percent
	}
	if hasMin && c.value < min {
		c.verdict = Fail
		if !v.quiet {
			c.message = fmt.Sprintf("canary %s %s is below the minimum %s", name, pct(c.value), pct(min))
		}
	}
	inc, hasInc := number(g.MaxIncrease)
	switch {
	case !hasInc:
	case !finite(errS):
		if c.verdict == Pass {
			c.verdict, c.message = Inconclusive, "stable served no requests in the window, so the canary cannot be compared with it"
		}
	case errC > errS*(1+inc):
		c.verdict = Fail
		if !v.quiet {
			c.message = fmt.Sprintf("canary error rate %s is more than %s above stable's %s", pct(errC), pct(inc), pct(errS))
		}
	}
	if v.quiet {
		return c
	}
	conds = conds[:0]
	if max, ok := number(g.Max); ok {
		conds = append(conds, "<= "+pct(max))
	}
	if hasMin {
		conds = append(conds, ">= "+pct(min))
	}
	if hasInc {
		conds = append(conds, "error rate <= stable +"+pct(inc))
	}
	c.threshold = strings.Join(conds, ", ")
	if c.verdict == Pass {
		c.message = fmt.Sprintf("canary %s %s (stable %s) over %.0f requests", name, pct(c.value), pct(c.stable), v.req.Canary)
	}
	return c
}

func ms(v float64) string {
	if !finite(v) {
		return "n/a"
	}
	return time.Duration(v * float64(time.Millisecond)).Round(100 * time.Microsecond).String()
}

// latencyCheck judges a latency quantile gate.
func latencyCheck(g spec.Gate, v view) check {
	q := g.Quantile
	if q <= 0 || q >= 1 {
		q = 0.99
	}
	c := check{unit: "ms"}
	c.value, c.stable = v.lc.Quantile(q), v.ls.Quantile(q)
	if !finite(c.value) {
		c.verdict = Inconclusive
		c.message = "no canary latency observations in the window, so its latency is unknown"
		return c
	}
	c.verdict = Pass
	max, hasMax := g.Max.Duration()
	hasMax = hasMax && g.Max.IsSet()
	maxMs := float64(max) / float64(time.Millisecond)
	inc, hasInc := number(g.MaxIncrease)
	if hasMax && c.value > maxMs {
		c.verdict = Fail
	}
	if hasInc {
		switch {
		case !finite(c.stable):
			if c.verdict == Pass {
				c.verdict, c.message = Inconclusive, "stable has no latency observations in the window, so the canary cannot be compared with it"
			}
		case c.value > c.stable*(1+inc):
			c.verdict = Fail
		}
	}
	if v.quiet {
		return c
	}
	c.query = fmt.Sprintf("histogram_quantile(%g, %s)", q, v.queries[FamilyLatency])
	label := fmt.Sprintf("p%g latency", 100*q)
	var conds []string
	if hasMax {
		conds = append(conds, "<= "+ms(maxMs))
	}
	if hasInc {
		conds = append(conds, "<= stable +"+pct(inc))
	}
	c.threshold = strings.Join(conds, ", ")
	switch {
	case hasMax && c.value > maxMs:
		c.message = fmt.Sprintf("canary %s %s is above the maximum %s", label, ms(c.value), ms(maxMs))
	case hasInc && finite(c.stable) && c.value > c.stable*(1+inc):
		c.message = fmt.Sprintf("canary %s %s is more than %s above stable's %s", label, ms(c.value), pct(inc), ms(c.stable))
	case c.verdict == Pass:
		c.message = fmt.Sprintf("canary %s %s (stable %s)", label, ms(c.value), ms(c.stable))
	}
	return c
}

// countCheck judges a request-count gate: too few requests is a wait, not
// a failure.
func countCheck(g spec.Gate, v view) check {
	c := check{unit: "requests", value: v.req.Canary, stable: v.req.Stable, query: v.queries[FamilyRequests], verdict: Pass}
	min, _ := number(g.Min)
	c.threshold = fmt.Sprintf(">= %.0f", min)
	if v.req.Canary < min {
		c.verdict = Inconclusive
		c.message = fmt.Sprintf("canary served %.0f requests; %.0f needed before this gate can pass", v.req.Canary, min)
		return c
	}
	c.message = fmt.Sprintf("canary served %.0f requests (%.0f needed)", v.req.Canary, min)
	return c
}

// shareZ is how many standard errors of a binomial share the observed
// traffic share may be off the committed weight on top of the tolerance.
const shareZ = 3

// defaultShareTolerance is the traffic-share gate's default tolerance in
// percentage points.
const defaultShareTolerance = 5

// shareCheck judges a traffic-share gate: the canary's share of requests
// matches the committed weight within the tolerance plus sampling noise. A
// mismatch means the weight has not reached the mesh (or someone changed
// it): the gate fails, which blocks promotion but never counts towards a
// rollback.
func shareCheck(g spec.Gate, v view, weight int) check {
	n := v.req.Canary + v.req.Stable
	w := float64(weight) / 100
	c := check{unit: "ratio", value: ratio(v.req.Canary, n), stable: w, query: v.queries[FamilyRequests]}
	tol := g.Tolerance
	if tol <= 0 {
		tol = defaultShareTolerance
	}
	if n <= 0 {
		c.verdict, c.message = Inconclusive, "no requests to either version in the window"
		c.threshold = fmt.Sprintf("%d%% ± %gpp", weight, tol)
		return c
	}
	allowed := tol/100 + shareZ*math.Sqrt(w*(1-w)/n)
	c.threshold = fmt.Sprintf("%d%% ± %s", weight, pct(allowed))
	if math.Abs(c.value-w) > allowed {
		c.verdict = Fail
		c.message = fmt.Sprintf("canary received %s of %.0f requests but its committed weight is %d%%: the weight may not have synced to the mesh yet", pct(c.value), n, weight)
		return c
	}
	c.verdict = Pass
	c.message = fmt.Sprintf("canary received %s of %.0f requests (committed %d%%)", pct(c.value), n, weight)
	return c
}

// customCheck judges a custom query's value.
func customCheck(g spec.Gate, value float64) check {
	c := check{unit: "value", value: value, stable: math.NaN()}
	if !finite(value) {
		c.verdict, c.message = Inconclusive, "the query returned no value (empty result or NaN)"
		return c
	}
	c.verdict = Pass
	var conds []string
	if min, ok := number(g.Min); ok {
		conds = append(conds, fmt.Sprintf(">= %g", min))
		if value < min {
			c.verdict, c.message = Fail, fmt.Sprintf("value %g is below the minimum %g", value, min)
		}
	}
	if max, ok := number(g.Max); ok {
		conds = append(conds, fmt.Sprintf("<= %g", max))
		if value > max {
			c.verdict, c.message = Fail, fmt.Sprintf("value %g is above the maximum %g", value, max)
		}
	}
	c.threshold = strings.Join(conds, ", ")
	if c.verdict == Pass {
		c.message = fmt.Sprintf("value %g", value)
	}
	return c
}
