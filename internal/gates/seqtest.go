package gates

import (
	"math"
)

// Pair is one tile of bad-event counts for the two versions: requests served
// (N) and bad requests among them (Y), for the canary (C) and stable (S).
// Counts are whole numbers of requests; Prometheus' extrapolated increases
// are rounded before they get here.
type Pair struct {
	NC, NS float64 // requests
	YC, YS float64 // bad requests (5xx, or slower than a bucket bound)
	// Phi is the tile's dispersion factor: how many times more variable
	// the bad-event counts are than independent requests would make them
	// (see the package doc). The tile's log-likelihood is divided by it,
	// as if it held 1/Phi as many independent bad events. Values below 1
	// (and 0, unset) count as 1.
	Phi float64
}

// informative reports whether the tile adds anything to the likelihood.
func (p Pair) informative() bool {
	return p.NC > 0 && p.NS > 0 && p.YC+p.YS > 0
}

// scale is 1/Phi, the weight of the tile's log-likelihood.
func (p Pair) scale() float64 {
	if p.Phi > 1 {
		return 1 / p.Phi
	}
	return 1
}

// logLikRatio returns l(r) - l(r0) for one tile, where l is the binomial
// log-likelihood of the canary's share of the tile's bad events:
//
//	pi(r) = nc*r / (nc*r + ns)
//	l(r)  = yc*log(pi(r)) + ys*log(1-pi(r))
func (p Pair) logLikRatio(r, r0 float64) float64 {
	if !p.informative() {
		return 0
	}
	m := p.YC + p.YS
	return p.scale() * (p.YC*math.Log(r/r0) - m*(math.Log(p.NC*r+p.NS)-math.Log(p.NC*r0+p.NS)))
}

// LogLik returns the log-likelihood l(r) of the rate ratio r over the tiles,
// up to a constant that does not depend on r:
//
//	l(r) = sum_k [ yc_k*log(r) - (yc_k+ys_k)*log(nc_k*r + ns_k) ] + const
func LogLik(tiles []Pair, r float64) float64 {
	var l float64
	logr := math.Log(r)
	for _, p := range tiles {
		if p.informative() {
			l += p.scale() * (p.YC*logr - (p.YC+p.YS)*math.Log(p.NC*r+p.NS))
		}
	}
	return l
}

// Mixture is a fixed prior over rate ratios: grid points and their weights.
// It must be chosen before any canary data is seen.
type Mixture struct {
	R    []float64
	logW []float64
}

// LogGrid returns n ratios spaced evenly in log r over [lo, hi], with equal
// weights.
func LogGrid(lo, hi float64, n int) Mixture {
	m := Mixture{R: make([]float64, n), logW: make([]float64, n)}
	for j := range n {
		f := 0.0
		if n > 1 {
			f = float64(j) / float64(n-1)
		}
		m.R[j] = math.Exp(math.Log(lo) + f*(math.Log(hi)-math.Log(lo)))
		m.logW[j] = -math.Log(float64(n))
	}
	return m
}

// Blend returns the mixture that draws from m with probability wm and from
// o otherwise.
func (m Mixture) Blend(wm float64, o Mixture) Mixture {
	out := Mixture{R: append(append([]float64{}, m.R...), o.R...)}
	for _, lw := range m.logW {
		out.logW = append(out.logW, lw+math.Log(wm))
	}
	for _, lw := range o.logW {
		out.logW = append(out.logW, lw+math.Log1p(-wm))
	}
	return out
}

// logE returns log sum_j w_j exp(l(r_j) - l(ref)) given the per-point log
// likelihood ratios against ref.
func (m Mixture) logE(llr []float64) float64 {
	mx := math.Inf(-1)
	for j, v := range llr {
		mx = math.Max(mx, v+m.logW[j])
	}
	if math.IsInf(mx, -1) {
		return mx
	}
	var s float64
	for j, v := range llr {
		s += math.Exp(v + m.logW[j] - mx)
	}
	return mx + math.Log(s)
}

// EProcess returns log E_k after each tile k (k = 1..len(tiles)):
//
//	E_k = sum_j w_j exp( l_k(r_j) - l_k(ref) )
//
// where l_k is the log-likelihood of the first k tiles. With a mixture above
// ref it is the rollback e-process for H0: r <= ref; with a mixture below ref,
// the promotion e-process for H0': r >= ref. Under its null hypothesis E is a
// non-negative supermartingale, so P(ever E_k >= 1/alpha) <= alpha (Ville).
func (m Mixture) EProcess(tiles []Pair, ref float64) []float64 {
	acc := make([]float64, len(m.R))
	logRatio := make([]float64, len(m.R))
	for j, r := range m.R {
		logRatio[j] = math.Log(r / ref)
	}
	out := make([]float64, len(tiles))
	for k, p := range tiles {
		if !p.informative() {
			// Nothing changed: log E is the previous tile's (or the
			// empty sum's, for leading uninformative tiles).
			if k > 0 {
				out[k] = out[k-1]
			} else {
				out[k] = m.logE(acc)
			}
			continue
		}
		mk, base, w := p.YC+p.YS, math.Log(p.NC*ref+p.NS), p.scale()
		for j, r := range m.R {
			acc[j] += w * (p.YC*logRatio[j] - mk*(math.Log(p.NC*r+p.NS)-base))
		}
		out[k] = m.logE(acc)
	}
	return out
}

// Interval is a confidence interval for the rate ratio r. Lo may be 0 and Hi
// may be +Inf when the data cannot bound that side.
type Interval struct{ Lo, Hi float64 }

// ciLimits bound the search for the ends of a confidence interval; an end
// beyond them is reported as 0 or +Inf.
const (
	ciMin = 1e-3
	ciMax = 1e3
)

// ConfidenceInterval returns the anytime-valid confidence set
//
//	C = { r : l(r) >= log(alpha) + log sum_j w_j exp(l(r_j)) }
//
// for the mixture m (which should be two-sided, e.g. LogGrid(1/20, 20, 41)).
// l is concave in log r, so C is an interval; its ends are found by
// bisection. With no informative tiles it is [0, +Inf).
func ConfidenceInterval(tiles []Pair, m Mixture, alpha float64) Interval {
	// The informative tiles, weighted, once: l is evaluated ~150 times.
	type term struct{ a, m, nc, ns float64 }
	var terms []term
	for _, p := range tiles {
		if p.informative() {
			w := p.scale()
			terms = append(terms, term{w * p.YC, w * (p.YC + p.YS), p.NC, p.NS})
		}
	}
	if len(terms) == 0 {
		return Interval{0, math.Inf(1)}
	}
	l := func(logr float64) float64 {
		r := math.Exp(logr)
		var v float64
		for _, t := range terms {
			v += t.a*logr - t.m*math.Log(t.nc*r+t.ns)
		}
		return v
	}
	llr := make([]float64, len(m.R))
	for j, r := range m.R {
		llr[j] = l(math.Log(r))
	}
	thr := math.Log(alpha) + m.logE(llr)

	// The maximum of the concave l over log r, by golden-section search.
	a, b := math.Log(ciMin), math.Log(ciMax)
	const g = 0.6180339887498949
	for range 48 { // 0.618^48 of the range: below 1e-8 in log r
		c, d := b-g*(b-a), a+g*(b-a)
		if l(c) < l(d) {
			a = c
		} else {
			b = d
		}
	}
	peak := (a + b) / 2
	if l(peak) < thr {
		// Cannot happen for alpha < 1 (the maximum beats any average of the
		// grid's likelihoods); guard against rounding.
		return Interval{math.Exp(peak), math.Exp(peak)}
	}
	end := func(in, out float64) float64 {
		if l(out) >= thr {
			return math.NaN()
		}
		for range 40 { // 2^-40 of the range: below 1e-11 in log r
			mid := (in + out) / 2
			if l(mid) >= thr {
				in = mid
			} else {
				out = mid
			}
		}
		return math.Exp((in + out) / 2)
	}
	iv := Interval{Lo: end(peak, math.Log(ciMin)), Hi: end(peak, math.Log(ciMax))}
	if math.IsNaN(iv.Lo) {
		iv.Lo = 0
	}
	if math.IsNaN(iv.Hi) {
		iv.Hi = math.Inf(1)
	}
	return iv
}

// RateUpperBound returns an upper confidence bound for a rate from y bad
// events in n trials, valid at every look: the largest p for which the
// beta-binomial mixture martingale with a uniform Beta(1,1) prior,
//
//	M(p) = B(1+y, 1+n-y) / B(1, 1) / ( p^y (1-p)^(n-y) ),
//
// stays below 1/alpha. It is used to certify an absolute bound when stable
// has too few bad events for a ratio to be certified. With n = 0 it is 1.
func RateUpperBound(y, n, alpha float64) float64 {
	if n <= 0 {
		return 1
	}
	lb, _ := math.Lgamma(1 + y)
	lc, _ := math.Lgamma(1 + n - y)
	ln, _ := math.Lgamma(2 + n)
	logMix := lb + lc - ln // log B(1+y, 1+n-y)
	logM := func(p float64) float64 {
		v := logMix
		if y > 0 {
			v -= y * math.Log(p)
		}
		if n-y > 0 {
			v -= (n - y) * math.Log1p(-p)
		}
		return v
	}
	thr := -math.Log(alpha)
	lo, hi := y/n, 1.0
	if logM(lo) >= thr {
		return lo
	}
	for range 100 {
		mid := (lo + hi) / 2
		if logM(mid) < thr {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
