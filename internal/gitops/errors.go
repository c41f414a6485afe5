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
	// being pushed was made: fetch, re-derive, re-render and try again.
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

// IsNonFastForward reports whether err is (or wraps) [ErrNonFastForward].
func IsNonFastForward(err error) bool { return errors.Is(err, ErrNonFastForward) }

// IsNothingToCommit reports whether err is (or wraps) [ErrNothingToCommit].
func IsNothingToCommit(err error) bool { return errors.Is(err, ErrNothingToCommit) }

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

// PushError is a push the remote (or the local pre-check) rejected for a
// reason other than a moved branch.
type PushError struct {
	Ref    string
	Reason string
}

func (e *PushError) Error() string { return fmt.Sprintf("push %s rejected: %s", e.Ref, e.Reason) }
