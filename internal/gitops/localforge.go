package gitops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// LocalForge is the forge of a plain Git remote: a pull request is the
// branch promoter/<canary>/step-<n>, and promoter merges it itself with a
// merge commit it builds (go-git only fast-forwards). Bodies, labels,
// statuses and comments have nowhere to live and are logged instead.
type LocalForge struct {
	Repo *Repo
	Log  *slog.Logger
}

var _ Forge = (*LocalForge)(nil)

// NewLocalForge returns the local forge of r.
func NewLocalForge(r *Repo) *LocalForge { return &LocalForge{Repo: r, Log: r.log} }

// FindPullRequest returns the branch head as a pull request, or nil when it
// does not exist on the remote.
func (f *LocalForge) FindPullRequest(ctx context.Context, head string) (*PullRequest, error) {
	tip, err := f.Repo.FetchBranch(ctx, head)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &PullRequest{
		Head:    head,
		HeadSHA: tip.Hash,
		Base:    f.Repo.Branch(),
		Title:   tip.Message.Subject,
		Body:    tip.Message.Body,
	}, nil
}

// OpenPullRequest checks the branch was pushed and returns it.
func (f *LocalForge) OpenPullRequest(ctx context.Context, pr NewPullRequest) (*PullRequest, error) {
	got, err := f.FindPullRequest(ctx, pr.Head)
	if err != nil {
		return nil, err
	}
	if got == nil {
		return nil, fmt.Errorf("open pull request: branch %s is gone: %w (%w)", pr.Head, ErrHeadChanged, ErrNotFound)
	}
	got.Title, got.Body, got.Labels = pr.Title, pr.Body, pr.Labels
	f.Log.Info("pull request branch ready", "head", pr.Head, "base", pr.Base, "title", pr.Title)
	return got, nil
}

// UpdatePullRequest has nothing to update on a plain remote.
func (f *LocalForge) UpdatePullRequest(ctx context.Context, pr *PullRequest, body string, labels []string) error {
	f.Log.Debug("local forge: pull request body not stored", "head", pr.Head)
	return nil
}

// MergePullRequest merges the branch into the target branch with a merge
// commit (or, for squash and rebase, a single-parent commit with the same
// tree) and pushes it. The merge is by file: the paths the branch changed
// since the merge base are taken from the branch; a path the target also
// changed in the meantime is a conflict (re-render the branch on the new
// base). A target that moved before the push is [ErrNonFastForward], a
// head branch that is gone [ErrHeadChanged]: races, which the caller's
// loop ([Repo.Retry]) re-derives.
func (f *LocalForge) MergePullRequest(ctx context.Context, pr *PullRequest, method MergeMethod, msg Message) (Merge, error) {
	merged, err := f.merge(ctx, pr, method, msg)
	return Merge{Merged: merged}, err
}

func (f *LocalForge) merge(ctx context.Context, pr *PullRequest, method MergeMethod, msg Message) (bool, error) {
	r := f.Repo
	target, err := r.Fetch(ctx)
	if err != nil {
		return false, err
	}
	head, err := r.FetchBranch(ctx, pr.Head)
	if errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("merge %s: the head branch is gone: %w (%w)", pr.Head, ErrHeadChanged, err)
	}
	if err != nil {
		return false, fmt.Errorf("merge %s: %w", pr.Head, err)
	}
	if pr.HeadSHA != "" && head.Hash != pr.HeadSHA {
		return false, fmt.Errorf("merge %s: at %s, expected %s: %w", pr.Head, head.Short(), pr.HeadSHA, ErrHeadChanged)
	}
	tree, already, err := r.mergeTree(target.Hash, head.Hash)
	if err != nil {
		return false, err
	}
	if already {
		return false, fmt.Errorf("merge %s: %w", pr.Head, ErrAlreadyMerged)
	}
	parents := []plumbing.Hash{plumbing.NewHash(target.Hash)}
	if method == MergeCommit || method == "" {
		parents = append(parents, plumbing.NewHash(head.Hash))
	}
	c, err := r.writeCommit(tree, msg, parents...)
	if err != nil {
		return false, err
	}
	if err := r.Push(ctx, c.Hash, target.Hash); err != nil {
		return false, err
	}
	f.Log.Info("merged", "head", pr.Head, "into", r.Branch(), "commit", c.Short())
	return true, nil
}

// mergeTree is the tree of merging head into target: target's tree with
// the files head changed since their merge base. already reports that head
// is merged (an ancestor of target).
func (r *Repo) mergeTree(target, head string) (tree plumbing.Hash, already bool, err error) {
	tc, err := r.git.CommitObject(plumbing.NewHash(target))
	if err != nil {
		return tree, false, err
	}
	hc, err := r.git.CommitObject(plumbing.NewHash(head))
	if err != nil {
		return tree, false, err
	}
	bases, err := hc.MergeBase(tc)
	if err != nil {
		return tree, false, fmt.Errorf("merge base of %s and %s: %w", head, target, err)
	}
	if len(bases) == 0 {
		return tree, false, fmt.Errorf("%s and %s share no history: %w", head, target, ErrConflict)
	}
	base := bases[0]
	if base.Hash == hc.Hash {
		return tree, true, nil
	}
	ours, err := changes(base, tc)
	if err != nil {
		return tree, false, err
	}
	theirs, err := changes(base, hc)
	if err != nil {
		return tree, false, err
	}
	// A path the target changed since the branch was made is a conflict,
	// even when it changed the same way: promoter's branches are rendered
	// on a tip, and a branch whose files the target has moved on (another
	// run landed the same step, say) must be re-rendered, not merged again.
	for p := range theirs {
		if _, ok := ours[p]; ok {
			return tree, false, fmt.Errorf("%s changed on both sides: %w", p, ErrConflict)
		}
	}
	tree, err = r.writeTree(tc.TreeHash, theirs)
	return tree, false, err
}

// changes are the files that differ between from and to, with their content
// at to (nil when deleted).
func changes(from, to *object.Commit) (Files, error) {
	ft, err := from.Tree()
	if err != nil {
		return nil, err
	}
	tt, err := to.Tree()
	if err != nil {
		return nil, err
	}
	diff, err := object.DiffTree(ft, tt)
	if err != nil {
		return nil, err
	}
	out := Files{}
	for _, ch := range diff {
		if ch.From.Name != "" && ch.From.Name != ch.To.Name {
			out[ch.From.Name] = nil
		}
		if ch.To.Name == "" {
			continue
		}
		f, err := tt.File(ch.To.Name)
		if err != nil {
			return nil, err
		}
		s, err := f.Contents()
		if err != nil {
			return nil, err
		}
		out[ch.To.Name] = []byte(s)
	}
	return out, nil
}

// SetStatus logs the status: a plain remote has no statuses.
func (f *LocalForge) SetStatus(ctx context.Context, sha string, st Status) error {
	f.Log.Info("status", "commit", sha, "context", st.Context, "state", st.State, "description", st.Description)
	return nil
}

// Comment logs the comment: a plain remote has no comments.
func (f *LocalForge) Comment(ctx context.Context, pr *PullRequest, body string) error {
	f.Log.Debug("local forge: comment not stored", "head", pr.Head)
	return nil
}

// DeleteBranch deletes the branch on the remote.
func (f *LocalForge) DeleteBranch(ctx context.Context, branch string) error {
	return f.Repo.DeleteBranch(ctx, branch)
}
