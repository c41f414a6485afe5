package gates

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// The sequential gate's report states the threshold the test rolls back
// at: as the evidence against a canary 1.3 times as bad as stable grows tile by
// tile, the gate fails exactly when the error family's e-value reaches the
// threshold the report shows, and not before.
func TestSequentialReportShowsTheRejectionThreshold(t *testing.T) {
	c := testCanary(spec.Gate{Name: "regression", Type: spec.GateSequential, Alpha: 0.05})
	full := seqObservations()
	tile := full.CanaryTiles.Tiles[0]
	var below, above int
	for n := 1; n <= 40; n++ {
		obs := &Observations{Baseline: full.Baseline}
		for k := range n {
			tl := tile
			tl.Start = epoch.Add(time.Duration(k) * 5 * time.Minute)
			tl.End = tl.Start.Add(5 * time.Minute)
			tl.Errors = Counts{Canary: 13, Stable: 10} // 1.3x stable
			obs.CanaryTiles.Tiles = append(obs.CanaryTiles.Tiles, tl)
		}
		obs.StageTiles = obs.CanaryTiles
		st := Stage{Weight: 10, Start: epoch, Now: epoch.Add(time.Duration(n) * 5 * time.Minute)}
		g := seqGate(t, c, st, obs)
		var errThr, latThr float64
		if _, err := fmt.Sscanf(g.Threshold, "E < %g for errors, %g for latency", &errThr, &latThr); err != nil {
			t.Fatalf("threshold %q: %v", g.Threshold, err)
		}
		e := math.Exp(g.Sequential.Errors.MaxLogE)
		crossed := e >= errThr*(1+1e-9)
		if crossed != (g.Verdict == Fail && g.Sequential.RejectFamily == "errors") && !(e >= errThr*(1-1e-9) && e <= errThr*(1+1e-9)) {
			t.Fatalf("after %d tiles the errors' E is %.4g and the report says %q, but the verdict is %s (%s)", n, e, g.Threshold, g.Verdict, g.Message)
		}
		if crossed {
			above++
		} else {
			below++
		}
		if g.Verdict == Fail {
			break
		}
	}
	if below < 3 || above != 1 {
		t.Fatalf("the evidence did not grow through the threshold (%d looks below it, %d above): the test shows nothing", below, above)
	}
}
