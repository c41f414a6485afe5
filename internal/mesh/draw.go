package mesh

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// poisson draws a Poisson count with mean lambda.
func poisson(rng *rand.Rand, lambda float64) int64 {
	if lambda <= 0 {
		return 0
	}
	return int64(distuv.Poisson{Lambda: lambda, Src: rng}.Rand())
}

// binomial draws the successes of n trials of probability p.
func binomial(rng *rand.Rand, n int64, p float64) int64 {
	switch {
	case n <= 0 || p <= 0:
		return 0
	case p >= 1:
		return n
	}
	return int64(distuv.Binomial{N: float64(n), P: p, Src: rng}.Rand())
}

// multinomial spreads n draws over the categories of probabilities p
// (summing to 1) by conditional binomials, adding the counts to into.
func multinomial(rng *rand.Rand, n int64, p []float64, into []int64) {
	rest := 1.0
	for i, pi := range p {
		if n == 0 {
			return
		}
		if i == len(p)-1 || pi >= rest {
			into[i] += n
			return
		}
		c := binomial(rng, n, pi/rest)
		into[i] += c
		n -= c
		rest -= pi
	}
}
