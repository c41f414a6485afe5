// Package promote is promoter's decision loop: the only package that sees
// the spec, the renderer, Git and the gates together.
//
// # One run
//
// [Promoter.Run] makes one pass over the canaries of the target branch.
// For each canary it derives where the canary stands from Git alone
// ([State]), evaluates the current stage's gates against Prometheus, and
// decides: start, promote one step, finish, roll back, or hold. The change
// lands as [spec.PullRequests] says: pushed to the branch, or through a
// pull request that promoter merges (auto-merge) or a human merges (review).
// Every run is a function of Git, the forge, Prometheus and the clock, so a
// run killed at any point is carried on by the next.
//
// # Concurrency
//
// Canaries are evaluated concurrently up to [Options.Concurrency]. Pushes
// race with other runs and with humans; the loser fetches, re-derives and
// re-renders on the new tip (see [gitops.Repo.Update]).
package promote

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/lockdown"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// Options configure a Promoter.
type Options struct {
	Repo *gitops.Repo
	// Forge lands pull requests; nil is only valid for direct mode and dry
	// runs.
	Forge gitops.Forge
	// Querier reaches Prometheus; nil makes every gate an Error.
	Querier gates.Querier
	// Clock is the run's time (--now); nil means time.Now.
	Clock func() time.Time
	Log   *slog.Logger
	// DryRun decides and reports but writes nothing anywhere.
	DryRun bool
	// Concurrency bounds the canaries evaluated at once (default 8).
	Concurrency int
	// HTTP sends webhooks and notifications (default: a client with no
	// timeout of its own: each call is bounded by its context, a webhook's
	// by its spec timeout, a notification's by 10s).
	HTTP *http.Client
	// Getenv resolves urlFrom: env:NAME (default: none set).
	Getenv func(string) string
	// Gates tunes gate judgement.
	Gates gates.Options
	// Progress receives a line when a pass starts, every few seconds
	// while it runs and when it ends, for a person watching; nil
	// discards them.
	Progress io.Writer
}

// Promoter runs passes over a repository's canaries.
type Promoter struct {
	opts Options
	log  *slog.Logger
	// gitMu serialises use of the repository: go-git's storage is not
	// safe for concurrent writers, and Git work is small next to rendering
	// and Prometheus queries, which run concurrently.
	gitMu sync.Mutex
}

// New returns a Promoter.
func New(opts Options) *Promoter {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Transport: lockdown.Transport()}
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	return &Promoter{opts: opts, log: opts.Log}
}

// Selection chooses the canaries of a pass.
type Selection struct {
	// Names selects canaries by metadata.name; empty means all.
	Names []string
	// Shard K of N (1-based) keeps canaries whose name hashes to K; N = 0
	// means no sharding.
	ShardK, ShardN int
}

// Pass is the outcome of one run over the selected canaries.
type Pass struct {
	Tip       gitops.Commit
	Decisions []Decision
	// Problems lists spec problems of canaries that were not evaluated.
	Problems error

	// canaries and states are the pass's canaries and their states (nil
	// where deriving failed), by the index of Decisions; records are the
	// build records the pass read (see saveRecords).
	canaries []*spec.Canary
	states   []*State
	records  *gitops.Records
}

// RolledBack reports whether a canary was rolled back in the pass.
func (p *Pass) RolledBack() bool {
	return slices.ContainsFunc(p.Decisions, func(d Decision) bool { return d.Action == ActRollback && d.Landed })
}

// Failed reports whether any canary failed.
func (p *Pass) Failed() bool {
	return slices.ContainsFunc(p.Decisions, func(d Decision) bool { return d.Err != nil })
}

// Run makes one pass: it fetches the target branch, decides for every
// selected canary, concurrently, and lands the changes (land.go). A
// canary's failure is reported in its Decision and does not stop the
// others.
func (p *Promoter) Run(ctx context.Context, sel Selection) (*Pass, error) {
	out, err := p.pass(ctx, sel, false, p.reconcile)
	if err == nil && !p.opts.DryRun {
		p.saveRecords(ctx, sel, out)
	}
	return out, err
}

// Status derives every selected canary's state and phase without writing
// and without calling webhooks; it evaluates progressing stages when there
// is a Prometheus querier (see status).
func (p *Promoter) Status(ctx context.Context, sel Selection) (*Pass, error) {
	return p.pass(ctx, sel, true, p.status)
}

// decideFunc decides for one canary whose state was derived: a decision,
// or a job whose change is still to land.
type decideFunc func(ctx context.Context, st *State) (Decision, *job)

// pass derives every selected canary's state concurrently, reads the
// history the undecided ones need in one walk, decides for each,
// concurrently, then lands the changes. allHistory reads the whole history
// (for status).
func (p *Promoter) pass(ctx context.Context, sel Selection, allHistory bool, fn decideFunc) (*Pass, error) {
	tip, err := p.fetch(ctx)
	if err != nil {
		return nil, err
	}
	view := lockedSnapshot{snap: tip, mu: &p.gitMu}
	cs, problems, err := p.load(ctx, view.FS(), sel)
	if err != nil {
		return nil, err
	}
	p.gitMu.Lock()
	records, err := p.opts.Repo.Records()
	p.gitMu.Unlock()
	if err != nil {
		// Records only save builds: without them every canary whose
		// inputs changed since promoter wrote its component builds.
		p.log.Warn("build records ignored", "err", err)
	}
	states := make([]*State, len(cs))
	out := &Pass{Tip: tip.Commit, Decisions: make([]Decision, len(cs)), canaries: cs, states: states, records: records}
	if problems != nil {
		out.Problems = problems
	}
	prog := p.startProgress(len(cs))
	defer prog.stop()
	p.each(ctx, cs, out, func(i int, c *spec.Canary) {
		st, err := deriveRecorded(ctx, view, tip.Commit, c, records.Entries[c.Metadata.Name])
		if err != nil {
			out.Decisions[i] = failed(c, err)
			return
		}
		states[i] = st
	})
	var wanted map[string]bool
	if !allHistory {
		wanted = map[string]bool{}
		for _, st := range states {
			if st != nil && st.needsHistory() {
				wanted[st.Canary.Metadata.Name] = true
			}
		}
	}
	p.gitMu.Lock()
	idx, err := indexHistory(ctx, p.opts.Repo, tip.Commit.Hash, wanted)
	p.gitMu.Unlock()
	if err != nil {
		return nil, err
	}
	p.each(ctx, cs, out, func(i int, c *spec.Canary) {
		st := states[i]
		if st == nil || !(allHistory || st.needsHistory()) {
			return
		}
		if err := st.attach(ctx, idx); err != nil {
			out.Decisions[i] = failed(c, err)
			states[i] = nil
		}
	})
	// Sync evidence first: it moves the stage clocks the batch queries.
	now := p.opts.Clock()
	p.each(ctx, cs, out, func(i int, c *spec.Canary) {
		if st := states[i]; st != nil {
			st.sync = p.observeSync(ctx, st, now)
		}
	})
	ctx = p.batchGates(ctx, states)
	jobs := make([]*job, len(cs))
	p.each(ctx, cs, out, func(i int, c *spec.Canary) {
		defer prog.done()
		st := states[i]
		if st == nil {
			return
		}
		out.Decisions[i], jobs[i] = fn(ctx, st)
	})
	p.land(ctx, jobs, out.Decisions)
	return out, nil
}

// each calls fn for every canary, concurrently up to the bound; a panic
// becomes that canary's error.
func (p *Promoter) each(ctx context.Context, cs []*spec.Canary, out *Pass, fn func(i int, c *spec.Canary)) {
	sem := make(chan struct{}, p.opts.Concurrency)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out.Decisions[i] = failed(c, ctx.Err())
				return
			}
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					out.Decisions[i] = failed(c, fmt.Errorf("internal error: %v", r))
				}
			}()
			fn(i, c)
		}()
	}
	wg.Wait()
}

// load reads the selected canaries' specs at tip. Problems in specs that
// are not selected, or that are invalid, are returned apart from the error:
// they are reported without stopping the pass.
func (p *Promoter) load(ctx context.Context, fsys fs.FS, sel Selection) (cs []*spec.Canary, problems *spec.ValidationError, err error) {
	all, err := spec.Load(ctx, fsys)
	if err != nil && !errors.As(err, &problems) {
		return nil, nil, err
	}
	var out []*spec.Canary
	for _, c := range all {
		if len(sel.Names) > 0 && !slices.Contains(sel.Names, c.Metadata.Name) {
			continue
		}
		if sel.ShardN > 0 && shardOf(c.Metadata.Name, sel.ShardN) != sel.ShardK {
			continue
		}
		out = append(out, c)
	}
	var missing []string
	for _, n := range sel.Names {
		if !slices.ContainsFunc(out, func(c *spec.Canary) bool { return c.Metadata.Name == n }) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		if problems != nil {
			return nil, nil, problems
		}
		nf := &NotFoundError{Missing: missing}
		for _, c := range all {
			nf.Known = append(nf.Known, c.Metadata.Name)
		}
		return nil, nil, nf
	}
	return out, problems, nil
}

// shardOf maps a canary name to a shard 1..n (FNV-1a, stable across runs
// and machines).
func shardOf(name string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32()%uint32(n)) + 1
}

// fetch updates the target branch and returns its tip.
func (p *Promoter) fetch(ctx context.Context) (*gitops.Snapshot, error) {
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	tip, err := p.opts.Repo.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	return p.opts.Repo.At(ctx, tip.Hash)
}

func newDecision(st *State) Decision {
	d := Decision{
		Canary: st.Canary.Metadata.Name, Phase: st.Phase, Action: ActNone,
		Step: st.Step(), Steps: len(st.schedule()), Weight: st.Weight(), FromWeight: st.Weight(),
		CanaryRevision: st.Revision, StableRevision: st.StableRevision,
		Reasons: []string{},
	}
	if l := st.Last; l != nil {
		d.Last = &LastDecision{Subject: l.Message.Subject, Action: string(l.Message.Trailers.Action), Commit: l.Hash, At: l.CommitTime}
	}
	return d
}

func failed(c *spec.Canary, err error) Decision {
	return Decision{Canary: c.Metadata.Name, Action: ActNone, Err: err, Error: err.Error(), Reasons: []string{}}
}

// describe explains a state for status.
func describe(st *State, now time.Time) []string {
	switch st.Phase {
	case RolledBack:
		rb := st.Committed.Rollback
		return []string{fmt.Sprintf("revision %s was rolled back at %s: %s; held until the canary image changes", rb.Revision, rb.At.Format(time.RFC3339), rb.Reason)}
	case Idle:
		return []string{fmt.Sprintf("the canary runs the stable image %s", st.StableRevision)}
	case Succeeded:
		return []string{fmt.Sprintf("promoted: stable runs %s", st.StableRevision)}
	case Pending:
		return []string{fmt.Sprintf("canary image %s differs from stable %s: the next run starts it", st.Revision, st.StableRevision)}
	case Progressing:
		pause := st.schedule().pause(st.Step())
		return []string{fmt.Sprintf("step %d/%d at %d%% since %s (%s of its %s pause)", st.Step(), len(st.schedule()), st.Weight(),
			st.StageStart.Format(time.RFC3339), round(now.Sub(st.StageStart)), pause)}
	}
	return nil
}

// stageOf is the gates' view of a progressing state.
func stageOf(st *State, now time.Time) gates.Stage {
	return gates.Stage{Weight: st.Weight(), Start: st.StageStart, CanaryStart: st.CanaryStart, Changes: st.Changes, Now: now, Pinned: st.Pinned}
}

// evaluate observes and judges the current stage. With
// analysis.verifyTraffic the stage clock starts only at the first tile in
// which Prometheus shows the committed split (st.StageStart moves there);
// synced is false while it does not show it yet.
func (p *Promoter) evaluate(ctx context.Context, st *State, now time.Time) (report *gates.Report, synced bool, err error) {
	q := p.opts.Querier
	if b, ok := ctx.Value(batchKey{}).(*gates.Batch); ok {
		q = b
	}
	if q == nil {
		q = gates.QuerierFunc(func(context.Context, gates.Query) ([]gates.Series, error) {
			return nil, &gates.QueryError{Kind: gates.ErrUnreachable, Err: errors.New("no Prometheus URL: set --prometheus or PROMETHEUS_URL")}
		})
	}
	stage := stageOf(st, now)
	obs, err := gates.Observe(ctx, q, st.Canary, stage)
	if err != nil {
		return nil, false, err
	}
	synced = true
	if st.Canary.Spec.Analysis.VerifyTraffic {
		if at, ok := gates.Synced(obs, st.Weight(), shareTolerance(st.Canary)); ok {
			stage.Start, st.StageStart = at, at
		} else {
			synced = false
		}
	}
	return gates.Judge(st.Canary, stage, obs, p.opts.Gates), synced, nil
}

// batchKey is the context key of the pass's [gates.Batch].
type batchKey struct{}

// batchGates fetches the built-in gate queries of every progressing canary
// of the pass in one batch (one query per metric family and
// analysis.interval, see [gates.Batch]); evaluate answers each canary's
// queries from it. The batch is fetched at the pass's clock: a canary
// whose own clock has moved past a tile boundary since queries that tile
// itself.
func (p *Promoter) batchGates(ctx context.Context, states []*State) context.Context {
	if p.opts.Querier == nil {
		return ctx
	}
	b := gates.NewBatch(p.opts.Querier, batchConcurrency)
	now := p.opts.Clock()
	n := 0
	for _, st := range states {
		if st != nil && st.Phase == Progressing && !st.Drift {
			b.Add(st.Canary, stageOf(st, now))
			n++
		}
	}
	if n == 0 {
		return ctx
	}
	b.Fetch(ctx)
	return context.WithValue(ctx, batchKey{}, b)
}

// batchConcurrency bounds the batched queries in flight at once.
const batchConcurrency = 4

// shareTolerance is the tolerance of the canary's traffic-share gate, or 0
// for the default.
func shareTolerance(c *spec.Canary) float64 {
	for _, g := range c.Spec.Analysis.Gates {
		if g.Type == spec.GateTrafficShare {
			return g.Tolerance
		}
	}
	return 0
}

// componentFiles converts rendered files for a commit.
func componentFiles(files render.Files) gitops.Files {
	out := gitops.Files{}
	for p, data := range files {
		out[p] = data
	}
	return out
}
