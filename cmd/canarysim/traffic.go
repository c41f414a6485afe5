package main

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
)

// Scenario is one row of the benchmark: how the canary differs from stable.
type Scenario struct {
	Name string
	// ErrorFactor multiplies the canary's error rate; LatencyFactor its
	// median latency.
	ErrorFactor, LatencyFactor float64
	// Outage raises both versions' error rate to OutageRate during
	// [OutageFrom, OutageTo).
	OutageRate           float64
	OutageFrom, OutageTo time.Duration
	// Diurnal makes load and the shared error rate vary over the day.
	Diurnal bool
	// Looks is the number of runs (one per tile); Promote allows promotion.
	Looks   int
	Promote bool
}

// Traffic model of the benchmark (docs/stats: "What the benchmark must show").
const (
	tile            = 5 * time.Minute
	stableErrorRate = 0.01
	latencyMedianMs = 40.0
	latencySigma    = 0.6
	// promoteAfter is the earliest run that may promote: the last step
	// (50%) has been observed for its 15-minute pause.
	promoteAfter = 30 * time.Minute
	standardLook = 24 // two hours of runs every 5 minutes
	aaLooks      = 288
)

// schedule is the canary's weight over time, identical for every policy so
// that every policy sees exactly the same traffic: 5% -> 10% -> 25% -> 50%,
// one step per 5-minute run, then 50% until the end.
var schedule = []struct {
	from   time.Duration
	weight int
}{{0, 5}, {5 * time.Minute, 10}, {10 * time.Minute, 25}, {15 * time.Minute, 50}}

func weightAt(t time.Duration) (weight int, stageStart time.Duration) {
	for _, s := range schedule {
		if t >= s.from {
			weight, stageStart = s.weight, s.from
		}
	}
	return weight, stageStart
}

var scenarios = []Scenario{
	{Name: "healthy", ErrorFactor: 1, LatencyFactor: 1, Looks: standardLook, Promote: true},
	{Name: "errors x1.5", ErrorFactor: 1.5, LatencyFactor: 1, Looks: standardLook, Promote: true},
	{Name: "errors x2", ErrorFactor: 2, LatencyFactor: 1, Looks: standardLook, Promote: true},
	{Name: "errors x5", ErrorFactor: 5, LatencyFactor: 1, Looks: standardLook, Promote: true},
	{Name: "latency x1.2", ErrorFactor: 1, LatencyFactor: 1.2, Looks: standardLook, Promote: true},
	{Name: "latency x1.5", ErrorFactor: 1, LatencyFactor: 1.5, Looks: standardLook, Promote: true},
	{Name: "shared outage", ErrorFactor: 1, LatencyFactor: 1, OutageRate: 0.10, OutageFrom: 10 * time.Minute, OutageTo: 20 * time.Minute, Looks: standardLook, Promote: true},
	{Name: "A/A, 288 looks", ErrorFactor: 1, LatencyFactor: 1, Diurnal: true, Looks: aaLooks, Promote: false},
}

// binEdges are the upper bounds of the latency bins: Istio's buckets, then
// +Inf.
var binEdges = append(append([]float64{}, gates.IstioBuckets...), math.Inf(1))

// binProbs returns the probability of each latency bin for a lognormal
// latency with the given median.
func binProbs(median float64) []float64 {
	cdf := func(x float64) float64 {
		if math.IsInf(x, 1) {
			return 1
		}
		return 0.5 * math.Erfc(-(math.Log(x)-math.Log(median))/(latencySigma*math.Sqrt2))
	}
	p := make([]float64, len(binEdges))
	prev := 0.0
	for i, e := range binEdges {
		c := cdf(e)
		p[i] = c - prev
		prev = c
	}
	return p
}

// versionTraffic draws one version's tile: requests arrive as a Poisson
// process, so the count of each (latency bin, error) cell is an independent
// Poisson variate. It returns requests, errors and the cumulative histogram
// Prometheus would report.
func versionTraffic(rng *rand.Rand, mean, errRate float64, bins []float64) (n, y float64, h gates.Histogram) {
	h = make(gates.Histogram, len(binEdges))
	cum := 0.0
	for i, p := range bins {
		ok := poisson(rng, mean*p*(1-errRate))
		bad := poisson(rng, mean*p*errRate)
		cum += ok + bad
		y += bad
		h[i] = gates.Bucket{Le: binEdges[i], Count: cum}
	}
	return cum, y, h
}

// Traffic is one replicate's synthetic tiles, shared by every policy.
type Traffic struct {
	Baseline gates.Histogram // stable, the hour before the canary
	Tiles    []gates.Tile
	// cumulative are the naive z-test's running totals (see cumulate).
	cumulative [][]gates.Pair
}

// generate draws a replicate of scenario sc at rps requests per second.
func generate(rng *rand.Rand, sc Scenario, rps float64, start time.Time) Traffic {
	stableBins := binProbs(latencyMedianMs)
	canaryBins := binProbs(latencyMedianMs * sc.LatencyFactor)
	var tr Traffic
	_, _, tr.Baseline = versionTraffic(rng, rps*3600, stableErrorRate, stableBins)
	for k := range sc.Looks {
		t0 := time.Duration(k) * tile
		w, _ := weightAt(t0)
		load, errRate := 1.0, stableErrorRate
		if sc.Diurnal {
			phase := 2 * math.Pi * float64(t0) / float64(24*time.Hour)
			load = 1 + 0.6*math.Sin(phase)
			errRate = stableErrorRate * (1 + 0.8*math.Sin(3*phase+1))
		}
		canaryErr := math.Min(1, errRate*sc.ErrorFactor)
		if sc.OutageRate > 0 && t0 >= sc.OutageFrom && t0 < sc.OutageTo {
			errRate, canaryErr = sc.OutageRate, sc.OutageRate
		}
		total := rps * tile.Seconds() * load
		nc, yc, hc := versionTraffic(rng, total*float64(w)/100, canaryErr, canaryBins)
		ns, ys, hs := versionTraffic(rng, total*float64(100-w)/100, errRate, stableBins)
		tr.Tiles = append(tr.Tiles, gates.Tile{
			Start: start.Add(t0), End: start.Add(t0 + tile),
			Requests: gates.Counts{Canary: nc, Stable: ns}, Errors: gates.Counts{Canary: yc, Stable: ys},
			CanaryLatency: hc, StableLatency: hs,
		})
	}
	tr.cumulative = cumulate(tr)
	return tr
}

// poisson draws a Poisson variate: multiplication of uniforms for small
// means, Hörmann's transformed rejection (PTRS) for large ones.
func poisson(rng *rand.Rand, lam float64) float64 {
	if lam <= 0 {
		return 0
	}
	if lam < 10 {
		l, k, p := math.Exp(-lam), 0.0, 1.0
		for {
			p *= rng.Float64()
			if p <= l {
				return k
			}
			k++
		}
	}
	slam, loglam := math.Sqrt(lam), math.Log(lam)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invAlpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := rng.Float64() - 0.5
		v := rng.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lam + 0.43)
		if us >= 0.07 && v <= vr {
			return k
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invAlpha)-math.Log(a/(us*us)+b) <= -lam+k*loglam-lg {
			return k
		}
	}
}
