package gitops

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxDepth asks the server for the whole history (what git fetch
// --unshallow sends).
const maxDepth = math.MaxInt32

// Walk calls fn for each commit of the first-parent history from commit
// from (newest first) until fn returns stop or the root is reached. When a
// shallow clone or checkout ends before that, it deepens the repository
// (doubling the depth) and carries on, so callers see the history as if the
// clone were complete. A merge commit without promoter's trailers whose
// second parent is promoter's commit (a pull request a human merged) is
// seen with that commit's trailers: it is when the commit landed.
func (r *Repo) Walk(ctx context.Context, from string, fn func(c Commit) (stop bool, err error)) error {
	h := plumbing.NewHash(from)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		obj, err := r.commitObject(ctx, h)
		if err != nil {
			return err
		}
		c := toCommit(obj)
		if c.Message.Trailers.IsZero() && len(obj.ParentHashes) > 1 {
			c.Message.Trailers = r.mergedTrailers(ctx, obj.ParentHashes[1])
		}
		stop, err := fn(c)
		if err != nil || stop || len(obj.ParentHashes) == 0 {
			return err
		}
		h = obj.ParentHashes[0]
	}
}

// commitObject reads commit h, deepening a shallow repository when h lies
// beyond its boundary.
func (r *Repo) commitObject(ctx context.Context, h plumbing.Hash) (*object.Commit, error) {
	for {
		obj, err := r.git.CommitObject(h)
		if err == nil {
			return obj, nil
		}
		if !errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, fmt.Errorf("commit %s: %w", h, err)
		}
		if r.depth == 0 || r.depth == maxDepth {
			return nil, fmt.Errorf("commit %s: %w", h, ErrNotFound)
		}
		if err := r.deepen(ctx); err != nil {
			return nil, err
		}
	}
}

// deepen doubles the depth of a shallow repository's target branch.
func (r *Repo) deepen(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := r.depth * 2
	if next < DefaultDepth {
		next = DefaultDepth
	}
	if next > 1<<16 {
		next = maxDepth
	}
	r.log.Debug("deepening shallow history", "branch", r.branch, "depth", next)
	if err := r.fetch(ctx, r.branch, next); err != nil {
		return fmt.Errorf("deepen to %d: %w", next, err)
	}
	r.depth = next
	return nil
}

// History returns promoter's commits for canary in the current attempt,
// newest first: walking back from commit from, it collects the commits
// whose Promoter-Canary trailer names canary, up to and including the
// latest one with action start, and stops (excluding it) at a rollback or
// finish commit, which closes the previous attempt. It is empty when the
// latest promoter commit for the canary is a rollback or a finish.
//
// The walk needs the history back to the start of the current attempt, or
// to the root when the canary has none; see [Repo.Walk] for shallow clones.
func (r *Repo) History(ctx context.Context, from, canary string) ([]Commit, error) {
	var out []Commit
	err := r.Walk(ctx, from, func(c Commit) (bool, error) {
		if !c.IsPromoter(canary) {
			return false, nil
		}
		switch c.Message.Trailers.Action {
		case ActionRollback, ActionFinish:
			return true, nil
		case ActionStart:
			out = append(out, c)
			return true, nil
		}
		out = append(out, c)
		return false, nil
	})
	return out, err
}

// LastPromoterCommit returns the newest of promoter's commits for canary
// reachable from from (of any action), or [ErrNotFound].
func (r *Repo) LastPromoterCommit(ctx context.Context, from, canary string) (Commit, error) {
	var found *Commit
	err := r.Walk(ctx, from, func(c Commit) (bool, error) {
		if c.IsPromoter(canary) {
			found = &c
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return Commit{}, err
	}
	if found == nil {
		return Commit{}, fmt.Errorf("no promoter commit for %s: %w", canary, ErrNotFound)
	}
	return *found, nil
}

// ForeignChanges returns the commits between since (exclusive) and from
// (inclusive) on the first-parent history that changed dir but are not
// promoter's commits for canary, newest first. since must be reachable from
// from.
func (r *Repo) ForeignChanges(ctx context.Context, from, since, canary, dir string) ([]Commit, error) {
	var out []Commit
	err := r.Walk(ctx, from, func(c Commit) (bool, error) {
		if c.Hash == since {
			return true, nil
		}
		if c.IsPromoter(canary) || len(c.Parents) == 0 {
			return false, nil
		}
		changed, err := r.changed(ctx, c, dir)
		if err != nil {
			return false, err
		}
		if changed {
			out = append(out, c)
		}
		return false, nil
	})
	return out, err
}

// changed reports whether c changed dir relative to its first parent.
func (r *Repo) changed(ctx context.Context, c Commit, dir string) (bool, error) {
	snap, err := r.snapshot(c)
	if err != nil {
		return false, err
	}
	if len(c.Parents) == 0 {
		return snap.DirHash(dir) != "", nil
	}
	if _, err := r.commitObject(ctx, plumbing.NewHash(c.Parents[0])); err != nil {
		return false, err
	}
	parent, err := r.snapshot(Commit{Hash: c.Parents[0]})
	if err != nil {
		return false, err
	}
	return snap.DirHash(dir) != parent.DirHash(dir), nil
}

// mergedTrailers returns the promoter trailers of a merge's second parent:
// a pull request merged by a human (GitHub's "Merge pull request #N"
// message) lands promoter's commit without its trailers, and the merge is
// when that commit landed on the branch. Zero when the parent is not
// promoter's or cannot be read (a shallow boundary).
func (r *Repo) mergedTrailers(ctx context.Context, h plumbing.Hash) Trailers {
	obj, err := r.commitObject(ctx, h)
	if err != nil {
		return Trailers{}
	}
	return ParseMessage(obj.Message).Trailers
}
