package mesh

import (
	"math"
	"time"
)

// Buckets are the upper bounds, in milliseconds, of Istio's default
// istio_request_duration_milliseconds buckets; +Inf follows them.
var Buckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// Health is how a version answers at one moment.
type Health struct {
	// ErrorRate is the fraction of requests answered 503, in [0, 1].
	ErrorRate float64
	// Median is the median request latency; it must be positive.
	Median time.Duration
	// Sigma is the lognormal shape (the standard deviation of the log of
	// the latency); 0 puts every request at the median. Typical: 0.3-0.8.
	Sigma float64
}

// During returns a health function that answers h from from (inclusive)
// to to (exclusive) and base at other times: an outage or a regression.
func During(base, h Health, from, to time.Time) func(time.Time) Health {
	return func(t time.Time) Health {
		if !t.Before(from) && t.Before(to) {
			return h
		}
		return base
	}
}

// latency is a Health's latency distribution over [Buckets] and +Inf.
type latency struct {
	// p[i] is the probability of falling into bucket i (le = Buckets[i],
	// the last being +Inf), not cumulative.
	p []float64
	// mean[i] is the mean latency of a request in bucket i, in ms.
	mean []float64
}

// newLatency computes the bucket probabilities and conditional means of
// the lognormal with the given median (ms) and sigma.
func newLatency(medianMs, sigma float64) latency {
	n := len(Buckets) + 1
	l := latency{p: make([]float64, n), mean: make([]float64, n)}
	if sigma <= 0 {
		i := 0
		for i < len(Buckets) && Buckets[i] < medianMs {
			i++
		}
		l.p[i], l.mean[i] = 1, medianMs
		return l
	}
	mu := math.Log(medianMs)
	// cdf is P(X <= b); partial is E[X; X <= b].
	cdf := func(b float64) float64 { return normCDF((math.Log(b) - mu) / sigma) }
	fullMean := math.Exp(mu + sigma*sigma/2)
	partial := func(b float64) float64 { return fullMean * normCDF((math.Log(b)-mu-sigma*sigma)/sigma) }
	prevP, prevM := 0.0, 0.0
	for i := range n {
		curP, curM := 1.0, fullMean
		if i < len(Buckets) {
			curP, curM = cdf(Buckets[i]), partial(Buckets[i])
		}
		l.p[i] = math.Max(curP-prevP, 0)
		if l.p[i] > 0 {
			l.mean[i] = (curM - prevM) / l.p[i]
		}
		prevP, prevM = curP, curM
	}
	return l
}

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }
