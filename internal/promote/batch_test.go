package promote

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
)

// countingQuerier answers every query with no series, and counts the range
// queries (the gates' tiles) and the instant ones.
type countingQuerier struct {
	mu             sync.Mutex
	ranges, points int
}

func (q *countingQuerier) Query(_ context.Context, qq gates.Query) ([]gates.Series, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if qq.IsRange() {
		q.ranges++
	} else {
		q.points++
	}
	return nil, nil
}

// rangeQueriesOfAPass starts n canaries, then counts the range queries
// the next pass sends while they all progress.
func rangeQueriesOfAPass(t *testing.T, n int) (ranges int, pass *Pass) {
	t.Helper()
	ctx := context.Background()
	names := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}[:n]
	h := newHarness(t, exampleFiles(t, "direct", names...))
	h.run(ctx)
	h.now = h.now.Add(40 * time.Minute)
	q := &countingQuerier{}
	h.querier = q
	pass = h.run(ctx)
	for _, d := range pass.Decisions {
		if d.Phase != Waiting || d.Err != nil {
			t.Fatalf("%s: phase %s, error %v; want waiting for data, without error", d.Canary, d.Phase, d.Err)
		}
	}
	return q.ranges, pass
}

// One pass sends the same range queries to Prometheus (one per metric
// family) whether two or six canaries progress, and each canary is still
// judged: with no series in Prometheus it waits for data.
func TestPassBatchesGateQueries(t *testing.T) {
	two, _ := rangeQueriesOfAPass(t, 2)
	six, pass := rangeQueriesOfAPass(t, 6)
	if two != 3 || six != 3 {
		t.Errorf("range queries of one pass: %d with 2 canaries, %d with 6; want 3 for both (one per metric family)", two, six)
	}
	for _, d := range pass.Decisions {
		if d.Action != ActHold {
			t.Errorf("%s: action %s, want hold (no data is never a pass): %v", d.Canary, d.Action, d.Reasons)
		}
	}
}
