package promote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// reconcile is one run for one canary.
func (p *Promoter) reconcile(ctx context.Context, st *State) Decision {
	now := p.opts.Clock()
	c := st.Canary
	d := newDecision(st)
	log := p.log.With("canary", c.Metadata.Name)

	switch st.Phase {
	case Idle, Succeeded:
		if st.Drift {
			return p.act(ctx, st, &d, ActRerender, nil, []string{"the base changed since promoter rendered its component"})
		}
		d.Reasons = describe(st, now)
		return d
	case RolledBack:
		d.Reasons = describe(st, now)
		if st.Drift {
			return p.act(ctx, st, &d, ActRerender, nil, []string{"the base changed since promoter rendered its component"})
		}
		return d
	case Pending:
		if reasons := p.hooks(ctx, c, spec.WebhookPreRollout, now); len(reasons) > 0 {
			d.Action, d.Reasons = ActHold, append([]string{"a pre-rollout webhook did not pass; not starting"}, reasons...)
			return d
		}
		return p.act(ctx, st, &d, ActStart, nil, []string{fmt.Sprintf("canary image %s differs from stable %s", st.Revision, st.StableRevision)})
	}

	// Progressing.
	if st.Drift {
		log.Info("promoter's component drifted from what its stage renders to; re-rendering")
		return p.act(ctx, st, &d, ActRerender, nil, []string{"the base changed (or promoter's files were edited) since the stage was rendered"})
	}
	report, synced, err := p.evaluate(ctx, st, now)
	if err != nil {
		d.Err, d.Error = err, err.Error()
		return d
	}
	d.Report, d.Verdict = report, report.Verdict
	pause := c.Spec.Steps[st.Step()-1].Pause.Duration
	j := judge(report, now.Sub(st.StageStart), pause, st.Final())
	if !synced && j.action != ActRollback {
		d.Phase = Waiting
		j = judgement{ActHold, []string{fmt.Sprintf("waiting for the mesh to show the committed %d%% split (Argo CD or Flux may not have synced it yet); the stage clock starts then", st.Weight())}}
	}

	if j.action != ActRollback {
		if h := p.callHooks(ctx, c, spec.WebhookRollback, now); len(h.passed) > 0 {
			j = judgement{ActRollback, []string{"a rollback webhook asked for a rollback (" + strings.Join(h.passed, ", ") + ")"}}
		}
	}
	if j.action == ActPromote || j.action == ActFinish {
		if reasons := p.hooks(ctx, c, spec.WebhookRollout, now); len(reasons) > 0 {
			j = judgement{ActHold, append([]string{"a rollout webhook did not pass"}, reasons...)}
		}
	}
	if j.action == ActFinish && c.Spec.PullRequests.Mode != spec.ModeReview {
		// In review mode the final pull request's approval is the
		// confirmation; otherwise confirm-promotion hooks gate it.
		if reasons := p.hooks(ctx, c, spec.WebhookConfirmPromotion, now); len(reasons) > 0 {
			j = judgement{ActHold, append([]string{"waiting for confirm-promotion"}, reasons...)}
		}
	}
	switch j.action {
	case ActRollback, ActPromote, ActFinish:
		return p.act(ctx, st, &d, j.action, report, j.reasons)
	}
	if report.Verdict == gates.Inconclusive {
		d.Phase = Waiting
	}
	d.Action, d.Reasons = ActHold, j.reasons
	// A pull request of the next step may still be open (review mode, or a
	// merge that was not possible yet): refresh its report.
	p.refreshPullRequest(ctx, st, &d, report)
	return d
}

// act renders and lands the change of action, and notifies.
func (p *Promoter) act(ctx context.Context, st *State, d *Decision, action Action, report *gates.Report, reasons []string) Decision {
	return p.actIntent(ctx, st, d, intent{action: action, reasons: reasons}, report)
}

// intent is a decided action with what its change needs.
type intent struct {
	action  Action
	reasons []string
	// image is the canary image of ActSetImage.
	image string
}

func (p *Promoter) actIntent(ctx context.Context, st *State, d *Decision, in intent, report *gates.Report) Decision {
	d.Action, d.Reasons = in.action, in.reasons
	j := p.newJob(st, *d, in, report)
	if b := batchOf(ctx); b != nil && st.Canary.Spec.PullRequests.Mode == spec.ModeDirect && !p.opts.DryRun {
		// Direct-mode changes of a pass land together: one chain of
		// commits, one push (see landBatch).
		b.add(j)
		return j.d
	}
	c := st.Canary
	head := gitops.StepBranch(c.Metadata.Name, nextStep(st, in.action))
	if in.action == ActRollback {
		head = gitops.RollbackBranch(c.Metadata.Name)
	}
	out, err := p.land(ctx, c, head, report, j.plan)
	return p.finish(ctx, j, out, err)
}

// job is a decided change on its way to the target branch.
type job struct {
	st     *State
	d      Decision
	in     intent
	report *gates.Report
	// plan derives the change on a tip; change and noop record what it
	// found, err a failure of this job alone.
	plan   gitops.UpdateFunc
	change *gitops.Change
	noop   string
	err    error
	// warnings are what the change could not do (a rollback whose canary
	// replicas the overlay pins).
	warnings []string
}

func (p *Promoter) newJob(st *State, d Decision, in intent, report *gates.Report) *job {
	j := &job{st: st, d: d, in: in, report: report}
	j.plan = func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
		j.noop, j.change, j.warnings = "", nil, nil
		// Re-derive on the tip: after a lost race another run may have
		// done this already.
		cur, err := p.deriveUnlocked(ctx, tip, st.Canary, st)
		if err != nil {
			return nil, err
		}
		if !stillDue(st, cur, in) {
			j.noop = alreadyDone(cur, p.opts.Clock())
			return nil, nil
		}
		j.change, j.warnings, err = p.change(ctx, tip, cur, in, report)
		return j.change, err
	}
	return j
}

// finish records how a job landed in its decision, and notifies.
func (p *Promoter) finish(ctx context.Context, j *job, out landing, err error) Decision {
	st, d, action, reasons := j.st, &j.d, j.in.action, j.in.reasons
	c := st.Canary
	if err == nil {
		err = j.err
	}
	if err != nil {
		switch action {
		case ActStart, ActPromote:
			// Say what was tried: "start 0% -> 5%".
			d.Weight = weightOf(st, action)
		}
		d.Err, d.Error = err, err.Error()
		return *d
	}
	for _, w := range j.warnings {
		d.Reasons = append(d.Reasons, "warning: "+w)
	}
	if out.change == nil {
		out.change = j.change
	}
	d.Commit, d.PullRequest, d.Landed = out.commit, out.pullRequest, out.landed
	if out.change != nil {
		d.Step, d.Weight = out.change.Message.Trailers.Step, weightOf(st, action)
		d.Subject = out.change.Message.Subject
		if p.opts.DryRun && out.base != "" {
			p.gitMu.Lock()
			d.Diff = p.builtDiff(ctx, c, out.base, out.change)
			p.gitMu.Unlock()
		}
	}
	switch {
	case p.opts.DryRun:
		d.Reasons = append([]string{"dry run: nothing was written"}, reasons...)
	case out.unchanged:
		d.Action = ActNone
		d.Reasons = []string{cmpOr(j.noop, "the repository already says so")}
	case !out.landed && out.pullRequest != "":
		d.Action = ActWait
		if action == ActFinish {
			d.Phase = Promoting
		}
		d.Reasons = append([]string{fmt.Sprintf("%s waits in pull request %s (%s)", action, out.pullRequest, out.waitReason)}, reasons...)
	case out.landed:
		d.Phase = phaseAfter(action, d.Phase)
		p.cleanup(ctx, st, action)
		p.notify(ctx, st, *d, j.report)
		if action == ActFinish || action == ActRollback {
			p.hooks(ctx, c, spec.WebhookPostRollout, p.opts.Clock())
		}
	}
	return *d
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

// stillDue reports whether action is still what the canary needs on the
// new tip cur, given the state st it was decided on.
func stillDue(st, cur *State, in intent) bool {
	switch in.action {
	case ActSetImage:
		return !(cur.Revision == in.image && cur.Committed.CanaryImage == in.image && cur.Phase != RolledBack)
	case ActRollback:
		return cur.Phase == Progressing || cur.Phase == Pending
	case ActRerender:
		return cur.Drift
	case ActStart:
		return cur.Phase == Pending
	}
	return cur.Phase == Progressing && cur.Step() == st.Step() && cur.Revision == st.Revision
}

// cleanup deletes promoter branches a landing made stale: the previous
// step's branch (left behind when a run was stopped between a merge and the
// branch's deletion), and on rollback or finish the next step's branch,
// whose pull request will never be merged. Failures are only logged.
func (p *Promoter) cleanup(ctx context.Context, st *State, action Action) {
	c := st.Canary
	if p.opts.DryRun || p.opts.Forge == nil || c.Spec.PullRequests.Mode == spec.ModeDirect {
		return
	}
	var stale []string
	switch action {
	case ActStart, ActPromote:
		stale = append(stale, gitops.StepBranch(c.Metadata.Name, nextStep(st, action)-1))
	case ActRollback, ActFinish:
		stale = append(stale, gitops.StepBranch(c.Metadata.Name, st.Step()+1))
	}
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	for _, b := range stale {
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

func nextStep(st *State, action Action) int {
	switch action {
	case ActSetImage:
		return 0
	case ActStart:
		return 1
	case ActPromote:
		return st.Step() + 1
	case ActFinish:
		return len(st.Canary.Spec.Steps) + 1
	}
	return st.Step()
}

func weightOf(st *State, action Action) int {
	switch action {
	case ActStart:
		return st.Canary.Spec.Steps[0].Weight
	case ActPromote:
		return st.Canary.Spec.Steps[st.Step()].Weight
	case ActRerender:
		return st.Weight()
	}
	return 0
}

func phaseAfter(action Action, cur Phase) Phase {
	switch action {
	case ActSetImage:
		return Pending
	case ActStart, ActPromote:
		return Progressing
	case ActFinish:
		return Succeeded
	case ActRollback:
		return RolledBack
	}
	return cur
}

// change renders the commit of action on tip.
func (p *Promoter) change(ctx context.Context, tip *gitops.Snapshot, st *State, in intent, report *gates.Report) (*gitops.Change, []string, error) {
	action, reasons := in.action, in.reasons
	c := st.Canary
	name := c.Metadata.Name
	var (
		stage   render.Stage
		trailer gitops.Action
		to      int
	)
	replicas := canaryReplicas(c)
	switch action {
	case ActSetImage:
		trailer, to = gitops.ActionStart, 0
		stage = render.Stage{Step: 0, Weight: 0, CanaryImage: in.image, StableImage: st.Committed.StableImage}
	case ActStart:
		// A start commit by `promoter start` may already open the attempt.
		trailer = gitops.ActionStart
		if len(st.Attempt) > 0 && st.Committed.CanaryRevision == st.Revision {
			trailer = gitops.ActionPromote
		}
		to = c.Spec.Steps[0].Weight
		stage = render.Stage{Step: 1, Weight: to, CanaryImage: st.Committed.CanaryImage, CanaryReplicas: replicas, StableImage: st.Committed.StableImage,
			SequentialTest: p.pinSequentialTest(ctx, c)}
	case ActPromote:
		trailer = gitops.ActionPromote
		to = c.Spec.Steps[st.Step()].Weight
		stage = render.Stage{Step: st.Step() + 1, Weight: to, CanaryImage: st.Committed.CanaryImage, CanaryReplicas: replicas, StableImage: st.Committed.StableImage,
			SequentialTest: st.Committed.SequentialTest}
	case ActFinish:
		trailer = gitops.ActionFinish
		to = 100
		// Stable takes the canary's image and the canary scales to zero.
		// A canary image pinned by `promoter start` stays pinned (the base's
		// would be an older one); an image from the base stays the base's,
		// so a human's next edit of it starts the next canary.
		stage = render.Stage{Step: len(c.Spec.Steps) + 1, Weight: 0, CanaryImage: st.Committed.CanaryImage, StableImage: st.Revision, CanaryReplicas: render.Replicas(0)}
	case ActRerender:
		trailer = gitops.ActionPromote
		to = st.Weight()
		stage = st.Committed.Stage
	case ActRollback:
		return p.rollbackChange(ctx, tip, st, strings.Join(reasons, "; "), report)
	}
	// RenderOn's files include the overlay's components entry when it is
	// missing, so the first commit adds it with the component directory.
	res, err := render.RenderOn(c, tip.FS(), st.Base, stage)
	if err != nil {
		return nil, nil, err
	}
	files := componentFiles(res.Files)
	subject := gitops.Subject(name, st.Weight(), to)
	if action == ActSetImage {
		subject = gitops.Subject(name, 0, 0)
	}
	if action == ActRerender {
		subject = fmt.Sprintf("canary(%s): re-render %d%% for the changed base", name, to)
	}
	body := commitBody(st, action, reasons, report)
	return &gitops.Change{
		Dir:     render.ComponentDir(c),
		Files:   files,
		Message: gitops.Message{Subject: subject, Body: body, Trailers: gitops.Trailers{Canary: name, Step: stage.Step, Action: trailer}},
	}, nil, nil
}

// rollbackChange reverts promoter's commits of the attempt in its
// component: 100% stable, canary weight 0 kept, canary scaled to 0, and the
// rollback recorded in annotations.
//
// Only a base that does not build blocks it: when the overlay pins the
// canary's replicas, the revert still lands 100% stable, and the commit
// and the decision say that the replicas stay as pinned.
func (p *Promoter) rollbackChange(ctx context.Context, tip *gitops.Snapshot, st *State, reason string, report *gates.Report) (*gitops.Change, []string, error) {
	c := st.Canary
	name := c.Metadata.Name
	dir := render.ComponentDir(c)
	stage := render.Stage{
		Step: 0, Weight: 0, CanaryImage: st.Committed.CanaryImage, CanaryReplicas: render.Replicas(0),
		StableImage: st.Committed.StableImage,
		Rollback:    &render.Rollback{Revision: st.Revision, Reason: reason, At: p.opts.Clock().UTC(), PreviousWeight: st.Weight()},
	}
	res, err := render.RenderOn(c, tip.FS(), st.Base, stage)
	if err != nil {
		return nil, nil, err
	}
	replicas := "canary replicas 0"
	for _, o := range st.Base.Overrides {
		if o.Kind == render.OverrideReplicas {
			replicas = fmt.Sprintf("canary replicas stay %d as the overlay pins them", o.Pinned)
		}
	}
	evidence := fmt.Sprintf("Rolled back %s at %d%%: 100%% to stable (%s), canary weight 0, %s.", st.Revision, st.Weight(), st.StableRevision, replicas)
	notes := []string{evidence}
	for _, w := range res.Warnings {
		notes = append(notes, "Warning: "+w+".")
	}
	if report != nil {
		notes = append(notes, evidenceText(report))
	}
	var msg gitops.Message
	if len(st.Attempt) == 0 {
		msg = gitops.Message{
			Subject:  gitops.Subject(name, st.Weight(), 0),
			Body:     "Roll back.\n\nReason: " + reason + "\n\n" + strings.Join(notes, "\n\n"),
			Trailers: gitops.Trailers{Canary: name, Step: 0, Action: gitops.ActionRollback},
		}
	} else {
		_, err := p.opts.Repo.Revert(ctx, tip, dir, name, st.Attempt, reason)
		var he *gitops.HandEditError
		switch {
		case errors.As(err, &he):
			notes = append(notes, fmt.Sprintf("Note: %s. Its content was not restored; the stable-only stage was rendered instead.", he.Error()))
		case err != nil:
			return nil, nil, err
		}
		msg = gitops.RevertMessage(name, st.Attempt, reason, notes...)
	}
	return &gitops.Change{Dir: dir, Files: componentFiles(res.Files), Message: msg}, res.Warnings, nil
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
	return p.manual(ctx, name, func(st *State) (Action, []string, error) {
		switch st.Phase {
		case RolledBack:
			rb := st.Committed.Rollback
			return ActNone, []string{fmt.Sprintf("already rolled back (%s: %s)", rb.Revision, rb.Reason)}, nil
		case Idle, Succeeded:
			return ActNone, []string{"no canary to roll back (the canary runs the stable image)"}, nil
		}

		return ActRollback, []string{reason}, nil
	})
}

// ErrInFlight refuses to start a revision while another takes traffic.
var ErrInFlight = errors.New("another canary revision is in flight")

// Start commits image as the canary's image in promoter's component; the
// next run takes it through the steps. It refuses while another revision
// is in flight unless force; a rolled-back revision is not in flight.
func (p *Promoter) Start(ctx context.Context, name, image string, force bool) (Decision, error) {
	if err := render.ValidateImage(image); err != nil {
		return Decision{Canary: name, Action: ActNone, Err: err, Error: err.Error(), Reasons: []string{}}, fmt.Errorf("start %s: %w", name, err)
	}
	var in intent
	d, err := p.manualIntent(ctx, name, func(st *State) (intent, error) {
		switch {
		case image == st.StableRevision:
			return intent{}, fmt.Errorf("start %s: %s is the stable image", name, image)
		case st.Revision == image && st.Committed.CanaryImage == image && st.Phase != RolledBack:
			return intent{action: ActNone, reasons: []string{fmt.Sprintf("%s is already the canary", image)}}, nil
		case st.Phase == Progressing && !force:
			return intent{}, fmt.Errorf("%w: canary %s runs %s at step %d (%d%%)", ErrInFlight, name, st.Revision, st.Step(), st.Weight())
		}
		reasons := []string{fmt.Sprintf("start a canary of %s (stable: %s)", image, st.StableRevision)}
		if st.Phase == Progressing {
			reasons = append(reasons, fmt.Sprintf("forced: replaces %s, which was in flight", st.Revision))
		}
		in = intent{action: ActSetImage, image: image, reasons: reasons}
		return in, nil
	})
	if d.Action == ActSetImage && d.Landed {
		d.CanaryRevision = image
	}
	return d, err
}

// Promote advances a canary one step now (or, with full, straight to
// promotion), skipping gates; the commit says so.
func (p *Promoter) Promote(ctx context.Context, name string, full bool) (Decision, error) {
	return p.manual(ctx, name, func(st *State) (Action, []string, error) {
		switch st.Phase {
		case Pending:
			if full {
				return ActFinish, []string{"promoted by hand (promote --full), skipping gates"}, nil
			}
			return ActStart, []string{"started by hand (promote), skipping gates"}, nil
		case Progressing:
			if full || st.Final() {
				return ActFinish, []string{"promoted by hand, skipping gates"}, nil
			}
			return ActPromote, []string{"advanced by hand (promote), skipping gates"}, nil
		}
		return ActNone, nil, fmt.Errorf("canary %s is %s: there is nothing to promote", name, st.Phase)
	})
}

func (p *Promoter) manual(ctx context.Context, name string, decide func(*State) (Action, []string, error)) (Decision, error) {
	return p.manualIntent(ctx, name, func(st *State) (intent, error) {
		a, reasons, err := decide(st)
		return intent{action: a, reasons: reasons}, err
	})
}

func (p *Promoter) manualIntent(ctx context.Context, name string, decide func(*State) (intent, error)) (Decision, error) {
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
	in, err := decide(st)
	if err != nil {
		return d, err
	}
	if in.action == ActNone {
		d.Reasons = in.reasons
		return d, nil
	}
	d = p.actIntent(ctx, st, &d, in, nil)
	return d, d.Err
}

// hooks calls the canary's webhooks of one type and returns why any did
// not pass (nil when all passed or there are none).
func (p *Promoter) hooks(ctx context.Context, c *spec.Canary, typ string, now time.Time) []string {
	return p.callHooks(ctx, c, typ, now).failed
}

// hookOutcome is what the webhooks of one type answered.
type hookOutcome struct {
	// passed names the hooks that passed; failed says why the others did
	// not ("webhook NAME: ...").
	passed, failed []string
}

// callHooks calls the canary's webhooks of one type.
func (p *Promoter) callHooks(ctx context.Context, c *spec.Canary, typ string, now time.Time) hookOutcome {
	var out hookOutcome
	for _, w := range c.Spec.Webhooks {
		if w.Type != typ {
			continue
		}
		if err := p.callHook(ctx, c, w, now); err != nil {
			out.failed = append(out.failed, fmt.Sprintf("webhook %s: %v", w.Name, err))
		} else {
			out.passed = append(out.passed, w.Name)
		}
	}
	return out
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
