package gates

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) {
		t.Errorf("%s = %.6g, want %.6g (±%g)", name, got, want, tol)
	}
}

func TestLogLikRatioByHand(t *testing.T) {
	// l(2)-l(1) = 5*ln 2 - 15*(ln 1100 - ln 1000)
	p := Pair{NC: 100, NS: 900, YC: 5, YS: 10}
	want := 5*math.Ln2 - 15*math.Log(1.1)
	near(t, "l(2)-l(1)", p.logLikRatio(2, 1), want, 1e-12)
	near(t, "LogLik", LogLik([]Pair{p}, 2)-LogLik([]Pair{p}, 1), want, 1e-12)

	// The binomial form: yc*log(pi) + ys*log(1-pi) with pi = nc*r/(nc*r+ns).
	binom := func(r float64) float64 {
		pi := 100 * r / (100*r + 900)
		return 5*math.Log(pi) + 10*math.Log(1-pi)
	}
	near(t, "binomial form", p.logLikRatio(3, 0.5), binom(3)-binom(0.5), 1e-12)
}

func TestUninformativeTilesAddNothing(t *testing.T) {
	for name, p := range map[string]Pair{
		"no canary requests": {NC: 0, NS: 100, YC: 0, YS: 3},
		"no stable requests": {NC: 100, NS: 0, YC: 3, YS: 0},
		"no bad events":      {NC: 100, NS: 100},
	} {
		t.Run(name, func(t *testing.T) {
			e := LogGrid(1.05, 20, 20).EProcess([]Pair{p, p}, 1)
			for k, v := range e {
				if v != 0 {
					t.Errorf("log E after tile %d = %g, want 0 (E = 1)", k, v)
				}
			}
		})
	}
}

func TestEProcessByHand(t *testing.T) {
	tiles := []Pair{{NC: 100, NS: 900, YC: 5, YS: 10}, {NC: 500, NS: 500, YC: 8, YS: 2}}
	m := Mixture{R: []float64{2, 4}, logW: []float64{math.Log(0.25), math.Log(0.75)}}
	l := func(k int, r float64) float64 { return LogLik(tiles[:k], r) - LogLik(tiles[:k], 1) }
	for k := 1; k <= 2; k++ {
		want := math.Log(0.25*math.Exp(l(k, 2)) + 0.75*math.Exp(l(k, 4)))
		near(t, "log E", m.EProcess(tiles, 1)[k-1], want, 1e-12)
	}
	// Tile 2 by hand: 8*ln2 - 10*(ln 1500 - ln 1000) at r=2.
	near(t, "tile 2 alone at r=2", tiles[1].logLikRatio(2, 1), 8*math.Ln2-10*math.Log(1.5), 1e-12)
}

func TestLogGrid(t *testing.T) {
	m := LogGrid(1.05, 20, 20)
	near(t, "first", m.R[0], 1.05, 1e-12)
	near(t, "last", m.R[19], 20, 1e-9)
	near(t, "log spacing", math.Log(m.R[1]/m.R[0]), math.Log(20/1.05)/19, 1e-12)
	var w float64
	for _, lw := range m.logW {
		w += math.Exp(lw)
	}
	near(t, "weights sum", w, 1, 1e-12)
}

func TestConfidenceInterval(t *testing.T) {
	tests := []struct {
		name       string
		tiles      []Pair
		contains   []float64
		excludes   []float64
		symmetric  bool
		unbounded  bool
		upperBelow float64
	}{
		{name: "equal rates", tiles: []Pair{{NC: 1000, NS: 1000, YC: 50, YS: 50}}, contains: []float64{1}, excludes: []float64{0.5, 2}, symmetric: true},
		{name: "canary 3x worse", tiles: []Pair{{NC: 1000, NS: 1000, YC: 150, YS: 50}}, contains: []float64{3}, excludes: []float64{1, 6}},
		{name: "no data", tiles: []Pair{{NC: 10, NS: 10}}, contains: []float64{1e-4, 1, 1e4}, unbounded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iv := ConfidenceInterval(tt.tiles, ciMixture(), 0.05)
			for _, r := range tt.contains {
				if r < iv.Lo || r > iv.Hi {
					t.Errorf("CI %v does not contain %g", iv, r)
				}
			}
			for _, r := range tt.excludes {
				if r >= iv.Lo && r <= iv.Hi {
					t.Errorf("CI %v contains %g", iv, r)
				}
			}
			if tt.symmetric {
				near(t, "Lo*Hi", iv.Lo*iv.Hi, 1, 1e-6)
			}
			if tt.unbounded != math.IsInf(iv.Hi, 1) {
				t.Errorf("CI %v: unbounded = %v, want %v", iv, !tt.unbounded, tt.unbounded)
			}
			// The ends are where l crosses the threshold.
			if !tt.unbounded {
				llr := make([]float64, 41)
				m := ciMixture()
				for j, r := range m.R {
					llr[j] = LogLik(tt.tiles, r)
				}
				thr := math.Log(0.05) + m.logE(llr)
				near(t, "l(Lo)", LogLik(tt.tiles, iv.Lo), thr, 1e-6)
				near(t, "l(Hi)", LogLik(tt.tiles, iv.Hi), thr, 1e-6)
			}
		})
	}
}

func TestRateUpperBoundByHand(t *testing.T) {
	// y=0: M(p) = B(1, n+1) / (1-p)^n = 1 / ((n+1)(1-p)^n) < 1/alpha
	// => (1-p)^n > alpha/(n+1) => p < 1 - (alpha/(n+1))^(1/n) = 0.0098556
	n, alpha := 1000.0, 0.05
	want := 1 - math.Pow(alpha/(n+1), 1/n)
	near(t, "hand value", want, 0.0098556, 1e-6)
	near(t, "upper bound", RateUpperBound(0, n, alpha), want, 1e-9)
	if ub := RateUpperBound(10, 1000, 0.05); ub <= 0.01 || ub > 0.05 {
		t.Errorf("RateUpperBound(10, 1000) = %g, want in (0.01, 0.05]", ub)
	}
	if ub := RateUpperBound(0, 0, 0.05); ub != 1 {
		t.Errorf("RateUpperBound with no trials = %g, want 1", ub)
	}
}

// poisson draws a Poisson variate by Knuth's method (fine for small means).
func poisson(rng *rand.Rand, mean float64) float64 {
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// TestSequentialAA simulates canaries identical to stable with a shared,
// time-varying error rate and checks that the rollback rate over 288 looks
// stays below alpha, as Ville's inequality promises.
func TestSequentialAA(t *testing.T) {
	const sims, looks, alpha = 400, 288, 0.05
	rng := rand.New(rand.NewPCG(1, 2))
	rejected := 0
	for range sims {
		tiles := make([]Pair, looks)
		for k := range tiles {
			rate := 0.01 * (1 + 0.8*math.Sin(2*math.Pi*float64(k)/looks))
			nc, ns := poisson(rng, 150), poisson(rng, 600)
			tiles[k] = Pair{NC: nc, NS: ns, YC: poisson(rng, nc*rate), YS: poisson(rng, ns*rate)}
		}
		res := RunSequential(SequentialConfig{Alpha: alpha}, tiles, nil, nil)
		if res.Reject {
			rejected++
		}
		if res.PValue <= alpha != res.Reject {
			t.Fatalf("p-value %g inconsistent with reject=%v", res.PValue, res.Reject)
		}
	}
	// E[rejections] <= 0.05*400/2 = 10 for the error family alone at alpha/2;
	// 25 is far above what a valid test produces and far below a naive one.
	if rejected > 25 {
		t.Errorf("A/A: %d of %d canaries rolled back over %d looks, want <= 25 (alpha %g)", rejected, sims, looks, alpha)
	}
	t.Logf("A/A: %d/%d rejected", rejected, sims)
}

func TestSequentialDetectsRegression(t *testing.T) {
	tests := []struct {
		name                string
		ratio               float64
		wantReject          bool
		wantCIContainsRatio bool
	}{
		{name: "x5 errors", ratio: 5, wantReject: true, wantCIContainsRatio: true},
		{name: "x2 errors", ratio: 2, wantReject: true, wantCIContainsRatio: true},
		{name: "healthy", ratio: 1, wantReject: false, wantCIContainsRatio: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Expected counts, no noise: 12 tiles of 1000 canary and 1000
			// stable requests at a 1% stable error rate.
			tiles := make([]Pair, 12)
			for k := range tiles {
				tiles[k] = Pair{NC: 1000, NS: 1000, YC: 10 * tt.ratio, YS: 10}
			}
			res := RunSequential(SequentialConfig{Alpha: 0.05}, tiles, nil, nil)
			if res.Reject != tt.wantReject {
				t.Errorf("reject = %v, want %v (p = %g)", res.Reject, tt.wantReject, res.PValue)
			}
			ci := res.Errors.CI
			if got := tt.ratio >= ci.Lo && tt.ratio <= ci.Hi; got != tt.wantCIContainsRatio {
				t.Errorf("CI %v contains %g = %v", ci, tt.ratio, got)
			}
		})
	}
}

func TestPromotionEvidence(t *testing.T) {
	tiles := make([]Pair, 12)
	for k := range tiles {
		tiles[k] = Pair{NC: 1000, NS: 1000, YC: 10, YS: 10}
	}
	res := RunSequential(SequentialConfig{Alpha: 0.05, Evidence: true}, tiles, nil, nil)
	if !res.Promote || res.PromoteTile < 0 {
		t.Fatalf("healthy canary with 120 errors each side: no promotion evidence (E' = %g)", math.Exp(res.Errors.PromoteLogE))
	}
	bad := make([]Pair, 12)
	for k := range bad {
		bad[k] = Pair{NC: 1000, NS: 1000, YC: 20, YS: 10}
	}
	if res := RunSequential(SequentialConfig{Alpha: 0.05, Evidence: true}, bad, nil, nil); res.Promote {
		t.Errorf("x2 canary promoted with evidence")
	}
	// Stable with almost no errors and a clean canary: the absolute bound
	// certifies it once enough requests were seen.
	clean := []Pair{{NC: 20000, NS: 20000, YC: 0, YS: 1}}
	if res := RunSequential(SequentialConfig{Alpha: 0.05, Evidence: true}, clean, nil, nil); !res.Promote {
		t.Errorf("clean canary with 20000 requests and no errors not promoted: %s", res.Holding)
	}
}

// TestFiveFoldErrorsInOneInterval: one interval at 10 requests/s with the
// canary at 5% weight (150 canary and 2850 stable requests) holding 7
// canary and 29 stable errors, a five-fold regression seen at its
// expected counts, is conclusive at once.
func TestFiveFoldErrorsInOneInterval(t *testing.T) {
	res := RunSequential(SequentialConfig{Alpha: 0.05}, []Pair{{NC: 150, NS: 2850, YC: 7, YS: 29}}, nil, nil)
	if !res.Reject {
		t.Errorf("not rolled back after one interval of 7 of 150 canary errors against 29 of 2850 (p = %.3g)", res.PValue)
	}
}

// TestLatencyPromotionAtABoundStableNeverExceeds: with coarse buckets
// stable almost never exceeds the bounds above its body (250ms and 500ms
// for a 120ms median), so no ratio can be shown there; a canary that never
// exceeds them either is promoted once its own rate there is shown below
// the absolute allowance, and one that exceeds them often is not.
func TestLatencyPromotionAtABoundStableNeverExceeds(t *testing.T) {
	const n = 24
	errs := make([]Pair, n)
	body := make([]Pair, n)
	never := make([]Pair, n)
	slow := make([]Pair, n)
	for k := range n {
		errs[k] = Pair{NC: 1000, NS: 1000, YC: 10, YS: 10}
		body[k] = Pair{NC: 1000, NS: 1000, YC: 890, YS: 890}
		never[k] = Pair{NC: 1000, NS: 1000}
		slow[k] = Pair{NC: 1000, NS: 1000, YC: 30}
	}
	cfg := SequentialConfig{Alpha: 0.05, Evidence: true}
	bounds := []float64{100, 250, 500}
	res := RunSequential(cfg, errs, bounds, [][]Pair{body, never, never})
	if !res.Promote {
		t.Errorf("healthy canary with no request above 250ms in %d not promoted: %s", n*1000, res.Holding)
	}
	// The same traffic, but 3% of the canary's requests above 250ms: far
	// above the allowance (0.1%); not promoted.
	res = RunSequential(cfg, errs, bounds, [][]Pair{body, slow, never})
	if res.Promote {
		t.Errorf("canary with 3%% of its requests above 250ms (stable: none) promoted")
	}
	if a := absoluteAllowed(cfg.withDefaults(), res.Latency[1]); a {
		t.Errorf("3%% of the canary's requests above 250ms shown below the 0.1%% allowance")
	}
	// Too few requests to show the allowance: holds.
	res = RunSequential(cfg, errs[:2], bounds, [][]Pair{body[:2], never[:2], never[:2]})
	if res.Promote {
		t.Errorf("promoted after 2000 canary requests: the absolute allowance of 0.1%% cannot be shown yet")
	}
}

// TestPromotionRoutesSplitAlpha: a family may promote by the ratio route or
// by the absolute route, and which it can take depends on stable's count,
// so each is judged at alpha/2. Evidence that is enough at alpha but not at
// alpha/2 does not promote, by either route.
func TestPromotionRoutesSplitAlpha(t *testing.T) {
	const alpha = 0.05
	cfg := SequentialConfig{Alpha: alpha, Evidence: true}
	if got := cfg.withDefaults().routeAlpha(); got != alpha/2 {
		t.Fatalf("each promotion route judged at %g, want alpha/2 = %g", got, alpha/2)
	}

	// Ratio route: a healthy canary with stable well above minStableBad
	// errors (the absolute route is closed). Find the first look at which
	// the promotion e-value is between 1/alpha and 2/alpha.
	tile := Pair{NC: 100, NS: 100, YC: 3, YS: 3}
	var errs []Pair
	k := -1
	for n := 1; n <= 200 && k < 0; n++ {
		errs = append(errs, tile)
		res := RunSequential(cfg, errs, nil, nil)
		if e := res.Errors.PromoteLogE; e >= math.Log(1/alpha) && e < math.Log(2/alpha) {
			k = n
		}
	}
	if k < 0 {
		t.Fatal("no look with a promotion e-value between 1/alpha and 2/alpha")
	}
	if res := RunSequential(cfg, errs[:k], nil, nil); res.Promote {
		t.Errorf("promoted by the ratio route at E' = %.3g, below 2/alpha = %g", math.Exp(res.Errors.PromoteLogE), 2/alpha)
	}
	for n := k + 1; ; n++ {
		errs = append(errs, tile)
		res := RunSequential(cfg, errs, nil, nil)
		if res.Errors.PromoteLogE >= math.Log(2/alpha) {
			if !res.Promote {
				t.Errorf("not promoted at E' = %.3g >= 2/alpha: %s", math.Exp(res.Errors.PromoteLogE), res.Holding)
			}
			break
		}
		if n > 400 {
			t.Fatal("promotion e-value never reached 2/alpha")
		}
	}

	// Absolute route: a latency bound neither version ever exceeds. Find a
	// canary request count whose upper rate bound is below the allowance
	// at alpha but not at alpha/2.
	req := 0.0
	for n := 100.0; n < 1e6; n += 100 {
		if RateUpperBound(0, n, alpha) <= absoluteAllowance && RateUpperBound(0, n, alpha/2) > absoluteAllowance {
			req = n
			break
		}
	}
	if req == 0 {
		t.Fatal("no request count between the two levels' requirements")
	}
	never := Pair{NC: req / 4, NS: req / 4}
	good := Pair{NC: req / 4, NS: req / 4, YC: 50, YS: 50}
	errs = []Pair{good, good, good, good}
	slow := [][]Pair{{never, never, never, never}}
	res := RunSequential(cfg, errs, []float64{500}, slow)
	if res.Promote {
		t.Errorf("promoted by the absolute route after %g canary requests, none slow: enough at alpha, not at alpha/2", req)
	}
	more := Pair{NC: 4 * req, NS: 4 * req, YC: 200, YS: 200}
	never = Pair{NC: 4 * req, NS: 4 * req}
	res = RunSequential(cfg, append(errs, more, more), []float64{500}, [][]Pair{append(slow[0], never, never)})
	if !res.Promote {
		t.Errorf("not promoted after %g canary requests, none slow: %s", 12*req, res.Holding)
	}
}
