package gates

import "math"

// Dispersion of the counts (see the package doc, "Overdispersion").
//
// Requests are not independent: a session's or a batch client's requests
// share their fate, a pod has bad minutes, retries repeat a failure. Then a
// version's bad-event count varies phi times more than the binomial model
// of the test says, and a likelihood ratio computed as if the requests were
// independent overstates the evidence about phi-fold. The test divides
// every tile's log-likelihood by an estimate of phi, which is the likelihood
// of the tile's bad events counted in units of phi requests (exact when
// they come in clusters of phi that share one outcome).
//
// phi is estimated from stable alone, never from the canary: within a
// tile, stable's pods see the same time-varying rates, so the spread of
// their bad-event rates around the tile's pooled rate is noise, and its
// Pearson statistic X^2 = sum_i (y_i - n_i p)^2 / (n_i p (1-p)) has
// expectation phi (P-1) over P pods. Summing X^2 and P-1 over the tiles
// of the hour before the canary and the canary's tiles so far gives
// phi_k = sum X^2 / sum (P-1) for tile k, used only when it is
// significantly above 1: each tile's factor uses only tiles up to it, so a
// tile's evidence is fixed once it is complete, and later runs recompute
// the same e-process.
//
// Why a test and not max(1, X^2/df): with independent requests X^2/df
// scatters around 1 (its standard deviation is sqrt(2/df), 0.14 with a
// hundred degrees of freedom), and flooring it at 1 keeps the upper half,
// so on Poisson traffic the factor averages above 1 and shrinks every
// tile's evidence for nothing (a x5 regression was caught in the first
// run a few points less often). Under phi = 1, X^2 is chi-square with df
// degrees of freedom; the estimate is used only when X^2 exceeds that
// distribution's 95th percentile. Real clustering (sessions of 2 requests
// give phi near 2) exceeds it by far, so what is left uncorrected is
// dispersion within about sqrt(2/df) of 1, whose effect on the error
// probability is of the same small order.

// minDispersionDF is the least number of degrees of freedom (pods minus
// one, summed over tiles) an estimate needs; below it phi is 1.
const minDispersionDF = 10

// One-sided normal quantiles of the dispersion tests: 5% for "phi is above
// 1", 1% for "one family's phi is above the pooled one".
const (
	zDispersion    = 1.6448536269514722
	zDispersionOwn = 2.3263478740408408
)

// dispersionAcc accumulates the Pearson statistic of stable's pods.
type dispersionAcc struct{ x2, df float64 }

// add adds one tile: bad events y[i] among n[i] requests of each pod.
func (d *dispersionAcc) add(n, y []float64) {
	var sn, sy float64
	pods := 0
	for i := range n {
		if n[i] > 0 {
			sn += n[i]
			sy += y[i]
			pods++
		}
	}
	if pods < 2 || sy <= 0 || sy >= sn {
		return
	}
	p := sy / sn
	var x2 float64
	for i := range n {
		if n[i] > 0 {
			e := n[i] * p
			x2 += (y[i] - e) * (y[i] - e) / (e * (1 - p))
		}
	}
	d.x2 += x2
	d.df += float64(pods - 1)
}

// plus returns the accumulation of both.
func (d dispersionAcc) plus(o dispersionAcc) dispersionAcc {
	return dispersionAcc{x2: d.x2 + o.x2, df: d.df + o.df}
}

// above reports whether the counts are significantly more dispersed than
// base times the binomial: X^2 beyond base times the upper z-quantile of a
// chi-square with df degrees of freedom.
func (d dispersionAcc) above(base, z float64) bool {
	return d.df >= minDispersionDF && d.x2 > base*chi2Quantile(d.df, z)
}

// phi is the estimate when it is significantly above 1, else 1.
func (d dispersionAcc) phi() float64 {
	if !d.above(1, zDispersion) {
		return 1
	}
	return d.x2 / d.df
}

// chi2Quantile returns the quantile of a chi-square distribution with df
// degrees of freedom whose upper tail is that of the standard normal above
// z, by the Wilson-Hilferty approximation (a relative error below 1e-3 for
// df >= 10, the least minDispersionDF allows).
func chi2Quantile(df, z float64) float64 {
	a := 2 / (9 * df)
	v := 1 - a + z*math.Sqrt(a)
	return df * v * v * v
}

// podFamilies holds one tile's per-pod counts for every family, reused
// from tile to tile: family 0 counts errors, family f > 0 the requests
// slower than bounds[f-1].
type podFamilies struct {
	bounds []float64
	n, y   [][]float64
	ok     []bool
}

func newPodFamilies(bounds []float64) *podFamilies {
	f := len(bounds) + 1
	return &podFamilies{bounds: bounds, n: make([][]float64, f), y: make([][]float64, f), ok: make([]bool, f)}
}

// fill sets the per-pod requests and bad events of pods for each family;
// a family is not ok when some pod's histogram, with observations, lacks
// its bound (a missing bucket is not zero slow requests).
func (pf *podFamilies) fill(pods []PodCounts) {
	for f := range pf.n {
		pf.n[f], pf.y[f], pf.ok[f] = pf.n[f][:0], pf.y[f][:0], true
	}
	for _, p := range pods {
		pf.n[0] = append(pf.n[0], math.Round(p.Requests))
		pf.y[0] = append(pf.y[0], math.Round(p.Errors))
		total := p.Latency.Total()
		for b, le := range pf.bounds {
			f := b + 1
			count, has := bucketCount(p.Latency, le)
			var above float64
			if has {
				above = math.Max(0, total-count)
			} else if total > 0 {
				pf.ok[f] = false
			}
			pf.n[f] = append(pf.n[f], math.Round(total))
			pf.y[f] = append(pf.y[f], math.Round(above))
		}
	}
}

// bucketCount returns the count of h's first bucket with bound le.
func bucketCount(h Histogram, le float64) (float64, bool) {
	for _, b := range h {
		if b.Le == le {
			return b.Count, true
		}
	}
	return 0, false
}
