package promote

import (
	"context"
	"errors"
	"fmt"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// landing is what land did with a change.
type landing struct {
	change      *gitops.Change
	commit      string
	pullRequest string
	landed      bool
	unchanged   bool
	waitReason  string
	// base is the tip the change was made on.
	base string
}

// maxRerenders bounds how often a pull request is re-derived on a target
// that moved under it within one run.
const maxRerenders = 5

// land commits the change plan derives from the target branch, as the
// canary's pull-request mode says: pushed to the branch (direct), or pushed
// to the pull-request branch head, which is opened (or adopted, never
// opened twice) and in auto-merge mode merged. plan is called again on the
// new tip after a lost race or a conflicting base. A dry run builds the
// commit and writes nothing.
func (p *Promoter) land(ctx context.Context, c *spec.Canary, head string, report *gates.Report, plan gitops.UpdateFunc) (landing, error) {
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	r := p.opts.Repo
	var out landing
	capture := func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
		ch, err := plan(ctx, tip)
		out.change = ch
		return ch, err
	}
	mode := c.Spec.PullRequests.Mode
	if mode == spec.ModeDirect || p.opts.DryRun {
		res, err := r.Update(ctx, p.opts.DryRun, capture)
		if err != nil {
			return out, err
		}
		out.commit, out.landed, out.base = res.Commit.Hash, res.Pushed, res.Base.Hash
		out.unchanged = res.Commit.Hash == ""
		return out, nil
	}
	if p.opts.Forge == nil {
		return out, errors.New("no forge to open pull requests with: use --forge, or pullRequests.mode: direct")
	}
	forge := p.opts.Forge
	var lastErr error
	for attempt := 1; attempt <= maxRerenders; attempt++ {
		if attempt > 1 {
			p.log.Info("re-deriving the pull request on the new tip", "canary", c.Metadata.Name, "head", head, "attempt", attempt, "after", lastErr)
		}
		res, err := r.Update(ctx, true, capture)
		if err != nil {
			return out, err
		}
		if res.Commit.Hash == "" {
			out.unchanged = true
			return out, nil
		}
		out.base = res.Base.Hash
		if _, err := p.landPullRequest(ctx, c, head, report, res, &out, forge); err == nil {
			return out, nil
		} else if !racing(err) {
			return out, err
		} else {
			lastErr = err
		}
		// Another run (or a human) moved the target or the branch under us:
		// start again from a fresh fetch, which re-derives the change.
		out = landing{}
	}
	return out, fmt.Errorf("pull request %s: target kept moving: %w", head, lastErr)
}

// errMoved reports that the target branch moved after the change was
// derived, so it must be derived again before a pull request is opened or
// merged.
var errMoved = errors.New("the target branch moved")

// racing reports errors that mean a concurrent run or a human changed the
// target or promoter's branch since the change was derived.
func racing(err error) bool {
	var pe *gitops.PushError
	return errors.Is(err, errMoved) || errors.Is(err, gitops.ErrConflict) || errors.Is(err, gitops.ErrHeadChanged) ||
		errors.Is(err, gitops.ErrAlreadyMerged) ||
		errors.Is(err, gitops.ErrNotFound) || errors.Is(err, gitops.ErrNonFastForward) || errors.As(err, &pe)
}

// landPullRequest pushes the built commit to the pull request branch, opens
// or adopts the pull request, and merges it in auto-merge mode. Before it
// opens or merges, it checks the target is still where the change was
// derived; if not it returns errMoved.
func (p *Promoter) landPullRequest(ctx context.Context, c *spec.Canary, head string, report *gates.Report, res gitops.Result, out *landing, forge gitops.Forge) (bool, error) {
	r := p.opts.Repo
	built := res.Commit
	fresh := func() error {
		tip, err := r.Fetch(ctx)
		if err != nil {
			return err
		}
		if tip.Hash != res.Base.Hash {
			return fmt.Errorf("%w (from %.12s to %.12s)", errMoved, res.Base.Hash, tip.Hash)
		}
		return nil
	}
	pr, err := forge.FindPullRequest(ctx, head)
	if err != nil {
		return false, err
	}
	if pr == nil || !p.sameHead(ctx, pr, built, out.change.Dir) {
		if err := fresh(); err != nil {
			return false, err
		}
		if err := r.PushBranch(ctx, built.Hash, head); err != nil {
			return false, err
		}
	} else {
		built.Hash = pr.HeadSHA // the open pull request already says this
	}
	body := p.pullRequestBody(ctx, c, res.Base.Hash, out.change, report)
	if pr == nil {
		pr, err = forge.OpenPullRequest(ctx, gitops.NewPullRequest{
			Head: head, Base: r.Branch(), Title: out.change.Message.Subject, Body: body,
			Labels: c.Spec.PullRequests.Labels, Reviewers: c.Spec.PullRequests.Reviewers,
		})
		if err != nil {
			return false, err
		}
	} else if err := forge.UpdatePullRequest(ctx, pr, body, c.Spec.PullRequests.Labels); err != nil {
		return false, err
	}
	pr.HeadSHA = built.Hash
	out.pullRequest, out.commit = prRef(pr), built.Hash
	if err := forge.SetStatus(ctx, built.Hash, statusOf(report)); err != nil {
		p.log.Warn("could not set the commit status", "canary", c.Metadata.Name, "err", err)
	}
	if c.Spec.PullRequests.Mode == spec.ModeReview {
		out.waitReason = "review mode: a human merges it"
		return false, nil
	}
	if err := fresh(); err != nil {
		return false, err
	}
	merged, err := forge.MergePullRequest(ctx, pr, gitops.MergeMethod(c.Spec.PullRequests.MergeMethod), out.change.Message)
	if err != nil {
		return false, err
	}
	if !merged.Merged {
		out.waitReason = "not mergeable yet: " + merged.Wait
		return false, nil
	}
	if err := forge.DeleteBranch(ctx, head); err != nil {
		p.log.Warn("could not delete the merged branch", "branch", head, "err", err)
	}
	tip, err := r.Fetch(ctx)
	if err != nil {
		return false, err
	}
	out.commit, out.landed = tip.Hash, true
	return true, nil
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

// refreshPullRequest updates the report in an open pull request of the
// next step while the canary holds (review mode, or a merge that waits).
func (p *Promoter) refreshPullRequest(ctx context.Context, st *State, d *Decision, report *gates.Report) {
	c := st.Canary
	if p.opts.DryRun || p.opts.Forge == nil || c.Spec.PullRequests.Mode == spec.ModeDirect {
		return
	}
	head := gitops.StepBranch(c.Metadata.Name, st.Step()+1)
	p.gitMu.Lock()
	defer p.gitMu.Unlock()
	pr, err := p.opts.Forge.FindPullRequest(ctx, head)
	if err != nil || pr == nil {
		return
	}
	d.PullRequest = prRef(pr)
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
