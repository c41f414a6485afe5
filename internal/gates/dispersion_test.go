package gates

import (
	"testing"
	"time"
)

// podTiles returns n tiles in which stable's ten pods each serve 1000
// requests and fail errs[i] of them (the canary: 1000 requests, 10
// errors), starting at from.
func podTiles(n int, from time.Time, errs []float64) []Tile {
	var out []Tile
	for k := range n {
		s := from.Add(time.Duration(k) * 5 * time.Minute)
		t := Tile{Start: s, End: s.Add(5 * time.Minute), Requests: Counts{Canary: 1000}, Errors: Counts{Canary: 10}}
		for i, e := range errs {
			t.StablePods = append(t.StablePods, PodCounts{Pod: string(rune('a' + i)), Requests: 1000, Errors: e})
			t.Requests.Stable += 1000
			t.Errors.Stable += e
		}
		out = append(out, t)
	}
	return out
}

// TestDispersionWithinNoiseIsNotCorrected: with independent requests the
// Pearson statistic of stable's pods scatters around its degrees of
// freedom; a factor a little above 1 that such scatter explains must not
// scale the evidence down (flooring the estimate at 1 would keep every
// upward fluctuation and weaken the test on Poisson traffic).
func TestDispersionWithinNoiseIsNotCorrected(t *testing.T) {
	// Deviations of 4, 4 and eight of 3 errors around 10 of 1000: X^2/df
	// = 104/9.9/9 = 1.17 on 9 degrees of freedom a tile, below the 95th
	// percentile of a chi-square on the 108 + 9k of 12 + k tiles.
	within := []float64{14, 6, 13, 7, 13, 7, 13, 7, 13, 7}
	baseline := podTiles(12, epoch.Add(-time.Hour), within)
	tiles := podTiles(6, epoch, within)
	errs, _, _ := SequentialPairs(tiles, baseline, nil)
	for k, p := range errs {
		if p.Phi > 1 {
			t.Errorf("tile %d: dispersion factor %.3g from counts within binomial noise, want 1", k, p.Phi)
		}
	}
}

// TestClusteredCountsAreCorrected: counts twice as variable as the
// binomial (a deviation of 4 at every pod: X^2/df = 160/9.9/9 = 1.80, far
// above what chance gives on 108 degrees of freedom) scale the evidence
// down by that factor.
func TestClusteredCountsAreCorrected(t *testing.T) {
	clustered := []float64{14, 6, 14, 6, 14, 6, 14, 6, 14, 6}
	baseline := podTiles(12, epoch.Add(-time.Hour), clustered)
	tiles := podTiles(3, epoch, clustered)
	errs, _, _ := SequentialPairs(tiles, baseline, nil)
	want := 160 / 9.9 / 9
	for k, p := range errs {
		if p.Phi < want*0.999 || p.Phi > want*1.001 {
			t.Errorf("tile %d: dispersion factor %.4g, want %.4g", k, p.Phi, want)
		}
	}
}

// TestChi2QuantileByHand checks the Wilson-Hilferty quantiles against
// tabulated values of the chi-square distribution's 95th and 99th
// percentiles.
func TestChi2QuantileByHand(t *testing.T) {
	for _, tt := range []struct{ df, z, want float64 }{
		{10, zDispersion, 18.307},
		{100, zDispersion, 124.342},
		{100, zDispersionOwn, 135.807},
		{1000, zDispersion, 1074.679},
	} {
		if got := chi2Quantile(tt.df, tt.z); got < tt.want*0.999 || got > tt.want*1.001 {
			t.Errorf("chi2Quantile(%g, %g) = %.3f, want %.3f", tt.df, tt.z, got, tt.want)
		}
	}
}
