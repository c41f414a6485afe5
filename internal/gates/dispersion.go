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
// phi_k = max(1, sum X^2 / sum (P-1)) for tile k: each tile's factor uses
// only tiles up to it, so a tile's evidence is fixed once it is complete,
// and later runs recompute the same e-process.

// minDispersionDF is the least number of degrees of freedom (pods minus
// one, summed over tiles) an estimate needs; below it phi is 1.
const minDispersionDF = 10

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

// phi is the current estimate, at least 1.
func (d dispersionAcc) phi() float64 {
	if d.df < minDispersionDF {
		return 1
	}
	return math.Max(1, d.x2/d.df)
}

// podBad returns the per-pod requests and bad events of a tile for one
// family: errors (bound 0) or requests slower than bound.
func podBad(pods []PodCounts, bound float64) (n, y []float64, ok bool) {
	n, y = make([]float64, len(pods)), make([]float64, len(pods))
	for i, p := range pods {
		if bound == 0 {
			n[i], y[i] = math.Round(p.Requests), math.Round(p.Errors)
			continue
		}
		above, has := p.Latency.Above(bound)
		if !has && p.Latency.Total() > 0 {
			return nil, nil, false
		}
		n[i], y[i] = math.Round(p.Latency.Total()), math.Round(above)
	}
	return n, y, true
}
