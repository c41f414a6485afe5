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

	"github.com/promoter-dev/promoter/internal/wait"
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
	// The server rejects a lost race with a lock or stale-info message
	// ("failed to update ref", "failed to lock"): is the ref still where
	// the push found it? For a forced push of promoter's own branch that
	// is where the remote had it; otherwise it is base, the commit the
	// change was built on.
	expected := base
	if force {
		expected = rej.expected.String()
		if rej.expected.IsZero() {
			expected = ""
		}
	}
	if now, lerr := r.remoteTip(ctx, branch); lerr == nil && now != expected {
		return fmt.Errorf("push %s (remote at %.12s, pushed over %.12s): %w", ref, now, expected, ErrNonFastForward)
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

// Retry bounds the push-and-retry loop ([Repo.Retry]).
type Retry struct {
	// Attempts is the most attempts made (at least 1).
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

// IsRace is the one race predicate of the push-and-retry loop. It reports
// whether err means that someone else (another run, a human, a forge)
// changed the target branch or a pull request's head since the change was
// derived, so that deriving it again on a fresh fetch may succeed:
//
//   - [ErrNonFastForward]: the target branch moved before the push (or
//     before a pull request was opened or merged), or a ref moved during
//     the push and the remote refused its compare-and-swap (the ref is no
//     longer where the push found it);
//   - [ErrHeadChanged]: a pull request's head moved or is gone;
//   - [ErrConflict]: the pull request conflicts with its base, which moved:
//     re-derive it there;
//   - [ErrAlreadyMerged]: another run merged the pull request.
//
// Anything else is not a race. In particular a push the remote rejected
// for another reason ([*PushError]: a protected branch, a hook) fails
// with the server's message and is not retried.
func IsRace(err error) bool {
	return errors.Is(err, ErrNonFastForward) || errors.Is(err, ErrHeadChanged) ||
		errors.Is(err, ErrConflict) || errors.Is(err, ErrAlreadyMerged)
}

// Retry is the push-and-retry loop: it calls attempt (with 1, 2, ...)
// until it returns nil or an error that is not a race ([IsRace]), at most
// the Repo's Retry bound times, waiting a jittered, growing delay between
// attempts. attempt must start from a fresh fetch: the point of trying
// again is to re-derive the change on the new tip. After the last lost
// race the error says how many attempts were made and wraps the race.
func (r *Repo) Retry(ctx context.Context, what string, attempt func(ctx context.Context, n int) error) error {
	for n := 1; ; n++ {
		err := attempt(ctx, n)
		switch {
		case err == nil:
			return nil
		case !IsRace(err):
			return err
		case n >= r.retry.Attempts:
			return fmt.Errorf("%s: gave up after %d attempts: %w", what, n, err)
		}
		d := r.retry.delay(n)
		r.log.Info("lost a race, retrying on the new tip", "what", what, "attempt", n, "wait", d, "after", err.Error())
		if err := wait.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// UpdateFunc produces the change to commit on tip, the target branch as it
// is now. It must derive everything from tip (it is called again on the new
// tip after a lost race). A nil change means there is nothing to do.
type UpdateFunc func(ctx context.Context, tip *Snapshot) (*Change, error)

// Result is what [Repo.Update] and [Repo.UpdateChain] did.
type Result struct {
	// Commit is the commit that landed (the chain's last); zero when
	// nothing was committed.
	Commit Commit
	// Pushed reports whether a commit landed.
	Pushed bool
	// Attempts is the number of times the functions were called.
	Attempts int
	// Base is the tip the functions saw last.
	Base Commit
}

// Update is [Repo.UpdateChain] with one function: fetch the target branch,
// call fn with its tip, commit the change fn returns and push it, and on a
// lost race start again from a fresh fetch.
func (r *Repo) Update(ctx context.Context, dryRun bool, fn UpdateFunc) (Result, error) {
	res, _, err := r.UpdateChain(ctx, dryRun, []UpdateFunc{fn})
	return res, err
}

// ChainResult is what UpdateChain did for one of its functions.
type ChainResult struct {
	// Commit is the commit made for the function; zero when it had nothing
	// to change.
	Commit Commit
}

// UpdateChain is the commit-and-push loop for one or more changes: on a
// fresh fetch of the target branch, it calls each function in turn on the
// tip as the previous ones left it, commits each change on top of the
// last, and pushes the chain with one push. A lost race ([Repo.Retry])
// starts again from a fresh fetch, so every function re-derives its
// change.
//
// A nil change, or a change that alters nothing, is skipped; when no
// function changes anything it is success with Pushed false. With dryRun
// the commits are made but not pushed. The results are in the order of
// fns.
//
// Errors: a function's error, returned as it is (a race, [IsRace], is
// retried); [ErrNonFastForward] after the last lost race; [ErrAuth];
// [*PushError] for a push the remote rejected for another reason; ctx's
// error.
func (r *Repo) UpdateChain(ctx context.Context, dryRun bool, fns []UpdateFunc) (Result, []ChainResult, error) {
	var (
		res Result
		out []ChainResult
	)
	err := r.Retry(ctx, "push "+r.branch, func(ctx context.Context, attempt int) error {
		res, out = Result{Attempts: attempt}, make([]ChainResult, len(fns))
		if _, err := r.Fetch(ctx); err != nil {
			return err
		}
		tip, err := r.Tip(ctx)
		if err != nil {
			return err
		}
		res.Base = tip.Commit
		head := tip
		for i, fn := range fns {
			ch, err := fn(ctx, head)
			if err != nil {
				return err
			}
			if ch == nil {
				continue
			}
			c, err := r.Commit(ctx, head.Commit.Hash, *ch)
			if errors.Is(err, ErrNothingToCommit) {
				continue
			}
			if err != nil {
				return err
			}
			out[i].Commit = c
			if head, err = r.At(ctx, c.Hash); err != nil {
				return err
			}
		}
		if head.Commit.Hash == tip.Commit.Hash {
			return nil
		}
		res.Commit = head.Commit
		if dryRun {
			return nil
		}
		if err := r.Push(ctx, head.Commit.Hash, tip.Commit.Hash); err != nil {
			return err
		}
		res.Pushed = true
		r.log.Info("pushed", "branch", r.branch, "commit", head.Commit.Short(), "subject", head.Commit.Message.Subject, "commits", len(fns), "attempt", attempt)
		return nil
	})
	return res, out, err
}
