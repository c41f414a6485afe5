package promote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// Landing: how a decided change reaches the target branch. A canary's
// spec.pullRequests.mode picks one of two strategies:
//
//   - direct: every direct-mode change of a pass lands as one chain of
//     commits with one push, each commit still one canary's change with its
//     own message and trailers (a manual command is a chain of one);
//   - pull request: each change is pushed to the pull request's branch,
//     the pull request is opened (or adopted, never opened twice) and its
//     body refreshed, and in auto-merge mode merged.
//
// A dry run lands nothing: it makes the chain's commits and pushes none.
// Both strategies retry through [gitops.Repo.Retry]: after a race the
// change is derived again on the new tip (job.plan), so a change that is
// no longer due is dropped.

// strategy lands jobs and records in each how it went (job.out, job.err).
type strategy interface {
	land(ctx context.Context, jobs []*job)
}

// strategyOf is the strategy of a canary's changes.
func (p *Promoter) strategyOf(c *spec.Canary) strategy {
	if p.opts.DryRun || c.Spec.PullRequests.Mode == spec.ModeDirect {
		return direct{p: p}
	}
	return pullRequests{p: p}
}

// landing is what a strategy did with a job's change.
type landing struct {
	commit      string
	pullRequest string
	landed      bool
	unchanged   bool
	waitReason  string
	// base is the commit the change was made on.
	base string
}

// direct lands changes as one chain of commits and one push.
type direct struct{ p *Promoter }

// land: a job whose change cannot be derived fails alone; a push that
// cannot land fails them all (nothing landed).
func (s direct) land(ctx context.Context, jobs []*job) {
	if len(jobs) == 0 {
		return
	}
	p := s.p
	// Canary order, so that the chain is the same whichever goroutine
	// decided first.
	slices.SortFunc(jobs, func(a, b *job) int { return strings.Compare(a.d.Canary, b.d.Canary) })
	fns := make([]gitops.UpdateFunc, len(jobs))
	for i, j := range jobs {
		fns[i] = func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
			j.err = nil
			ch, err := j.plan(p)(ctx, tip)
			if err != nil {
				j.err, ch = err, nil
			}
			return ch, nil
		}
	}
	p.gitMu.Lock()
	res, results, err := p.opts.Repo.UpdateChain(ctx, p.opts.DryRun, fns)
	p.gitMu.Unlock()
	for i, j := range jobs {
		if err != nil {
			j.err = err
			continue
		}
		c := results[i].Commit
		j.out = landing{commit: c.Hash, base: res.Base.Hash, landed: res.Pushed && c.Hash != "", unchanged: c.Hash == "" && j.err == nil}
		if len(c.Parents) > 0 {
			j.out.base = c.Parents[0]
		}
	}
}

// pullRequests lands each change through its pull request.
type pullRequests struct{ p *Promoter }

func (s pullRequests) land(ctx context.Context, jobs []*job) {
	for _, j := range jobs {
		j.out, j.err = s.landOne(ctx, j)
	}
}

// landOne pushes the change to the pull request's branch (the step's, or
// the rollback's), opens or adopts the pull request and, in auto-merge
// mode, merges it.
func (s pullRequests) landOne(ctx context.Context, j *job) (landing, error) {
	p := s.p
	c := j.st.Canary
	if p.opts.Forge == nil {
		return landing{}, errors.New("no forge to open pull requests with: use --forge, or pullRequests.mode: direct")
	}
	step, _ := j.ch.target(j.st)
	head := gitops.StepBranch(c.Metadata.Name, step)
	if j.ch.action() == ActRollback {
		head = gitops.RollbackBranch(c.Metadata.Name)
	}
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	r := p.opts.Repo
	var out landing
	err := r.Retry(ctx, "pull request "+head, func(ctx context.Context, attempt int) error {
		if attempt > 1 {
			p.log.Info("re-deriving the pull request on the new tip", "canary", c.Metadata.Name, "head", head, "attempt", attempt)
		}
		// Another run (or a human) may have moved the target or the branch:
		// every attempt starts from a fresh fetch, which re-derives the
		// change.
		out = landing{}
		res, err := r.Update(ctx, true, j.plan(p))
		if err != nil {
			return err
		}
		if res.Commit.Hash == "" {
			out.unchanged = true
			return nil
		}
		out.base = res.Base.Hash
		return p.landPullRequest(ctx, c, head, j.report, res, &out, j.change, j.plan(p))
	})
	return out, err
}

// landPullRequest pushes the built commit to the pull request branch, opens
// or adopts the pull request, and merges it in auto-merge mode. Before it
// opens or merges, it checks the target is still where the change was
// derived; if not it returns [gitops.ErrNonFastForward], a race.
func (p *Promoter) landPullRequest(ctx context.Context, c *spec.Canary, head string, report *gates.Report, res gitops.Result, out *landing, change *gitops.Change, plan gitops.UpdateFunc) error {
	r, forge := p.opts.Repo, p.opts.Forge
	built := res.Commit
	// fresh fetches the target and returns its tip, with a race when it
	// moved since the change was derived.
	fresh := func() (string, error) {
		tip, err := r.Fetch(ctx)
		if err != nil {
			return "", err
		}
		if tip.Hash != res.Base.Hash {
			return tip.Hash, fmt.Errorf("the target branch moved (from %.12s to %.12s): %w", res.Base.Hash, tip.Hash, gitops.ErrNonFastForward)
		}
		return tip.Hash, nil
	}
	pr, err := forge.FindPullRequest(ctx, head)
	if err != nil {
		return err
	}
	autoMerge := c.Spec.PullRequests.Mode != spec.ModeReview
	if pr == nil || !p.sameHead(ctx, pr, built, change.Dir) {
		// In auto-merge mode a target that humans moved meanwhile is
		// caught up with before the merge (catchUp); a pull request for a
		// human to merge is opened only on the tip it was derived on.
		if tip, err := fresh(); err != nil && (!autoMerge || tip == "" || !p.movedByHumans(ctx, tip, res.Base.Hash)) {
			return err
		}
		if err := r.PushBranch(ctx, built.Hash, head); err != nil {
			return err
		}
	} else {
		built.Hash = pr.HeadSHA // the open pull request already says this
	}
	body := p.pullRequestBody(ctx, c, res.Base.Hash, change, report)
	if pr == nil {
		pr, err = forge.OpenPullRequest(ctx, gitops.NewPullRequest{
			Head: head, Base: r.Branch(), Title: change.Message.Subject, Body: body,
			Labels: c.Spec.PullRequests.Labels, Reviewers: c.Spec.PullRequests.Reviewers,
		})
		if err != nil {
			return err
		}
	} else if err := forge.UpdatePullRequest(ctx, pr, body, c.Spec.PullRequests.Labels); err != nil {
		return err
	}
	pr.HeadSHA = built.Hash
	out.pullRequest, out.commit = prRef(pr), built.Hash
	if err := forge.SetStatus(ctx, built.Hash, statusOf(report)); err != nil {
		p.log.Warn("could not set the commit status", "canary", c.Metadata.Name, "err", err)
	}
	if c.Spec.PullRequests.Mode == spec.ModeReview {
		out.waitReason = "review mode: a human merges it"
		return nil
	}
	var merged gitops.Merge
	deadline := time.Now().Add(catchUpTime)
	for n := 1; ; n++ {
		if err := p.catchUp(ctx, c, head, report, pr, &res, change, plan); err != nil {
			return err
		}
		out.commit, out.base = pr.HeadSHA, res.Base.Hash
		merged, err = forge.MergePullRequest(ctx, pr, gitops.MergeMethod(c.Spec.PullRequests.MergeMethod), change.Message)
		if err != nil {
			return err
		}
		// A repository that requires the head up to date says "behind"
		// when the target moved after the catch-up: catch up again.
		if merged.Merged || !strings.HasPrefix(merged.Wait, "behind") || n >= catchUpAttempts || time.Now().After(deadline) {
			break
		}
	}
	if !merged.Merged {
		out.waitReason = "not mergeable yet: " + merged.Wait
		return nil
	}
	if err := forge.DeleteBranch(ctx, head); err != nil {
		p.log.Warn("could not delete the merged branch", "branch", head, "err", err)
	}
	tip, err := r.Fetch(ctx)
	if err != nil {
		return err
	}
	out.commit, out.landed = tip.Hash, true
	return nil
}

// Bounds of the catch-up before an auto-merge: how often, and for how
// long, a pull request's branch is moved onto a target branch that keeps
// moving (a repository that requires the head up to date answers "behind"
// until it is).
const (
	catchUpAttempts = 10
	catchUpTime     = 30 * time.Second
)

// catchUp makes the pull request carry the change as derived on the target
// branch's current tip, just before an auto-merge. When the target moved
// since the change was derived (a busy repository), the change is derived
// again on the new tip; if it is the same change in promoter's directory,
// the pull request's branch is moved onto the new tip (a new commit on it,
// the status set again) and the merge goes ahead in the same run, without
// re-rendering the body. A change that is no longer the same, or no longer
// due, is a race ([gitops.ErrNonFastForward]): the whole attempt starts
// again.
//
// The target may move again between this derivation and the merge: the
// merge commit then holds those commits and promoter's change side by side
// (the forge refuses a conflicting merge), as if they had been pushed just
// after promoter's change; the next run derives on all of them.
func (p *Promoter) catchUp(ctx context.Context, c *spec.Canary, head string, report *gates.Report, pr *gitops.PullRequest, res *gitops.Result, change *gitops.Change, plan gitops.UpdateFunc) error {
	r, forge := p.opts.Repo, p.opts.Forge
	tip, err := r.Fetch(ctx)
	if err != nil {
		return err
	}
	if tip.Hash == res.Base.Hash {
		return nil
	}
	moved := fmt.Errorf("the target branch moved (from %.12s to %.12s): %w", res.Base.Hash, tip.Hash, gitops.ErrNonFastForward)
	if !p.movedByHumans(ctx, tip.Hash, res.Base.Hash) {
		return moved
	}
	again, err := r.Update(ctx, true, func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
		ch, err := plan(ctx, tip)
		if err != nil || ch == nil {
			return ch, err
		}
		if ch.Dir != change.Dir || !sameChange(ch.Files, change.Files) {
			return nil, fmt.Errorf("the change derived on the new tip differs: %w", moved)
		}
		return ch, nil
	})
	if err != nil {
		return err
	}
	if again.Commit.Hash == "" {
		// Nothing to change on the new tip: another run landed it, or the
		// canary no longer needs it. Derive everything again.
		return moved
	}
	p.log.Info("moving the pull request onto the new tip", "canary", c.Metadata.Name, "head", head, "tip", again.Base.Hash)
	if err := r.PushBranch(ctx, again.Commit.Hash, head); err != nil {
		return err
	}
	pr.HeadSHA = again.Commit.Hash
	if err := forge.SetStatus(ctx, again.Commit.Hash, statusOf(report)); err != nil {
		p.log.Warn("could not set the commit status", "canary", c.Metadata.Name, "err", err)
	}
	*res = again
	return nil
}

// catchUpDepth is how many commits on top of the base catchUp looks
// through before it counts the target as moved by another run.
const catchUpDepth = 500

// movedByHumans reports whether every commit on the target branch since
// base (its first-parent history from tip, just fetched) is someone else's:
// none is promoter's (no trailers, as a commit or a merged pull request).
// Another run landing something is a race to back off from and derive
// everything again; human commits are caught up with. False when base is
// not found within catchUpDepth commits or the history cannot be read.
func (p *Promoter) movedByHumans(ctx context.Context, tip, base string) bool {
	found, n := false, 0
	err := p.opts.Repo.Walk(ctx, tip, func(c gitops.Commit) (bool, error) {
		if c.Hash == base {
			found = true
			return true, nil
		}
		n++
		return !c.Message.Trailers.IsZero() || n > catchUpDepth, nil
	})
	return err == nil && found
}

// sameChange reports whether two changes write the same files (a nil
// content, a deletion, differs from an empty file).
func sameChange(a, b gitops.Files) bool {
	return maps.EqualFunc(a, b, func(v, w []byte) bool { return (v == nil) == (w == nil) && bytes.Equal(v, w) })
}

// sameHead reports whether the open pull request's head already holds the
// content of built in promoter's directory, so that a rerun does not push
// (and re-trigger checks) for nothing.
func (p *Promoter) sameHead(ctx context.Context, pr *gitops.PullRequest, built gitops.Commit, dir string) bool {
	if pr.HeadSHA == "" {
		return false
	}
	r := p.opts.Repo
	if _, err := r.FetchBranch(ctx, pr.Head); err != nil {
		return false
	}
	have, err := r.At(ctx, pr.HeadSHA)
	if err != nil {
		return false
	}
	want, err := r.At(ctx, built.Hash)
	if err != nil {
		return false
	}
	if have.DirHash(dir) != want.DirHash(dir) || len(have.Commit.Parents) == 0 || len(built.Parents) == 0 {
		return false
	}
	// Same content on the same base.
	return have.Commit.Parents[0] == built.Parents[0]
}

// nextPullRequest is the open pull request of the canary's next step
// while it progresses in a pull-request mode, or nil: decide says Promoting
// while the final one is open, and a hold refreshes it. A forge that
// cannot be asked is logged and counts as none.
func (p *Promoter) nextPullRequest(ctx context.Context, st *State) *gitops.PullRequest {
	c := st.Canary
	if p.opts.Forge == nil || c.Spec.PullRequests.Mode == spec.ModeDirect || st.Phase != Progressing || st.Drift {
		return nil
	}
	head := gitops.StepBranch(c.Metadata.Name, st.Step()+1)
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	pr, err := p.opts.Forge.FindPullRequest(ctx, head)
	if err != nil {
		p.log.Warn("could not look for the next step's pull request", "canary", c.Metadata.Name, "head", head, "err", err)
		return nil
	}
	return pr
}

// refreshPullRequest updates the report in the open pull request of the
// next step while the canary holds (review mode, or a merge that waits).
func (p *Promoter) refreshPullRequest(ctx context.Context, st *State, pr *gitops.PullRequest, report *gates.Report) {
	c := st.Canary
	if p.opts.DryRun || report == nil {
		return
	}
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	body := p.pullRequestBody(ctx, c, st.Tip.Hash, nil, report)
	if err := p.opts.Forge.UpdatePullRequest(ctx, pr, body, nil); err != nil {
		p.log.Warn("could not refresh the pull request", "canary", c.Metadata.Name, "err", err)
	}
	if pr.HeadSHA != "" {
		if err := p.opts.Forge.SetStatus(ctx, pr.HeadSHA, statusOf(report)); err != nil {
			p.log.Warn("could not set the commit status", "canary", c.Metadata.Name, "err", err)
		}
	}
}

// statusOf is the promoter/gates commit status of a report.
func statusOf(r *gates.Report) gitops.Status {
	st := gitops.Status{Context: "promoter/gates", State: gitops.StatusSuccess, Description: "no gates evaluated (manual action)"}
	if r == nil {
		return st
	}
	st.Description = fmt.Sprintf("gates %s at %d%%", r.Verdict, r.Weight)
	switch r.Verdict {
	case gates.Fail:
		st.State = gitops.StatusFailure
	case gates.Error:
		st.State = gitops.StatusError
	case gates.Inconclusive:
		st.State = gitops.StatusPending
	}
	if r.Rollback {
		st.State, st.Description = gitops.StatusFailure, "rollback: "+first(r.RollbackReasons)
	}
	return st
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func prRef(pr *gitops.PullRequest) string {
	switch {
	case pr.URL != "":
		return pr.URL
	case pr.Number != 0:
		return fmt.Sprintf("#%d", pr.Number)
	}
	return pr.Head
}

// builtDiff is the unified diff of what the overlay builds to before and
// after the change: what Argo CD or Flux will apply.
func (p *Promoter) builtDiff(ctx context.Context, c *spec.Canary, base string, ch *gitops.Change) string {
	snap, err := p.opts.Repo.At(ctx, base)
	if err != nil {
		return ""
	}
	before, err := render.Build(snap.FS(), c.Spec.Overlay, nil)
	if err != nil {
		before = []byte("# the overlay does not build as committed: " + err.Error() + "\n")
	}
	files := render.Files{}
	for p, data := range ch.Files {
		files[p] = data
	}
	after, err := render.Build(snap.FS(), c.Spec.Overlay, files)
	if err != nil {
		return ""
	}
	return unifiedDiff("before", "after", string(before), string(after), 3)
}
