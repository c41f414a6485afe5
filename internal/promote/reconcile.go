package promote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// reconcile is one scheduled run for one canary up to its decision
// (decide.go): it observes the stage, looks for the next step's pull
// request, asks the webhooks decide will look at, and decides. It returns
// the decision, or the job that carries a change to landing (land.go).
func (p *Promoter) reconcile(ctx context.Context, st *State) (Decision, *job) {
	now := p.opts.Clock()
	d := newDecision(st)
	s := situation{st: st, now: now, synced: true, sync: st.sync}
	if o := st.sync; o != nil && o.err != nil {
		d.Err, d.Error = o.err, o.err.Error()
		return d, nil
	}
	if st.Phase == Progressing && !st.Drift {
		report, synced, err := p.evaluate(ctx, st, now)
		if err != nil {
			d.Err, d.Error = err, err.Error()
			return d, nil
		}
		s.report, s.synced = report, synced
		d.Report, d.Verdict = report, report.Verdict
		if o := st.sync; o != nil && o.inconclusive && !report.Rollback {
			d.Verdict = gates.Inconclusive
		}
	}
	pr := p.nextPullRequest(ctx, st)
	if pr != nil {
		s.openPR = prRef(pr)
	}
	s.hooks = p.askHooks(ctx, st.Canary, hooksFor(s), now)
	v := decide(s)
	d.Phase, d.Reasons = v.phase, v.reasons
	if ch := changeOf(v.action); ch != nil {
		if v.action == ActRerender && st.Phase == Progressing {
			p.log.Info("promoter's component drifted from what its stage renders to; re-rendering", "canary", st.Canary.Metadata.Name)
		}
		return d, p.newJob(st, d, ch, intent{action: v.action, reasons: v.reasons, image: v.image}, s.report)
	}
	d.Action = v.action
	if v.action == ActHold && pr != nil {
		// A pull request of the next step is open (review mode, or a merge
		// that was not possible yet): refresh its report.
		d.PullRequest = s.openPR
		p.refreshPullRequest(ctx, st, pr, s.report)
	}
	return d, nil
}

// status is where a canary stands for promoter status: decide's phase and
// reasons without acting. With a Prometheus querier it evaluates the stage
// (Waiting while the gates lack data); with a forge it looks for the next
// step's pull request (Promoting while the final one is open). It calls no
// webhook and writes nothing.
func (p *Promoter) status(ctx context.Context, st *State) (Decision, *job) {
	now := p.opts.Clock()
	d := newDecision(st)
	s := situation{st: st, now: now, synced: true, sync: st.sync}
	var notes []string
	if o := st.sync; o != nil && o.err != nil {
		s.sync, notes = nil, append(notes, "sync status not read: "+o.err.Error())
	}
	if st.Phase == Progressing && !st.Drift && p.opts.Querier != nil {
		report, synced, err := p.evaluate(ctx, st, now)
		if err != nil {
			notes = append(notes, "gates not evaluated: "+err.Error())
		} else {
			s.report, s.synced = report, synced
			d.Verdict = report.Verdict
		}
	}
	if pr := p.nextPullRequest(ctx, st); pr != nil {
		s.openPR = prRef(pr)
		d.PullRequest = s.openPR
	}
	v := decide(s)
	d.Phase = v.phase
	d.Reasons = append(d.Reasons, describe(st, now)...)
	if s.report == nil && s.syncWait() != "" {
		d.Reasons = append(d.Reasons, s.syncWait())
	}
	if s.report != nil {
		if v.action == ActHold {
			d.Reasons = append(d.Reasons, v.reasons...)
		} else {
			d.Reasons = append(d.Reasons, fmt.Sprintf("the next run would %s (webhooks not asked): %s", v.action, strings.Join(v.reasons, "; ")))
		}
	}
	if s.openPR != "" {
		d.Reasons = append(d.Reasons, "pull request "+s.openPR+" is open")
	}
	d.Reasons = append(d.Reasons, notes...)
	return d, nil
}

// job is a decided change on its way to the target branch.
type job struct {
	st     *State
	d      Decision
	ch     change
	in     intent
	report *gates.Report
	// change, noop and warnings are what plan found on the last tip it
	// saw: the change, why none was needed, what the change could not do
	// (a rollback whose canary replicas the overlay pins).
	change   *gitops.Change
	noop     string
	warnings []string
	// out is how the strategy landed it; err a failure of this job.
	out landing
	err error
}

func (p *Promoter) newJob(st *State, d Decision, ch change, in intent, report *gates.Report) *job {
	d.Action, d.Reasons = in.action, in.reasons
	return &job{st: st, d: d, ch: ch, in: in, report: report}
}

// plan derives the job's change on tip. After a lost race it is called on
// the new tip: another run may have made the change already.
func (j *job) plan(p *Promoter) gitops.UpdateFunc {
	return func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
		j.noop, j.change, j.warnings = "", nil, nil
		cur, err := p.deriveUnlocked(ctx, tip, j.st.Canary, j.st)
		if err != nil {
			return nil, err
		}
		if !j.ch.due(j.st, cur, j.in) {
			j.noop = alreadyDone(cur, p.opts.Clock())
			return nil, nil
		}
		j.change, j.warnings, err = commitOf(ctx, &actContext{p: p}, tip, cur, j.ch, j.in, j.report)
		return j.change, err
	}
}

// finish records how a job landed in its decision; once landed it deletes
// the branches the change left stale, notifies, and after the end of an
// attempt calls the post-rollout webhooks.
func (p *Promoter) finish(ctx context.Context, j *job) Decision {
	st, d, ch, out := j.st, j.d, j.ch, j.out
	c := st.Canary
	_, weight := ch.target(st)
	if j.err != nil {
		if weight > st.Weight() {
			d.Weight = weight // say what was tried: "start 0% -> 5%"
		}
		d.Err, d.Error = j.err, j.err.Error()
		return d
	}
	for _, w := range j.warnings {
		d.Reasons = append(d.Reasons, "warning: "+w)
	}
	d.Commit, d.PullRequest, d.Landed = out.commit, out.pullRequest, out.landed
	if j.change != nil {
		d.Step, d.Weight = j.change.Message.Trailers.Step, weight
		d.Subject = j.change.Message.Subject
		if p.opts.DryRun && out.base != "" {
			p.gitMu.Lock()
			d.Diff = p.builtDiff(ctx, c, out.base, j.change)
			p.gitMu.Unlock()
		}
	}
	switch {
	case p.opts.DryRun:
		d.Reasons = append([]string{"dry run: nothing was written"}, j.in.reasons...)
	case out.unchanged:
		d.Action = ActNone
		d.Reasons = []string{cmpOr(j.noop, "the repository already says so")}
	case !out.landed && out.pullRequest != "":
		d.Action = ActWait
		d.Phase = phaseAfterLanding(ch, d.Phase, false)
		d.Reasons = append([]string{fmt.Sprintf("%s waits in pull request %s (%s)", j.in.action, out.pullRequest, out.waitReason)}, j.in.reasons...)
	case out.landed:
		d.Phase = phaseAfterLanding(ch, d.Phase, true)
		p.cleanup(ctx, st, ch)
		p.notify(ctx, st, d, j.report)
		if d.Phase == Succeeded || d.Phase == RolledBack {
			p.askHooks(ctx, c, []string{spec.WebhookPostRollout}, p.opts.Clock())
		}
	}
	return d
}

// land lands the jobs of a pass (nil entries are canaries with nothing to
// commit) through their strategies and records each outcome in decisions:
// the pull requests first, then the direct chain with one push.
func (p *Promoter) land(ctx context.Context, jobs []*job, decisions []Decision) {
	var chain []*job
	for _, j := range jobs {
		if j == nil {
			continue
		}
		switch s := p.strategyOf(j.st.Canary).(type) {
		case direct:
			chain = append(chain, j)
		default:
			guard(func(err error) { j.err = err }, func() { s.land(ctx, []*job{j}) })
		}
	}
	guard(func(err error) {
		for _, j := range chain {
			j.err = err
		}
	}, func() { direct{p: p}.land(ctx, chain) })
	for i, j := range jobs {
		if j != nil {
			guard(func(err error) { decisions[i] = failed(j.st.Canary, err) }, func() { decisions[i] = p.finish(ctx, j) })
		}
	}
}

// guard runs fn; a panic becomes an error passed to fail.
func guard(fail func(error), fn func()) {
	defer func() {
		if r := recover(); r != nil {
			fail(fmt.Errorf("internal error: %v", r))
		}
	}()
	fn()
}

// deriveUnlocked derives on a tip inside Repo.Update, which already holds
// the Git lock. It reads the canary's own spec file only (a thousand-canary
// repository is not rediscovered for each commit); if the spec moved, it
// looks for it everywhere.
func (p *Promoter) deriveUnlocked(ctx context.Context, tip *gitops.Snapshot, c *spec.Canary, st *State) (*State, error) {
	fsys := tip.FS()
	find := func(cs []*spec.Canary) *spec.Canary {
		for _, x := range cs {
			if x.Metadata.Name == c.Metadata.Name {
				return x
			}
		}
		return nil
	}
	cs, err := spec.LoadFile(fsys, c.Source.File)
	cur := find(cs)
	if cur == nil {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			// The spec file is there but the canary's spec in it is not
			// valid any more: say what is wrong with it.
			return nil, err
		}
		cs, err = spec.Load(ctx, fsys)
		if cur = find(cs); cur == nil {
			if err == nil {
				err = fmt.Errorf("canary %s is gone from the target branch", c.Metadata.Name)
			}
			return nil, err
		}
	}
	var h history = p.opts.Repo
	if c.Metadata.Name == cur.Metadata.Name && st != nil && st.index != nil {
		// The pass's index, extended by the commits landed since.
		if ext, err := st.index.extend(ctx, p.opts.Repo, tip.Commit.Hash); err != nil {
			return nil, err
		} else if ext != nil {
			h = ext
		}
	}
	return derive(ctx, h, tip, tip.Commit, cur)
}

// cleanup deletes promoter branches a landing made stale (ch.stale): the
// previous step's branch (left behind when a run was stopped between a
// merge and the branch's deletion), and on rollback or finish the next
// step's branch, whose pull request will never be merged. Failures are
// only logged.
func (p *Promoter) cleanup(ctx context.Context, st *State, ch change) {
	c := st.Canary
	if p.opts.DryRun || p.opts.Forge == nil || c.Spec.PullRequests.Mode == spec.ModeDirect {
		return
	}
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	for _, step := range ch.stale(st) {
		b := gitops.StepBranch(c.Metadata.Name, step)
		if err := p.opts.Forge.DeleteBranch(ctx, b); err != nil {
			p.log.Warn("could not delete a stale branch", "branch", b, "err", err)
		}
	}
}

// alreadyDone says why a decided change is no longer needed on a newer tip.
func alreadyDone(cur *State, now time.Time) string {
	if cur.Phase == RolledBack {
		rb := cur.Committed.Rollback
		return fmt.Sprintf("already rolled back (%s: %s)", rb.Revision, rb.Reason)
	}
	return "another run already did this: " + strings.Join(describe(cur, now), "; ")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func canaryReplicas(c *spec.Canary) *int32 {
	if n := c.Spec.Deployments.CanaryReplicas; n > 0 {
		return render.Replicas(n)
	}
	return nil
}

// Rollback rolls a canary back now, skipping gates. It is a no-op when the
// canary is not running or already rolled back.
func (p *Promoter) Rollback(ctx context.Context, name, reason string) (Decision, error) {
	return p.manual(ctx, name, command{kind: cmdRollback, reason: reason})
}

// Start commits image as the canary's image in promoter's component; the
// next run takes it through the steps. It refuses while another revision
// is in flight unless force; a rolled-back revision is not in flight.
func (p *Promoter) Start(ctx context.Context, name, image string, force bool) (Decision, error) {
	if err := render.ValidateImage(image); err != nil {
		return Decision{Canary: name, Action: ActNone, Err: err, Error: err.Error(), Reasons: []string{}}, fmt.Errorf("start %s: %w", name, err)
	}
	d, err := p.manual(ctx, name, command{kind: cmdStart, image: image, force: force})
	if d.Action == ActSetImage && d.Landed {
		d.CanaryRevision = image
	}
	return d, err
}

// Promote advances a canary one step now (or, with full, straight to
// promotion), skipping gates; the commit says so.
func (p *Promoter) Promote(ctx context.Context, name string, full bool) (Decision, error) {
	return p.manual(ctx, name, command{kind: cmdPromote, full: full})
}

// manual decides a manual command for one canary and lands its change
// through the canary's strategy (in direct mode a chain of one).
func (p *Promoter) manual(ctx context.Context, name string, m command) (Decision, error) {
	tip, err := p.fetch(ctx)
	if err != nil {
		return Decision{}, err
	}
	cs, _, err := p.load(ctx, tip.FS(), Selection{Names: []string{name}})
	if err != nil {
		return Decision{}, err
	}
	// One walk of the history, only as deep as this canary needs.
	p.gitMu.Lock()
	idx, err := indexHistory(ctx, p.opts.Repo, tip.Commit.Hash, map[string]bool{name: true})
	var st *State
	if err == nil {
		st, err = derive(ctx, idx, tip, tip.Commit, cs[0])
	}
	p.gitMu.Unlock()
	if err != nil {
		return Decision{}, err
	}
	d := newDecision(st)
	v := decide(situation{st: st, now: p.opts.Clock(), manual: &m})
	if v.err != nil {
		return d, v.err
	}
	ch := changeOf(v.action)
	if ch == nil {
		d.Reasons = v.reasons
		return d, nil
	}
	j := p.newJob(st, d, ch, intent{action: v.action, reasons: v.reasons, image: v.image}, nil)
	p.strategyOf(st.Canary).land(ctx, []*job{j})
	d = p.finish(ctx, j)
	return d, d.Err
}

// askHooks calls the canary's webhooks of the given types, in spec order,
// and returns their answers by type.
func (p *Promoter) askHooks(ctx context.Context, c *spec.Canary, types []string, now time.Time) map[string]hookOutcome {
	if len(types) == 0 {
		return nil
	}
	out := map[string]hookOutcome{}
	for _, w := range c.Spec.Webhooks {
		if !slices.Contains(types, w.Type) {
			continue
		}
		o := out[w.Type]
		if err := p.callHook(ctx, c, w, now); err != nil {
			o.failed = append(o.failed, fmt.Sprintf("webhook %s: %v", w.Name, err))
		} else {
			o.passed = append(o.passed, w.Name)
		}
		out[w.Type] = o
	}
	return out
}

// hookOutcome is what the webhooks of one type answered.
type hookOutcome struct {
	// passed names the hooks that passed; failed says why the others did
	// not ("webhook NAME: ...").
	passed, failed []string
}

// ErrNoStage is returned by Evaluate for a canary that is not observing a
// stage (idle, pending, promoted or rolled back).
var ErrNoStage = errors.New("no stage to evaluate")

// Evaluate derives the canary's state and evaluates its current stage's
// gates now, writing nothing.
func (p *Promoter) Evaluate(ctx context.Context, name string) (*State, *gates.Report, error) {
	tip, err := p.fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	cs, _, err := p.load(ctx, tip.FS(), Selection{Names: []string{name}})
	if err != nil {
		return nil, nil, err
	}
	p.gitMu.Lock()
	st, err := derive(ctx, p.opts.Repo, tip, tip.Commit, cs[0])
	p.gitMu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	if st.Phase != Progressing {
		return st, nil, fmt.Errorf("canary %s is %s: %w", name, st.Phase, ErrNoStage)
	}
	report, _, err := p.evaluate(ctx, st, p.opts.Clock())
	return st, report, err
}

// pinSequentialTest returns what the canary's sequential test pins at its
// start, in the form recorded in the component: alpha, margins, and the
// latency bounds chosen from stable's hour before now. It returns "" when
// the spec has no sequential gate or stable's history cannot be read: the
// runs then choose the bounds from that hour themselves, and hold while
// they cannot read it.
func (p *Promoter) pinSequentialTest(ctx context.Context, c *spec.Canary) string {
	var gate *spec.Gate
	for i, g := range c.Spec.Analysis.Gates {
		if g.Type == spec.GateSequential {
			gate = &c.Spec.Analysis.Gates[i]
			break
		}
	}
	if gate == nil || p.opts.Querier == nil {
		return ""
	}
	now := p.opts.Clock()
	obs, err := gates.Observe(ctx, p.opts.Querier, c, gates.Stage{Start: now, CanaryStart: now, Now: now})
	if err != nil {
		return ""
	}
	pin := gates.PinnedOf(gates.SequentialConfigOf(c.Spec.Analysis, *gate), obs)
	if pin == nil {
		return ""
	}
	return pin.String()
}
