package gates

import (
	"math"
	"slices"
)

// Bucket is one cumulative histogram bucket: the number of observations less
// than or equal to Le.
type Bucket struct {
	Le    float64
	Count float64
}

// Histogram is a classic Prometheus histogram: cumulative buckets sorted by
// Le, the last one +Inf.
type Histogram []Bucket

// IstioBuckets are the default bucket bounds of Istio's
// istio_request_duration_milliseconds histogram, in milliseconds.
var IstioBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// sortedHistogram returns h sorted by Le with counts made monotonic, the way
// PromQL's histogram_quantile prepares buckets.
func sortedHistogram(h Histogram) Histogram {
	if isSorted(h) {
		return h
	}
	out := slices.Clone(h)
	slices.SortFunc(out, func(a, b Bucket) int {
		switch {
		case a.Le < b.Le:
			return -1
		case a.Le > b.Le:
			return 1
		}
		return 0
	})
	// Merge duplicate bounds and repair non-monotonic counts (which come from
	// scrapes at different times), as PromQL does.
	merged := out[:0]
	for _, b := range out {
		if n := len(merged); n > 0 && merged[n-1].Le == b.Le {
			merged[n-1].Count += b.Count
			continue
		}
		merged = append(merged, b)
	}
	for i := 1; i < len(merged); i++ {
		if merged[i].Count < merged[i-1].Count {
			merged[i].Count = merged[i-1].Count
		}
	}
	return merged
}

// isSorted reports whether h has strictly increasing bounds and monotonic
// counts already.
func isSorted(h Histogram) bool {
	for i := 1; i < len(h); i++ {
		if h[i].Le <= h[i-1].Le || h[i].Count < h[i-1].Count {
			return false
		}
	}
	return true
}

// Total returns the number of observations (the +Inf bucket), or 0 for an
// empty histogram.
func (h Histogram) Total() float64 {
	for _, b := range h {
		if math.IsInf(b.Le, 1) {
			return b.Count
		}
	}
	return 0
}

// Above returns the number of observations above the bound le (total minus
// the count of bucket le), and false if the histogram has no bucket le.
func (h Histogram) Above(le float64) (float64, bool) {
	for _, b := range h {
		if b.Le == le {
			return math.Max(0, h.Total()-b.Count), true
		}
	}
	return 0, false
}

// Add returns the bucket-wise sum of h and o.
func (h Histogram) Add(o Histogram) Histogram {
	switch {
	case len(o) == 0:
		return h
	case len(h) == 0:
		return slices.Clone(o)
	case sameBounds(h, o):
		out := slices.Clone(h)
		for i := range out {
			out[i].Count += o[i].Count
		}
		return out
	}
	out := slices.Clone(h)
	for _, b := range o {
		i := slices.IndexFunc(out, func(x Bucket) bool { return x.Le == b.Le })
		if i < 0 {
			out = append(out, b)
			continue
		}
		out[i].Count += b.Count
	}
	return sortedHistogram(out)
}

// Quantile returns the q-quantile of the histogram with the algorithm of
// PromQL's histogram_quantile over classic buckets: linear interpolation
// inside the bucket that holds the rank, the lower bound of the first bucket
// taken as 0, and the highest finite bound when the rank falls in the +Inf
// bucket. It returns NaN when the histogram has no observations or no +Inf
// bucket. Tests check it against the PromQL engine.
func (h Histogram) Quantile(q float64) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	}
	b := sortedHistogram(h)
	if len(b) < 2 || !math.IsInf(b[len(b)-1].Le, 1) {
		return math.NaN()
	}
	obs := b[len(b)-1].Count
	if obs == 0 || math.IsNaN(obs) {
		return math.NaN()
	}
	rank := q * obs
	i, _ := slices.BinarySearchFunc(b[:len(b)-1], rank, func(x Bucket, r float64) int {
		if x.Count < r {
			return -1
		}
		return 1
	})
	if i == len(b)-1 {
		return b[len(b)-2].Le
	}
	if i == 0 && b[0].Le <= 0 {
		return b[0].Le
	}
	start, end, count := 0.0, b[i].Le, b[i].Count
	if i > 0 {
		start = b[i-1].Le
		count -= b[i-1].Count
		rank -= b[i-1].Count
	}
	return start + (end-start)*(rank/count)
}

// addInPlace adds o to h, reusing h's storage unless shared (h is then
// copied first): for summing a run of tiles without a copy per tile.
func (h Histogram) addInPlace(o Histogram, shared bool) Histogram {
	switch {
	case len(o) == 0:
		return h
	case len(h) == 0:
		return slices.Clone(o)
	case shared || !sameBounds(h, o):
		return h.Add(o)
	}
	for i := range h {
		h[i].Count += o[i].Count
	}
	return h
}

func sameBounds(a, b Histogram) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Le != b[i].Le {
			return false
		}
	}
	return true
}

// Exceedance range of the bounds ChooseBounds picks: every bound that
// stable's requests exceed with a probability between these.
const (
	minExceedance = 0.005
	maxExceedance = 0.995
)

// ChooseBounds picks the bucket bounds at which the sequential test counts
// slow requests: every finite bound that stable's requests exceed with a
// probability between 0.5% and 99.5% (so a shift of the body of the
// distribution shows wherever the buckets are), and the smallest bounds at
// or above stable's 90th and 99th percentiles (so a tail shows even where
// the buckets are coarse). It returns them in increasing order, or nil when
// the histogram has no observations.
func ChooseBounds(stable Histogram) []float64 {
	b := sortedHistogram(stable)
	total := b.Total()
	if total <= 0 {
		return nil
	}
	var finite []float64
	for _, x := range b {
		if !math.IsInf(x.Le, 1) {
			finite = append(finite, x.Le)
		}
	}
	if len(finite) == 0 {
		return nil
	}
	var out []float64
	for _, x := range b {
		if math.IsInf(x.Le, 1) {
			continue
		}
		if ex := 1 - x.Count/total; ex >= minExceedance && ex <= maxExceedance {
			out = append(out, x.Le)
		}
	}
	prev := math.Inf(-1)
	for _, q := range []float64{0.90, 0.99} {
		v := b.Quantile(q)
		i := slices.IndexFunc(finite, func(le float64) bool { return le >= v })
		if i < 0 {
			i = len(finite) - 1
		}
		for i < len(finite)-1 && finite[i] <= prev {
			i++
		}
		if finite[i] <= prev {
			continue
		}
		prev = finite[i]
		if !slices.Contains(out, finite[i]) {
			out = append(out, finite[i])
		}
	}
	slices.Sort(out)
	return out
}
