package main

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// outcome is what one policy did on one replicate.
type outcome struct {
	rolledBack, promoted bool
	// look (1-based), minutes and canaryRequests are at the rollback.
	look                    int
	minutes, canaryRequests float64
}

// start is the canary's start in simulated time (any fixed instant works).
var start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// runPolicy plays the runs of one replicate for one policy, every 5 minutes,
// until the policy rolls back, promotes, or the scenario's looks run out.
func runPolicy(p Policy, sc Scenario, tr Traffic) outcome {
	served := func(look int) float64 {
		var n float64
		for _, t := range tr.Tiles[:look] {
			n += t.Requests.Canary
		}
		return n
	}
	rolledBackAt := func(look int) outcome {
		return outcome{rolledBack: true, look: look, minutes: float64(look) * tile.Minutes(), canaryRequests: served(look)}
	}
	if !sc.Promote && p.monotone {
		if look := p.lastLookRollback(tr, sc, start, sc.Looks); look > 0 {
			return rolledBackAt(look)
		}
		return outcome{}
	}
	for look := 1; look <= sc.Looks; look++ {
		mayPromote := sc.Promote && time.Duration(look)*tile >= promoteAfter
		switch p.decideAt(tr, sc, start, look, mayPromote) {
		case rollback:
			return rolledBackAt(look)
		case promote:
			return outcome{promoted: true}
		}
	}
	return outcome{}
}

// Cell is one scenario at one traffic level, summarised per policy.
type Cell struct {
	Scenario Scenario
	RPS      float64
	Results  []Summary // one per policy, in policies() order
}

// Summary is one policy's results over the replicates of a cell.
type Summary struct {
	Policy string
	Reps   int
	// PRollback and PPromote are fractions of replicates.
	PRollback, PPromote float64
	// MedianMinutes and MedianCanaryRequests are over the replicates that
	// rolled back (NaN when none did).
	MedianMinutes, MedianCanaryRequests float64
	// PFirstRun and PWithinHour are the fractions rolled back by the first
	// run that sees a complete interval, and within 60 minutes.
	PFirstRun, PWithinHour float64
}

// job is one replicate of one cell.
type job struct{ cell, rep int }

// simulate runs every cell with reps replicates on workers goroutines. The
// random stream of a replicate depends only on (seed, cell, rep), so results
// do not depend on scheduling; every policy sees the same traffic.
func simulate(cells []Cell, pols []Policy, reps, workers int, seed uint64, progress func(done, total int)) {
	out := make([][][]outcome, len(cells)) // cell, policy, rep
	for i := range out {
		out[i] = make([][]outcome, len(pols))
		for j := range pols {
			out[i][j] = make([]outcome, reps)
		}
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done, total := 0, len(cells)*reps
	for range workers {
		wg.Go(func() {
			for jb := range jobs {
				c := cells[jb.cell]
				rng := rand.New(rand.NewPCG(seed, uint64(jb.cell)<<32|uint64(jb.rep)))
				tr := generate(rng, c.Scenario, c.RPS, start)
				for pi, p := range pols {
					if p.advancesOnPass {
						own := rand.New(rand.NewPCG(seed^0x9e3779b97f4a7c15, uint64(jb.cell)<<32|uint64(jb.rep)))
						out[jb.cell][pi][jb.rep] = flaggerRun(p, c.Scenario, newTileGen(c.Scenario, c.RPS), own, tr.Baseline)
						continue
					}
					out[jb.cell][pi][jb.rep] = runPolicy(p, c.Scenario, tr)
				}
				if progress != nil {
					mu.Lock()
					done++
					progress(done, total)
					mu.Unlock()
				}
			}
		})
	}
	// Interleave cells so slow ones (A/A, 100 req/s) spread over workers.
	for r := range reps {
		for ci := range cells {
			jobs <- job{cell: ci, rep: r}
		}
	}
	close(jobs)
	wg.Wait()
	for ci := range cells {
		cells[ci].Results = nil
		for pi, p := range pols {
			cells[ci].Results = append(cells[ci].Results, summarise(p.Name, out[ci][pi]))
		}
	}
}

func summarise(name string, os []outcome) Summary {
	s := Summary{Policy: name, Reps: len(os)}
	var mins, reqs []float64
	for _, o := range os {
		if o.rolledBack {
			mins = append(mins, o.minutes)
			reqs = append(reqs, o.canaryRequests)
			if o.look == 1 {
				s.PFirstRun++
			}
			if o.minutes <= 60 {
				s.PWithinHour++
			}
		}
		if o.promoted {
			s.PPromote++
		}
	}
	s.PRollback = float64(len(mins)) / float64(len(os))
	s.PPromote /= float64(len(os))
	s.PFirstRun /= float64(len(os))
	s.PWithinHour /= float64(len(os))
	s.MedianMinutes, s.MedianCanaryRequests = median(mins), median(reqs)
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return nan
	}
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
