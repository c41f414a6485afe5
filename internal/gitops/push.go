package gitops

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// BranchPrefix is the prefix of the branches promoter owns (pull request
// heads). Only these may be force-pushed or deleted.
const BranchPrefix = "promoter/"

// Push makes commit the tip of the target branch on the remote, if the
// branch is still at base there. It never forces.
//
// Errors: [ErrNonFastForward] when the branch moved (fetch and retry, or use
// [Repo.Update]); [ErrAuth]; [*PushError] for other rejections (a protected
// branch, a hook).
func (r *Repo) Push(ctx context.Context, commit, base string) error {
	return r.push(ctx, commit, r.branch, base, false)
}

// PushBranch makes commit the tip of branch, one of promoter's own branches
// ([BranchPrefix]), replacing whatever was there (a forced push).
// Errors: [ErrForbiddenForce] for any other branch; [ErrAuth]; [*PushError].
func (r *Repo) PushBranch(ctx context.Context, commit, branch string) error {
	if !strings.HasPrefix(branch, BranchPrefix) || branch == r.branch {
		return fmt.Errorf("%s: %w", branch, ErrForbiddenForce)
	}
	return r.push(ctx, commit, branch, "", true)
}

// DeleteBranch deletes one of promoter's own branches on the remote. A
// branch that does not exist is success.
func (r *Repo) DeleteBranch(ctx context.Context, branch string) error {
	if !strings.HasPrefix(branch, BranchPrefix) || branch == r.branch {
		return fmt.Errorf("delete %s: %w", branch, ErrForbiddenForce)
	}
	spec := config.RefSpec(":" + plumbing.NewBranchReferenceName(branch).String())
	ctx, cancel := bounded(ctx)
	defer cancel()
	err := r.git.PushContext(ctx, &git.PushOptions{
		RemoteName: remoteName,
		RemoteURL:  r.remote.clean,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.auth,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("delete branch %s: %w", branch, r.classify(err))
	}
	r.mu.Lock()
	_ = r.git.Storer.RemoveReference(r.trackingRef(branch))
	r.mu.Unlock()
	return nil
}

func (r *Repo) push(ctx context.Context, commit, branch, base string, force bool) error {
	ref := plumbing.NewBranchReferenceName(branch)
	r.log.Debug("pushing", "ref", ref, "commit", commit, "remote", r.remote.clean)
	sctx, cancel := bounded(ctx)
	err := r.sendPack(sctx, plumbing.NewHash(commit), ref, plumbing.NewHash(base), force)
	cancel()
	if err == nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.git.Storer.SetReference(plumbing.NewHashReference(r.trackingRef(branch), plumbing.NewHash(commit)))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var rej errRejected
	if !errors.As(err, &rej) {
		return err
	}
	if !force {
		// The server rejects a lost race with a lock or stale-info message:
		// is the branch still where we built on?
		now, lerr := r.remoteTip(ctx, branch)
		if lerr == nil && now != base {
			return fmt.Errorf("push %s (remote at %.12s, built on %.12s): %w", ref, now, base, ErrNonFastForward)
		}
	}
	return &PushError{Ref: ref.String(), Reason: rej.reason}
}

// remoteTip asks the remote where branch is ("" if it does not exist).
func (r *Repo) remoteTip(ctx context.Context, branch string) (string, error) {
	rem := git.NewRemote(r.git.Storer, &config.RemoteConfig{Name: remoteName, URLs: []string{r.remote.clean}})
	ctx, cancel := bounded(ctx)
	defer cancel()
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if err != nil {
		return "", r.classify(err)
	}
	want := plumbing.NewBranchReferenceName(branch)
	for _, ref := range refs {
		if ref.Name() == want {
			return ref.Hash().String(), nil
		}
	}
	return "", nil
}

// Retry bounds the push loop of [Repo.Update].
type Retry struct {
	// Attempts is the most pushes tried (at least 1).
	Attempts int
	// Backoff is the base delay after the first lost race; it doubles per
	// attempt, up to MaxBackoff, and a random part of it is added (jitter)
	// so that racing runs spread out.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// DefaultRetry is used when [Options.Retry] is zero.
var DefaultRetry = Retry{Attempts: 6, Backoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second}

func (rt Retry) delay(attempt int) time.Duration {
	d := rt.Backoff << (attempt - 1)
	if rt.MaxBackoff > 0 && (d > rt.MaxBackoff || d <= 0) {
		d = rt.MaxBackoff
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// UpdateFunc produces the change to commit on tip, the target branch as it
// is now. It must derive everything from tip (it is called again on the new
// tip after a lost race). A nil change means there is nothing to do.
type UpdateFunc func(ctx context.Context, tip *Snapshot) (*Change, error)

// Result is what [Repo.Update] did.
type Result struct {
	// Commit is the commit that landed; zero when nothing was pushed.
	Commit Commit
	// Pushed reports whether a commit landed.
	Pushed bool
	// Attempts is the number of times fn was called.
	Attempts int
	// Base is the tip fn saw last.
	Base Commit
}

// Update is the commit-and-push loop: fetch the target branch, call fn with
// its tip, commit the change fn returns and push it. When the push loses a
// race (someone else pushed first) it waits a jittered, growing delay and
// starts again from a fresh fetch, so fn re-derives its state on the new
// tip; it gives up after the Retry bound.
//
// A nil change from fn, or a change that alters nothing, is success with
// Pushed false. With dryRun the commit is made but not pushed.
//
// Errors: fn's errors, returned as they are; [ErrNonFastForward] after the
// last lost race; [ErrAuth]; [*PushError]; ctx's error.
func (r *Repo) Update(ctx context.Context, dryRun bool, fn UpdateFunc) (Result, error) {
	var res Result
	for attempt := 1; ; attempt++ {
		if _, err := r.Fetch(ctx); err != nil {
			return res, err
		}
		tip, err := r.Tip(ctx)
		if err != nil {
			return res, err
		}
		res.Attempts, res.Base = attempt, tip.Commit
		ch, err := fn(ctx, tip)
		if err != nil || ch == nil {
			return res, err
		}
		c, err := r.Commit(ctx, tip.Commit.Hash, *ch)
		if errors.Is(err, ErrNothingToCommit) {
			return res, nil
		}
		if err != nil {
			return res, err
		}
		if dryRun {
			res.Commit = c
			return res, nil
		}
		err = r.Push(ctx, c.Hash, tip.Commit.Hash)
		if err == nil {
			res.Commit, res.Pushed = c, true
			r.log.Info("pushed", "branch", r.branch, "commit", c.Short(), "subject", c.Message.Subject, "attempt", attempt)
			return res, nil
		}
		if !errors.Is(err, ErrNonFastForward) || attempt >= r.retry.Attempts {
			if errors.Is(err, ErrNonFastForward) {
				err = fmt.Errorf("gave up after %d attempts: %w", attempt, err)
			}
			return res, err
		}
		d := r.retry.delay(attempt)
		r.log.Info("lost a push race, retrying on the new tip", "branch", r.branch, "attempt", attempt, "wait", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, ctx.Err()
		case <-t.C:
		}
	}
}

// ChainResult is what UpdateChain did for one of its functions.
type ChainResult struct {
	// Commit is the commit made for the function; zero when it had nothing
	// to change.
	Commit Commit
}

// UpdateChain is Update for several changes at once: on a fresh fetch of
// the target branch, it calls each function in turn on the tip as the
// previous ones left it, commits each change on top of the last, and pushes
// the chain with one push. A lost race starts again from a fresh fetch, so
// every function re-derives its change. With dryRun the commits are made
// but not pushed. The results are in the order of fns; Result.Pushed says
// whether the chain landed.
func (r *Repo) UpdateChain(ctx context.Context, dryRun bool, fns []UpdateFunc) (Result, []ChainResult, error) {
	var res Result
	for attempt := 1; ; attempt++ {
		if _, err := r.Fetch(ctx); err != nil {
			return res, nil, err
		}
		tip, err := r.Tip(ctx)
		if err != nil {
			return res, nil, err
		}
		res.Attempts, res.Base = attempt, tip.Commit
		out := make([]ChainResult, len(fns))
		head := tip
		for i, fn := range fns {
			ch, err := fn(ctx, head)
			if err != nil {
				return res, out, err
			}
			if ch == nil {
				continue
			}
			c, err := r.Commit(ctx, head.Commit.Hash, *ch)
			if errors.Is(err, ErrNothingToCommit) {
				continue
			}
			if err != nil {
				return res, out, err
			}
			out[i].Commit = c
			if head, err = r.At(ctx, c.Hash); err != nil {
				return res, out, err
			}
		}
		if head.Commit.Hash == tip.Commit.Hash {
			return res, out, nil
		}
		res.Commit = head.Commit
		if dryRun {
			return res, out, nil
		}
		err = r.Push(ctx, head.Commit.Hash, tip.Commit.Hash)
		if err == nil {
			res.Pushed = true
			r.log.Info("pushed", "branch", r.branch, "commit", head.Commit.Short(), "commits", len(fns), "attempt", attempt)
			return res, out, nil
		}
		if !errors.Is(err, ErrNonFastForward) || attempt >= r.retry.Attempts {
			if errors.Is(err, ErrNonFastForward) {
				err = fmt.Errorf("gave up after %d attempts: %w", attempt, err)
			}
			return res, out, err
		}
		d := r.retry.delay(attempt)
		r.log.Info("lost a push race, retrying the chain on the new tip", "branch", r.branch, "attempt", attempt, "wait", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, out, ctx.Err()
		case <-t.C:
		}
	}
}
