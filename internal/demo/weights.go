package demo

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/spec"
)

// weights is what the mesh applies: each canary's committed weight over
// time, taking effect a sync delay after it landed, as Argo CD or Flux would
// apply it.
type weights struct {
	mu    sync.Mutex
	delay time.Duration
	// changes holds, per canary, the weight changes in time order.
	changes map[string][]change
}

type change struct {
	at     time.Time
	weight int
}

func newWeights(delay time.Duration) *weights {
	return &weights{delay: delay, changes: map[string][]change{}}
}

// record reads the committed weights at the tip after a run at now.
func (w *weights) record(ctx context.Context, r *gitops.Repo, canaries []*spec.Canary, now time.Time) error {
	ws, err := weightsAt(ctx, r, canaries)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, weight := range ws {
		cs := w.changes[name]
		if len(cs) == 0 || cs[len(cs)-1].weight != weight {
			w.changes[name] = append(cs, change{at: now.Add(w.delay), weight: weight})
		}
	}
	return nil
}

// at returns the canary weight the mesh applies to service name at t.
func (w *weights) at(name string, t time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	cs := w.changes[name]
	i := sort.Search(len(cs), func(i int) bool { return cs[i].at.After(t) })
	if i == 0 {
		return 0
	}
	return cs[i-1].weight
}
