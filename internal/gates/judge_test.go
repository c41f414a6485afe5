package gates

import (
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// tiles builds stage tiles of 5 minutes from (canary requests, canary
// errors, stable requests, stable errors) per tile.
func tiles(counts ...[4]float64) TileSet {
	var ts TileSet
	for i, c := range counts {
		start := epoch.Add(time.Duration(i) * 5 * time.Minute)
		ts.Tiles = append(ts.Tiles, Tile{
			Start: start, End: start.Add(5 * time.Minute),
			Requests: Counts{Canary: c[0], Stable: c[2]}, Errors: Counts{Canary: c[1], Stable: c[3]},
		})
	}
	return ts
}

func TestTriggerIgnoresSharedIncidents(t *testing.T) {
	c := testCanary()
	c.Spec.Analysis.RollbackOn = []spec.Gate{{Name: "errors-critical", Type: spec.GateErrorRate, Max: spec.Q("5%")}}
	st := Stage{Weight: 10, Start: epoch, Now: epoch.Add(15 * time.Minute)}

	t.Run("both versions at 10%: not the canary's fault", func(t *testing.T) {
		obs := &Observations{StageTiles: tiles([4]float64{600, 5, 5400, 40}, [4]float64{600, 60, 5400, 540}, [4]float64{600, 4, 5400, 45})}
		obs.CanaryTiles = obs.StageTiles
		r := Judge(c, st, obs, Options{})
		if r.Rollback {
			t.Fatalf("rolled back on a shared outage: %v", r.RollbackReasons)
		}
		if got := r.RollbackOn[0].Message; !strings.Contains(got, "shared incident") {
			t.Errorf("trigger message %q does not say why it did not fire", got)
		}
	})
	t.Run("canary alone at 10%: roll back", func(t *testing.T) {
		obs := &Observations{StageTiles: tiles([4]float64{600, 5, 5400, 40}, [4]float64{600, 60, 5400, 45})}
		obs.CanaryTiles = obs.StageTiles
		r := Judge(c, st, obs, Options{})
		if !r.Rollback || !strings.Contains(strings.Join(r.RollbackReasons, " "), "errors-critical") {
			t.Fatalf("no rollback on a canary-only breach: %v", r.RollbackReasons)
		}
	})
}

func TestChecksNeedVolume(t *testing.T) {
	c := testCanary(spec.Gate{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("1%")})
	c.Spec.Analysis.Threshold = 2
	c.Spec.Analysis.MinRequests = 0
	st := Stage{Weight: 5, Start: epoch, Now: epoch.Add(30 * time.Minute)}

	// One error in 10 requests, tile after tile: 10% on paper, noise in fact.
	quiet := tiles([4]float64{10, 1, 190, 0}, [4]float64{10, 1, 190, 1}, [4]float64{10, 1, 190, 0})
	r := Judge(c, st, &Observations{StageTiles: quiet, CanaryTiles: quiet}, Options{})
	if r.Rollback {
		t.Fatalf("rolled back on tiles of 10 requests: %v", r.RollbackReasons)
	}
	if r.Gates[0].Checks != 0 {
		t.Errorf("%d checks counted on low-volume tiles, want 0", r.Gates[0].Checks)
	}

	// The same rate over enough requests fails its checks and rolls back.
	busy := tiles([4]float64{1000, 100, 19000, 10}, [4]float64{1000, 100, 19000, 12})
	r = Judge(c, st, &Observations{StageTiles: busy, CanaryTiles: busy}, Options{})
	if !r.Rollback || r.Gates[0].FailedChecks != 2 {
		t.Fatalf("rollback %v after %d failed checks, want a rollback after 2", r.Rollback, r.Gates[0].FailedChecks)
	}
}

// Both versions sit at the limit; sampling noise puts the canary's 600
// requests just over it and stable's 5,400 just under. That is no reason to
// roll back.
func TestTriggerToleratesNoiseAtTheLimit(t *testing.T) {
	c := testCanary()
	c.Spec.Analysis.RollbackOn = []spec.Gate{{Name: "success-critical", Type: spec.GateSuccessRate, Min: spec.Q("0.90")}}
	st := Stage{Weight: 10, Start: epoch, Now: epoch.Add(5 * time.Minute)}
	obs := &Observations{StageTiles: tiles([4]float64{600, 64, 5400, 535})}
	if r := Judge(c, st, obs, Options{}); r.Rollback {
		t.Fatalf("rolled back on noise: %v", r.RollbackReasons)
	}
	// Clearly worse than stable: roll back.
	obs = &Observations{StageTiles: tiles([4]float64{600, 90, 5400, 300})}
	if r := Judge(c, st, obs, Options{}); !r.Rollback {
		t.Fatal("no rollback for a canary failing 15% against stable's 5.6%")
	}
}

// TestAbsoluteGateCountsOnlyWhenWorseThanStable: a service whose baseline
// error rate sits at an absolute limit fails about half of its checks by
// chance; those checks must not roll back a canary that is no worse than
// stable, while a canary clearly worse still is.
func TestAbsoluteGateCountsOnlyWhenWorseThanStable(t *testing.T) {
	c := testCanary(spec.Gate{Name: "error-rate", Type: spec.GateErrorRate, Max: spec.Q("0.01")})
	c.Spec.Analysis.Threshold = 5
	st := Stage{Weight: 10, Start: epoch, Now: epoch.Add(30 * time.Minute)}
	var healthy, worse [][4]float64
	for range 6 {
		healthy = append(healthy, [4]float64{1000, 12, 9000, 81}) // 1.2% vs 0.9%
		worse = append(worse, [4]float64{1000, 40, 9000, 81})     // 4% vs 0.9%
	}
	obs := &Observations{StageTiles: tiles(healthy...)}
	obs.CanaryTiles = obs.StageTiles
	r := Judge(c, st, obs, Options{})
	if r.Rollback || r.Gates[0].FailedChecks != 0 {
		t.Errorf("canary as good as stable, stable just under the 1%% limit: rollback %v, %d failed checks (%v)", r.Rollback, r.Gates[0].FailedChecks, r.RollbackReasons)
	}
	obs = &Observations{StageTiles: tiles(worse...)}
	obs.CanaryTiles = obs.StageTiles
	if r := Judge(c, st, obs, Options{}); !r.Rollback {
		t.Errorf("canary at 4%% against stable's 0.9%%: no rollback (%d failed checks)", r.Gates[0].FailedChecks)
	}
}
