package gitops

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Test for them with [errors.Is]; every error returned by
// this package wraps one of them where the caller has something specific to
// do about it.
var (
	// ErrNonFastForward means the target branch moved since the commit
	// being pushed (or the change being landed) was derived: fetch,
	// re-derive, re-render and try again ([Repo.Retry]).
	ErrNonFastForward = errors.New("non-fast-forward: the branch moved on the remote")
	// ErrNothingToCommit means the change leaves the tree as it was. It is
	// success: the repository already says what the caller wanted.
	ErrNothingToCommit = errors.New("nothing to commit")
	// ErrNotFound means a branch, commit or file does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAuth means the remote refused the credentials (or wanted some).
	ErrAuth = errors.New("authentication failed")
	// ErrForbiddenForce means a force push of a branch promoter does not
	// own was requested; promoter never force-pushes a target branch.
	ErrForbiddenForce = errors.New("refusing to force-push a branch promoter does not own")
)

// HandEditError reports that files promoter owns were changed by commits
// that are not promoter's, so a revert cannot know what to restore.
// Callers must not guess: render the safe stage and say so.
type HandEditError struct {
	// Dir is the promoter-owned directory.
	Dir string
	// Commits are the foreign commits that touched Dir, newest first.
	Commits []Commit
}

func (e *HandEditError) Error() string {
	shas := make([]string, 0, len(e.Commits))
	for _, c := range e.Commits {
		shas = append(shas, c.Short())
	}
	return fmt.Sprintf("%s was edited outside promoter (by %s)", e.Dir, strings.Join(shas, ", "))
}

// PushError is a push the remote rejected for a reason other than a moved
// branch (a protected branch, a pre-receive hook); Reason is the server's
// message. It is not a race ([IsRace]): retrying would be rejected again.
type PushError struct {
	Ref    string
	Reason string
}

func (e *PushError) Error() string { return fmt.Sprintf("push %s rejected: %s", e.Ref, e.Reason) }
