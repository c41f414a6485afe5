package gates

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// TestLatencyPromotionNeedsEveryBound: promotion evidence must hold at each
// latency bound on its own. One bound with overwhelming evidence that the
// canary is fine must not make up for another at which it is 3x worse: the
// average of their promotion e-values is no e-value for "worse at some
// bound".
func TestLatencyPromotionNeedsEveryBound(t *testing.T) {
	const n = 12
	errs := make([]Pair, n)
	fine := make([]Pair, n)
	worse := make([]Pair, n)
	for k := range n {
		errs[k] = Pair{NC: 10000, NS: 10000, YC: 100, YS: 100}
		fine[k] = Pair{NC: 10000, NS: 10000, YC: 5000, YS: 5000}
		worse[k] = Pair{NC: 10000, NS: 10000, YC: 30, YS: 10}
	}
	cfg := SequentialConfig{Alpha: 0.05, Evidence: true}
	res := RunSequential(cfg, errs, []float64{50, 250}, [][]Pair{fine, worse})
	if res.Promote {
		t.Errorf("promoted although the canary is 3x worse above 250ms (E' there = %g)", math.Exp(res.Latency[1].PromoteLogE))
	}
	// With both bounds fine it promotes: the test is not just stuck.
	res = RunSequential(cfg, errs, []float64{50, 250}, [][]Pair{fine, fine})
	if !res.Promote {
		t.Errorf("healthy at both bounds, not promoted: %s", res.Holding)
	}
}

// seqObservations is a healthy canary's observations for the sequential
// gate: 6 tiles and stable's latency before the canary.
func seqObservations() *Observations {
	h := lognormalHistogram(1000, 40, 0.6)
	obs := &Observations{Baseline: lognormalHistogram(1e5, 40, 0.6)}
	for k := range 6 {
		s := epoch.Add(time.Duration(k) * 5 * time.Minute)
		obs.CanaryTiles.Tiles = append(obs.CanaryTiles.Tiles, Tile{
			Start: s, End: s.Add(5 * time.Minute),
			Requests: Counts{Canary: 1000, Stable: 1000}, Errors: Counts{Canary: 10, Stable: 10},
			CanaryLatency: h, StableLatency: h,
		})
	}
	obs.StageTiles = obs.CanaryTiles
	return obs
}

func seqGate(t *testing.T, c *spec.Canary, st Stage, obs *Observations) GateResult {
	t.Helper()
	r := Judge(c, st, obs, Options{})
	for _, g := range r.Gates {
		if g.Type == spec.GateSequential {
			return g
		}
	}
	t.Fatal("no sequential gate in the report")
	return GateResult{}
}

// TestBaselineQueryErrorHolds: when stable's history could not be read the
// gate is an Error (hold), never a pass on bounds chosen from whatever tile
// this run happens to see.
func TestBaselineQueryErrorHolds(t *testing.T) {
	c := testCanary(spec.Gate{Name: "regression", Type: spec.GateSequential})
	st := Stage{Weight: 10, Start: epoch, Now: epoch.Add(30 * time.Minute)}
	obs := seqObservations()
	if g := seqGate(t, c, st, obs); g.Verdict != Pass {
		t.Fatalf("healthy canary: %s (%s)", g.Verdict, g.Message)
	}
	obs.Baseline, obs.BaselineErr = nil, errors.New("connection refused")
	g := seqGate(t, c, st, obs)
	if g.Verdict != Error || !strings.Contains(g.Message, "connection refused") {
		t.Errorf("baseline query failed: verdict %s (%s), want error", g.Verdict, g.Message)
	}
	// Pinned bounds do not need the baseline any more.
	st.Pinned = &Pinned{Alpha: 0.05, Margin: 1, PromoteRatio: 2, Bounds: []float64{100, 250}}
	if g := seqGate(t, c, st, obs); g.Verdict != Pass {
		t.Errorf("pinned bounds, baseline failing: %s (%s), want pass", g.Verdict, g.Message)
	}
}

// TestMissingBucketIsInconclusive: a canary histogram without the chosen
// bound has not "zero slow requests" there.
func TestMissingBucketIsInconclusive(t *testing.T) {
	c := testCanary(spec.Gate{Name: "regression", Type: spec.GateSequential})
	st := Stage{Weight: 10, Start: epoch, Now: epoch.Add(30 * time.Minute)}
	obs := seqObservations()
	for k := range obs.CanaryTiles.Tiles {
		tl := &obs.CanaryTiles.Tiles[k]
		var h Histogram
		for _, b := range lognormalHistogram(1000, 40, 0.6) { // as stable, but without 250ms
			if b.Le != 250 {
				h = append(h, b)
			}
		}
		tl.CanaryLatency = h
	}
	g := seqGate(t, c, st, obs)
	if g.Verdict != Inconclusive || !strings.Contains(g.Message, "250ms") {
		t.Errorf("canary histogram lacks 250ms: %s (%s), want inconclusive naming the bound", g.Verdict, g.Message)
	}
}

// TestPinnedConfigWins: alpha and margin come from what was pinned at the
// canary's start, not from a spec edited since.
func TestPinnedConfigWins(t *testing.T) {
	obs := seqObservations()
	for k := range obs.CanaryTiles.Tiles {
		obs.CanaryTiles.Tiles[k].Errors.Canary = 25 // 2.5x stable
	}
	obs.StageTiles = obs.CanaryTiles
	st := Stage{Weight: 10, Start: epoch, Now: epoch.Add(30 * time.Minute)}
	edited := testCanary(spec.Gate{Name: "regression", Type: spec.GateSequential, Alpha: 0.05, Margin: 3})
	if g := seqGate(t, edited, st, obs); g.Verdict == Fail {
		t.Fatalf("margin 3 rolled back a 2.5x canary: %s", g.Message)
	}
	st.Pinned = &Pinned{Alpha: 0.05, Margin: 1, PromoteRatio: 2, Bounds: []float64{100, 250}}
	if g := seqGate(t, edited, st, obs); g.Verdict != Fail {
		t.Errorf("pinned margin 1, spec edited to 3: %s (%s), want the pinned test to roll back", g.Verdict, g.Message)
	}
}

// TestTilesEndBeforeLag: a tile that ended less than analysis.lag ago is not
// used yet; its counts may still grow.
func TestTilesEndBeforeLag(t *testing.T) {
	c := testCanary(spec.Gate{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("2%")})
	c.Spec.Analysis.Lag = spec.D(time.Minute)
	var ends []time.Time
	var mu sync.Mutex
	q := QuerierFunc(func(_ context.Context, qq Query) ([]Series, error) {
		mu.Lock()
		defer mu.Unlock()
		ends = append(ends, qq.End)
		return nil, nil
	})
	st := Stage{Weight: 10, Start: epoch, Now: epoch.Add(10*time.Minute + 30*time.Second)}
	obs, err := Observe(context.Background(), q, c, st)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(obs.StageTiles.Tiles); n != 1 {
		t.Errorf("%d tiles at 10m30s with a 1m lag, want 1 (the tile ending at 10m is not trusted yet)", n)
	}
	for _, e := range ends {
		if e.After(epoch.Add(5 * time.Minute)) {
			t.Errorf("a query reaches %s, past now - lag", e)
		}
	}
}

// TestWarmupLeavesLatencyOut: the tile after each weight change is left out
// of the latency rollback test, so a cold start does not roll back, but a
// latency regression that lasts still does, and errors are never left out.
func TestWarmupLeavesLatencyOut(t *testing.T) {
	c := testCanary(spec.Gate{Name: "regression", Type: spec.GateSequential})
	c.Spec.Analysis.Warmup = spec.D(5 * time.Minute)
	cold := lognormalHistogram(1000, 120, 0.6)
	warm := lognormalHistogram(1000, 40, 0.6)
	obs := seqObservations()
	for _, k := range []int{0, 3} { // the canary's start and a change at 15m
		obs.CanaryTiles.Tiles[k].CanaryLatency = cold
	}
	obs.StageTiles = obs.CanaryTiles
	st := Stage{Weight: 10, Start: epoch, CanaryStart: epoch, Now: epoch.Add(30 * time.Minute), Changes: []time.Time{epoch.Add(15 * time.Minute)}}
	if g := seqGate(t, c, st, obs); g.Verdict == Fail {
		t.Errorf("cold start after each change rolled back: %s", g.Message)
	}
	c.Spec.Analysis.Warmup = spec.D(0)
	if g := seqGate(t, c, st, obs); g.Verdict != Fail {
		t.Errorf("without a warm-up the slow tiles are evidence: %s (%s), want fail", g.Verdict, g.Message)
	}
	c.Spec.Analysis.Warmup = spec.D(5 * time.Minute)
	for k := range obs.CanaryTiles.Tiles {
		obs.CanaryTiles.Tiles[k].CanaryLatency = cold
	}
	if g := seqGate(t, c, st, obs); g.Verdict != Fail {
		t.Errorf("slow in every tile: %s (%s), want fail", g.Verdict, g.Message)
	}
	for k := range obs.CanaryTiles.Tiles {
		obs.CanaryTiles.Tiles[k].CanaryLatency = warm
	}
	obs.CanaryTiles.Tiles[0].Errors.Canary = 100 // x10 errors in the first tile
	if g := seqGate(t, c, st, obs); g.Verdict != Fail {
		t.Errorf("x10 errors in the warm-up: %s (%s), want fail", g.Verdict, g.Message)
	}
}

func TestPinnedRoundTrip(t *testing.T) {
	p := Pinned{Alpha: 0.05, Margin: 1.1, PromoteRatio: 2, Bounds: []float64{0.5, 25, 250}}
	got, err := ParsePinned(p.String())
	if err != nil || got.Alpha != p.Alpha || got.Margin != p.Margin || got.PromoteRatio != p.PromoteRatio || !slices.Equal(got.Bounds, p.Bounds) {
		t.Errorf("round trip of %q: %+v, %v", p.String(), got, err)
	}
	if got, err := ParsePinned("alpha=0.05 margin=1 promoteRatio=2 bounds="); err != nil || len(got.Bounds) != 0 {
		t.Errorf("no bounds: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "alpha=2 margin=1 promoteRatio=2 bounds=", "alpha=0.05 margin=1 bounds=10", "alpha=0.05 margin=1 promoteRatio=2 bounds=x", "alpha=0.05 margin=-1 promoteRatio=2 bounds="} {
		if _, err := ParsePinned(bad); err == nil {
			t.Errorf("ParsePinned(%q) accepted", bad)
		}
	}
}
