package gates

import (
	"math"
	"slices"
	"testing"
)

func TestHistogramQuantileByHand(t *testing.T) {
	h := Histogram{{Le: 100, Count: 50}, {Le: 250, Count: 90}, {Le: 500, Count: 100}, {Le: math.Inf(1), Count: 100}}
	tests := []struct {
		q, want float64
	}{
		{0.5, 100},           // rank 50 is the end of the first bucket
		{0.25, 50},           // 0 + 100*(25/50)
		{0.7, 100 + 150*0.5}, // rank 70: 20 of the 40 in (100,250]
		{0.95, 250 + 250*0.5},
		{1, 500}, // rank 100 lands in (250,500], not +Inf
	}
	for _, tt := range tests {
		near(t, "quantile", h.Quantile(tt.q), tt.want, 1e-9)
	}
	inf := Histogram{{Le: 100, Count: 1}, {Le: math.Inf(1), Count: 10}}
	near(t, "rank in +Inf bucket", inf.Quantile(0.99), 100, 0)
	if v := (Histogram{{Le: 100, Count: 0}, {Le: math.Inf(1), Count: 0}}).Quantile(0.99); !math.IsNaN(v) {
		t.Errorf("empty histogram quantile = %g, want NaN", v)
	}
	if v := (Histogram{{Le: 100, Count: 5}}).Quantile(0.5); !math.IsNaN(v) {
		t.Errorf("histogram without +Inf quantile = %g, want NaN", v)
	}
}

func TestHistogramAboveAndAdd(t *testing.T) {
	h := Histogram{{Le: 100, Count: 90}, {Le: math.Inf(1), Count: 100}}
	if n, ok := h.Above(100); !ok || n != 10 {
		t.Errorf("Above(100) = %g, %v; want 10, true", n, ok)
	}
	if _, ok := h.Above(250); ok {
		t.Errorf("Above(250) found a bucket that does not exist")
	}
	s := h.Add(Histogram{{Le: math.Inf(1), Count: 5}, {Le: 100, Count: 5}})
	if s.Total() != 105 || s[0].Count != 95 {
		t.Errorf("Add = %v", s)
	}
}

// lognormalHistogram returns the expected Istio histogram of n requests with
// lognormal latency (median ms, sigma).
func lognormalHistogram(n, median, sigma float64) Histogram {
	var h Histogram
	for _, le := range IstioBuckets {
		z := (math.Log(le) - math.Log(median)) / sigma
		h = append(h, Bucket{Le: le, Count: n * 0.5 * math.Erfc(-z/math.Sqrt2)})
	}
	return append(h, Bucket{Le: math.Inf(1), Count: n})
}

func TestChooseBounds(t *testing.T) {
	tests := []struct {
		name string
		h    Histogram
		want []float64
	}{
		// Exceedances: 10ms 98.9%, 25ms 78%, 50ms 35%, 100ms 6.3%, 250ms
		// 0.11% (5ms: 99.97%, out). p90 = 40*exp(1.2816*0.6) = 86ms -> 100,
		// p99 = 162ms -> 250.
		{name: "lognormal 40ms", h: lognormalHistogram(1e6, 40, 0.6), want: []float64{10, 25, 50, 100, 250}},
		// Coarse buckets for this service: stable median 120ms, sigma 0.15;
		// 100ms is exceeded by 89%, 250ms by 0.0006%: p90 and p99 alone
		// would give {250, 500}.
		{name: "coarse buckets", h: lognormalHistogram(1e6, 120, 0.15), want: []float64{100, 250, 500}},
		// Both quantiles in one bucket: the second moves up one.
		{name: "one bucket", h: Histogram{{Le: 10, Count: 0}, {Le: 25, Count: 1000}, {Le: 50, Count: 1000}, {Le: math.Inf(1), Count: 1000}}, want: []float64{25, 50}},
		{name: "empty", h: Histogram{{Le: 10, Count: 0}, {Le: math.Inf(1), Count: 0}}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ChooseBounds(tt.h); !slices.Equal(got, tt.want) {
				t.Errorf("ChooseBounds = %v, want %v", got, tt.want)
			}
		})
	}
}
