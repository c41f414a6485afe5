package promote

import (
	"context"

	"github.com/promoter-dev/promoter/internal/gitops"
)

// historyIndex holds promoter's commits of every canary, read in one walk of
// the target branch's first-parent history, so that a pass over a thousand
// canaries reads the history once instead of once per canary.
type historyIndex struct {
	// tip is the commit the walk started from.
	tip string
	// byCanary holds each canary's commits, newest first.
	byCanary map[string][]gitops.Commit
}

// indexHistory walks the first-parent history from commit from until every
// canary in wanted has met the start of its attempt (a start, rollback or
// finish commit), or to the root when wanted is nil. A shallow clone is
// deepened only as far as the walk goes, so a pass whose canaries are all
// idle reads no history at all.
func indexHistory(ctx context.Context, r *gitops.Repo, from string, wanted map[string]bool) (*historyIndex, error) {
	idx := &historyIndex{tip: from, byCanary: map[string][]gitops.Commit{}}
	if wanted != nil && len(wanted) == 0 {
		return idx, nil
	}
	open := len(wanted)
	closed := map[string]bool{}
	err := r.Walk(ctx, from, func(c gitops.Commit) (bool, error) {
		name := c.Message.Trailers.Canary
		if name == "" {
			return false, nil
		}
		idx.byCanary[name] = append(idx.byCanary[name], c)
		switch c.Message.Trailers.Action {
		case gitops.ActionStart, gitops.ActionRollback, gitops.ActionFinish:
			if wanted[name] && !closed[name] {
				closed[name] = true
				open--
			}
		}
		return wanted != nil && open == 0, nil
	})
	return idx, err
}

// History returns the canary's commits of its current attempt, newest
// first, with the semantics of [gitops.Repo.History]: back to and including
// the latest start, stopping before a rollback or finish.
func (h *historyIndex) History(_ context.Context, _, canary string) ([]gitops.Commit, error) {
	var out []gitops.Commit
	for _, c := range h.byCanary[canary] {
		switch c.Message.Trailers.Action {
		case gitops.ActionRollback, gitops.ActionFinish:
			return out, nil
		case gitops.ActionStart:
			return append(out, c), nil
		}
		out = append(out, c)
	}
	return out, nil
}

// LastPromoterCommit returns the canary's newest commit, or ErrNotFound.
func (h *historyIndex) LastPromoterCommit(_ context.Context, _, canary string) (gitops.Commit, error) {
	cs := h.byCanary[canary]
	if len(cs) == 0 {
		return gitops.Commit{}, gitops.ErrNotFound
	}
	return cs[0], nil
}

// extend returns the index as of a newer tip: the commits between tip and
// the indexed tip (after a landing, one or two) are walked and put in front.
// It returns nil when the indexed tip is not in tip's first-parent history
// (the branch was rewritten), and the caller walks the whole history.
func (h *historyIndex) extend(ctx context.Context, r *gitops.Repo, tip string) (*historyIndex, error) {
	if tip == h.tip {
		return h, nil
	}
	fresh := map[string][]gitops.Commit{}
	found := false
	err := r.Walk(ctx, tip, func(c gitops.Commit) (bool, error) {
		if c.Hash == h.tip {
			found = true
			return true, nil
		}
		if name := c.Message.Trailers.Canary; name != "" {
			fresh[name] = append(fresh[name], c)
		}
		return false, nil
	})
	if err != nil || !found {
		return nil, err
	}
	out := &historyIndex{tip: tip, byCanary: make(map[string][]gitops.Commit, len(h.byCanary)+len(fresh))}
	for name, cs := range h.byCanary {
		out.byCanary[name] = cs
	}
	for name, cs := range fresh {
		out.byCanary[name] = append(cs, h.byCanary[name]...)
	}
	return out, nil
}
