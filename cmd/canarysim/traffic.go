package main

import (
	"math"
	"math/rand/v2"
	"slices"
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
	// Session is the number of requests of a session, which share one
	// outcome (error and latency) and one pod: 0 or 1 is Poisson traffic.
	Session int
	// ColdStart makes 20% of the canary's requests 3x slower in the tile
	// after its start and after each weight change.
	ColdStart bool
	// Bursts gives every pod of both versions, in 2% of its tiles, a
	// minute of 50% errors.
	Bursts bool
	// HeaderRoute sends 1% of all traffic to the canary by a header route;
	// that segment's error rate is 3x the service's, whichever version
	// serves it.
	HeaderRoute bool
	// StableDegrades raises stable's error rate from 1% by one percentage
	// point an hour while the canary runs; the canary's stays at 1%.
	StableDegrades bool
	// FixedWeight keeps the canary at this weight (percent) throughout.
	FixedWeight int
	// Median and Sigma override the latency distribution (coarse buckets).
	Median, Sigma float64
	// Looks is the number of runs (one per tile); Promote allows promotion.
	Looks   int
	Promote bool
	// Null says the canary is no worse than stable: any rollback is false.
	Null bool
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
	// stablePods and canaryPods serve each version's requests.
	stablePods = 10
	canaryPods = 1
	// lag is analysis.lag: each run happens this long after a tile ends.
	lag = time.Minute
)

// schedule is the canary's weight over time, identical for every policy
// that follows a schedule (all but Flagger-style, which advances only
// after a passing check): 5% -> 10% -> 25% -> 50%, one step per 5-minute
// run, then 50% until the end.
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

// changesUntil returns the weight changes after the start up to t.
func (sc Scenario) changesUntil(start time.Time, t time.Duration) []time.Time {
	if sc.FixedWeight > 0 {
		return nil
	}
	var out []time.Time
	for _, s := range schedule[1:] {
		if s.from <= t {
			out = append(out, start.Add(s.from))
		}
	}
	return out
}

// weight is the scenario's weight at t on the shared schedule.
func (sc Scenario) weight(t time.Duration) (int, time.Duration) {
	if sc.FixedWeight > 0 {
		return sc.FixedWeight, 0
	}
	return weightAt(t)
}

var scenarios = []Scenario{
	{Name: "healthy", ErrorFactor: 1, LatencyFactor: 1, Looks: standardLook, Promote: true, Null: true},
	{Name: "errors x1.5", ErrorFactor: 1.5, LatencyFactor: 1, Looks: standardLook, Promote: true},
	{Name: "errors x2", ErrorFactor: 2, LatencyFactor: 1, Looks: standardLook, Promote: true},
	{Name: "errors x5", ErrorFactor: 5, LatencyFactor: 1, Looks: standardLook, Promote: true},
	{Name: "latency x1.2", ErrorFactor: 1, LatencyFactor: 1.2, Looks: standardLook, Promote: true},
	{Name: "latency x1.5", ErrorFactor: 1, LatencyFactor: 1.5, Looks: standardLook, Promote: true},
	{Name: "latency x2", ErrorFactor: 1, LatencyFactor: 2, Looks: standardLook, Promote: true},
	{Name: "shared outage", ErrorFactor: 1, LatencyFactor: 1, OutageRate: 0.10, OutageFrom: 10 * time.Minute, OutageTo: 20 * time.Minute, Looks: standardLook, Promote: true, Null: true},
	{Name: "A/A, 288 looks", ErrorFactor: 1, LatencyFactor: 1, Diurnal: true, Looks: aaLooks, Null: true},
	{Name: "overdispersed D=2", ErrorFactor: 1, LatencyFactor: 1, Session: 2, Looks: standardLook, Promote: true, Null: true},
	{Name: "overdispersed D=3", ErrorFactor: 1, LatencyFactor: 1, Session: 3, Looks: standardLook, Promote: true, Null: true},
	{Name: "overdispersed D=5", ErrorFactor: 1, LatencyFactor: 1, Session: 5, Looks: standardLook, Promote: true, Null: true},
	{Name: "A/A D=5, 288 looks", ErrorFactor: 1, LatencyFactor: 1, Session: 5, Diurnal: true, Looks: aaLooks, Null: true},
	{Name: "errors x1.5, D=2", ErrorFactor: 1.5, LatencyFactor: 1, Session: 2, Looks: standardLook, Promote: true},
	{Name: "cold start", ErrorFactor: 1, LatencyFactor: 1, ColdStart: true, Looks: standardLook, Promote: true, Null: true},
	{Name: "bad-pod bursts", ErrorFactor: 1, LatencyFactor: 1, Bursts: true, Looks: standardLook, Promote: true, Null: true},
	{Name: "header-route segment, 288 looks", ErrorFactor: 1, LatencyFactor: 1, HeaderRoute: true, Looks: aaLooks},
	{Name: "stable degrading", ErrorFactor: 1, LatencyFactor: 1, StableDegrades: true, Looks: standardLook, Promote: true, Null: true},
	{Name: "healthy, 1% weight", ErrorFactor: 1, LatencyFactor: 1, FixedWeight: 1, Looks: standardLook, Promote: true, Null: true},
	{Name: "errors x5, 1% weight", ErrorFactor: 5, LatencyFactor: 1, FixedWeight: 1, Looks: standardLook, Promote: true},
	{Name: "healthy, coarse buckets", ErrorFactor: 1, LatencyFactor: 1, Median: 120, Sigma: 0.15, Looks: standardLook, Promote: true, Null: true},
	{Name: "latency x1.2, coarse buckets", ErrorFactor: 1, LatencyFactor: 1.2, Median: 120, Sigma: 0.15, Looks: standardLook, Promote: true},
}

// binEdges are the upper bounds of the latency bins: Istio's buckets, then
// +Inf.
var binEdges = append(append([]float64{}, gates.IstioBuckets...), math.Inf(1))

// binProbs returns the probability of each latency bin for a lognormal
// latency with the given median and sigma.
func binProbs(median, sigma float64) []float64 {
	cdf := func(x float64) float64 {
		if math.IsInf(x, 1) {
			return 1
		}
		return 0.5 * math.Erfc(-(math.Log(x)-math.Log(median))/(sigma*math.Sqrt2))
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

// mix returns the bin probabilities of a mixture: a with weight wa, b with
// the rest.
func mix(a, b []float64, wa float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = wa*a[i] + (1-wa)*b[i]
	}
	return out
}

// podTraffic draws one pod's tile. Requests arrive as a Poisson process of
// sessions of d requests that share one outcome, so the count of each
// (latency bin, error) cell is d times an independent Poisson variate.
// A burst sends a fifth of the tile (one minute) at 50% errors.
func podTraffic(rng *rand.Rand, mean, errRate float64, bins []float64, d int, burst bool) (n, y float64, h gates.Histogram) {
	if d < 1 {
		d = 1
	}
	fd := float64(d)
	counts := make([]float64, len(bins))
	draw := func(mean, errRate float64) {
		for i, p := range bins {
			ok := fd * poisson(rng, mean*p*(1-errRate)/fd)
			bad := fd * poisson(rng, mean*p*errRate/fd)
			counts[i] += ok + bad
			y += bad
		}
	}
	if burst {
		draw(mean*0.8, errRate)
		draw(mean*0.2, 0.5)
	} else {
		draw(mean, errRate)
	}
	h = make(gates.Histogram, len(binEdges))
	cum := 0.0
	for i, c := range counts {
		cum += c
		h[i] = gates.Bucket{Le: binEdges[i], Count: cum}
	}
	return cum, y, h
}

// versionTraffic draws one version's tile over its pods (the mean split
// evenly) and returns the version's totals and, with perPod, each pod's.
func versionTraffic(rng *rand.Rand, sc Scenario, mean, errRate float64, bins []float64, pods int, perPod bool) (n, y float64, h gates.Histogram, byPod []gates.PodCounts) {
	for i := range pods {
		burst := sc.Bursts && rng.Float64() < 0.02
		pn, py, ph := podTraffic(rng, mean/float64(pods), errRate, bins, sc.Session, burst)
		n, y = n+pn, y+py
		if h == nil {
			h = slices.Clone(ph)
		} else {
			// Every histogram of the simulation has the bins of binEdges:
			// add bucket by bucket, in place, as Histogram.Add would.
			for i := range h {
				h[i].Count += ph[i].Count
			}
		}
		if perPod {
			byPod = append(byPod, gates.PodCounts{Pod: podName(i), Requests: pn, Errors: py, Latency: ph})
		}
	}
	return n, y, h, byPod
}

var podNames = func() []string {
	out := make([]string, stablePods)
	for i := range out {
		out[i] = string(rune('a' + i))
	}
	return out
}()

func podName(i int) string { return podNames[i] }

// Traffic is one replicate's synthetic tiles, shared by every policy that
// follows the schedule.
type Traffic struct {
	Baseline      gates.Histogram // stable, the hour before the canary
	BaselineTiles []gates.Tile    // the same hour, per tile and pod
	Tiles         []gates.Tile
	// cumulative are the naive z-test's running totals (see cumulate).
	cumulative [][]gates.Pair
}

// tileGen draws the tiles of one replicate.
type tileGen struct {
	sc                     Scenario
	rps                    float64
	stableBins, canaryBins []float64
	coldBins               []float64
}

func newTileGen(sc Scenario, rps float64) tileGen {
	median, sigma := latencyMedianMs, latencySigma
	if sc.Median > 0 {
		median, sigma = sc.Median, sc.Sigma
	}
	g := tileGen{sc: sc, rps: rps, stableBins: binProbs(median, sigma), canaryBins: binProbs(median*sc.LatencyFactor, sigma)}
	g.coldBins = mix(g.canaryBins, binProbs(3*median*sc.LatencyFactor, sigma), 0.8)
	return g
}

// tile draws tile k at weight w; cold says it is the tile after a weight
// change.
func (g tileGen) tile(rng *rand.Rand, start time.Time, k, w int, cold bool) gates.Tile {
	sc := g.sc
	t0 := time.Duration(k) * tile
	load, errRate := 1.0, stableErrorRate
	if sc.Diurnal {
		phase := 2 * math.Pi * float64(t0) / float64(24*time.Hour)
		load = 1 + 0.6*math.Sin(phase)
		errRate = stableErrorRate * (1 + 0.8*math.Sin(3*phase+1))
	}
	canaryErr := math.Min(1, errRate*sc.ErrorFactor)
	if sc.StableDegrades {
		errRate += 0.01 * t0.Hours()
	}
	if sc.OutageRate > 0 && t0 >= sc.OutageFrom && t0 < sc.OutageTo {
		errRate, canaryErr = sc.OutageRate, sc.OutageRate
	}
	total := g.rps * tile.Seconds() * load
	cbins := g.canaryBins
	if sc.ColdStart && cold {
		cbins = g.coldBins
	}
	share := float64(w) / 100
	nc, yc, hc, _ := versionTraffic(rng, sc, total*share, canaryErr, cbins, canaryPods, false)
	ns, ys, hs, pods := versionTraffic(rng, sc, total*(1-share), errRate, g.stableBins, stablePods, true)
	if sc.HeaderRoute {
		// The header-routed segment: 1% of all traffic, always to the
		// canary, at 3x the service's error rate.
		sn, sy, sh, _ := versionTraffic(rng, sc, total*0.01, math.Min(1, 3*errRate), cbins, canaryPods, false)
		nc, yc, hc = nc+sn, yc+sy, hc.Add(sh)
	}
	return gates.Tile{
		Start: start.Add(t0), End: start.Add(t0 + tile),
		Requests: gates.Counts{Canary: nc, Stable: ns}, Errors: gates.Counts{Canary: yc, Stable: ys},
		CanaryLatency: hc, StableLatency: hs, StablePods: pods,
	}
}

// baseline draws stable's hour before the canary, at full load.
func (g tileGen) baseline(rng *rand.Rand, start time.Time) ([]gates.Tile, gates.Histogram) {
	var tiles []gates.Tile
	var h gates.Histogram
	n := int(time.Hour / tile)
	for k := range n {
		t0 := start.Add(time.Duration(k-n) * tile)
		ns, ys, hs, pods := versionTraffic(rng, g.sc, g.rps*tile.Seconds(), stableErrorRate, g.stableBins, stablePods, true)
		tiles = append(tiles, gates.Tile{Start: t0, End: t0.Add(tile), Requests: gates.Counts{Stable: ns}, Errors: gates.Counts{Stable: ys}, StableLatency: hs, StablePods: pods})
		h = h.Add(hs)
	}
	return tiles, h
}

// coldAt says whether tile k follows the canary's start or a weight change
// on the shared schedule.
func (sc Scenario) coldAt(k int) bool {
	t0 := time.Duration(k) * tile
	if t0 == 0 {
		return true
	}
	if sc.FixedWeight > 0 {
		return false
	}
	for _, s := range schedule[1:] {
		if s.from == t0 {
			return true
		}
	}
	return false
}

// generate draws a replicate of scenario sc at rps requests per second.
func generate(rng *rand.Rand, sc Scenario, rps float64, start time.Time) Traffic {
	g := newTileGen(sc, rps)
	var tr Traffic
	tr.BaselineTiles, tr.Baseline = g.baseline(rng, start)
	for k := range sc.Looks {
		w, _ := sc.weight(time.Duration(k) * tile)
		tr.Tiles = append(tr.Tiles, g.tile(rng, start, k, w, sc.coldAt(k)))
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
