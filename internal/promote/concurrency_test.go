package promote

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// Four runs at once on one repository (eight with PROMOTER_TEST_FULL=1,
// as make test-full runs it): every due canary advances exactly once,
// nothing is lost, and no pull request branch is left behind. Each run
// that loses a race fetches and derives again, so the cost grows faster
// than the number of runs; four already race for each of the three
// canaries.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"direct", "auto-merge"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			names := []string{"alpha", "beta", "gamma"}
			h := newHarness(t, exampleFiles(t, mode, names...))
			// A human commit lands while the runs race.
			runs := 4
			if os.Getenv("PROMOTER_TEST_FULL") != "" {
				runs = 8
			}
			var wg sync.WaitGroup
			passes := make([]*Pass, runs)
			errs := make([]error, runs)
			for i := range runs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p, done := h.promoter(ctx, false)
					defer done()
					passes[i], errs[i] = p.Run(ctx, Selection{})
				}()
			}
			gittest.CommitFiles(t, h.bare, "main", "docs: a human edit during the runs", map[string]string{"README.md": "hello\n"})
			wg.Wait()

			started := map[string]int{}
			for i, pass := range passes {
				if errs[i] != nil {
					t.Fatalf("run %d: %v", i, errs[i])
				}
				for _, d := range pass.Decisions {
					if d.Err != nil {
						t.Errorf("run %d, %s: %v", i, d.Canary, d.Err)
					}
					if d.Landed {
						started[d.Canary]++
					}
				}
			}
			for _, n := range names {
				if started[n] != 1 {
					t.Errorf("%s advanced %d times across the runs, want exactly 1", n, started[n])
				}
			}
			subjects := h.subjects()
			for _, n := range names {
				want := fmt.Sprintf("canary(%s): 0%% -> 5%%", n)
				if got := countOf(subjects, want); got != 1 {
					t.Errorf("%q is on main %d times, want 1:\n%s", want, got, strings.Join(subjects, "\n"))
				}
			}
			if !slices.Contains(subjects, "docs: a human edit during the runs") {
				t.Errorf("the human commit was lost:\n%s", strings.Join(subjects, "\n"))
			}
			if branches := strings.TrimSpace(gittest.Git(t, h.bare, "branch", "--list", "promoter/*")); branches != "" {
				t.Errorf("pull request branches left behind: %s", branches)
			}
			// The branch builds and a rerun changes nothing.
			before := gittest.Git(t, h.bare, "rev-parse", "main")
			for _, d := range h.run(ctx).Decisions {
				if d.Landed || d.Err != nil {
					t.Errorf("rerun: %s %s %v", d.Canary, d.Action, d.Err)
				}
			}
			if after := gittest.Git(t, h.bare, "rev-parse", "main"); after != before {
				t.Errorf("a rerun with nothing new moved main")
			}
		})
	}
}

func countOf(xs []string, x string) int {
	n := 0
	for _, s := range xs {
		if s == x {
			n++
		}
	}
	return n
}
