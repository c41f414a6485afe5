package promote

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/promoter-dev/promoter/internal/gitops"
)

// batch collects a pass's direct-mode changes so that they land as one
// chain of commits with one push: a pass that advances a hundred canaries
// pays for one fetch and one push, not a hundred, and each commit is still
// one canary's change with its own message and trailers.
type batch struct {
	mu   sync.Mutex
	jobs []*job
}

type batchKey struct{}

func withBatch(ctx context.Context, b *batch) context.Context {
	return context.WithValue(ctx, batchKey{}, b)
}

func batchOf(ctx context.Context) *batch {
	b, _ := ctx.Value(batchKey{}).(*batch)
	return b
}

func (b *batch) add(j *job) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.jobs = append(b.jobs, j)
}

// landBatch lands the batch's jobs and returns their decisions. A job whose
// change cannot be derived fails alone; a push that cannot land fails them
// all (nothing landed).
func (p *Promoter) landBatch(ctx context.Context, b *batch) []Decision {
	jobs := b.jobs
	if len(jobs) == 0 {
		return nil
	}
	// Canary order, so that the chain is the same whichever goroutine
	// decided first.
	slices.SortFunc(jobs, func(a, b *job) int { return strings.Compare(a.d.Canary, b.d.Canary) })
	fns := make([]gitops.UpdateFunc, len(jobs))
	for i, j := range jobs {
		fns[i] = func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
			j.err = nil
			ch, err := j.plan(ctx, tip)
			if err != nil {
				j.err, ch = err, nil
			}
			return ch, nil
		}
	}
	p.gitMu.Lock()
	res, results, err := p.opts.Repo.UpdateChain(ctx, false, fns)
	p.gitMu.Unlock()
	out := make([]Decision, len(jobs))
	for i, j := range jobs {
		var l landing
		if err == nil {
			l.base = res.Base.Hash
			l.commit = results[i].Commit.Hash
			l.landed = res.Pushed && l.commit != ""
			l.unchanged = l.commit == "" && j.err == nil
		}
		out[i] = p.finish(ctx, j, l, err)
	}
	return out
}
