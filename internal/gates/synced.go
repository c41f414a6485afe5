package gates

import (
	"math"
	"time"
)

// Synced finds the first stage tile from which the canary's observed share
// of requests matches the committed weight (within tolerance percentage
// points plus binomial noise, as the traffic-share gate judges it), and
// drops the tiles before it from obs, so that judging starts once Argo CD
// or Flux and the mesh have applied the weight. It returns the start of that
// tile, or false when no tile matches yet (or the requests query failed).
// A tolerance of 0 means the traffic-share gate's default.
func Synced(obs *Observations, weight int, tolerance float64) (time.Time, bool) {
	if tolerance <= 0 {
		tolerance = defaultShareTolerance
	}
	ts := &obs.StageTiles
	if ts.Errs[FamilyRequests] != nil {
		return time.Time{}, false
	}
	w := float64(weight) / 100
	for i, t := range ts.Tiles {
		n := t.Requests.Canary + t.Requests.Stable
		if n <= 0 {
			continue
		}
		allowed := tolerance/100 + shareZ*math.Sqrt(w*(1-w)/n)
		if math.Abs(t.Requests.Canary/n-w) <= allowed {
			ts.Tiles = ts.Tiles[i:]
			return t.Start, true
		}
	}
	return time.Time{}, false
}
