package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// Revert prepares the commit that reverts commits (promoter's commits for
// canary, newest first, as [Repo.History] returns them) in dir only: dir
// gets back the content it had before the oldest of them, and nothing
// outside dir changes, so commits made elsewhere in between survive. The
// message is what git revert writes, one "This reverts commit <sha>." line
// per commit, then reason.
//
// Errors: [*HandEditError] when dir at tip is not what promoter's newest
// commit left (a commit that is not promoter's changed it since): what to
// restore is then unknown, and the caller must not guess. An empty commits
// is an error.
func (r *Repo) Revert(ctx context.Context, tip *Snapshot, dir, canary string, commits []Commit, reason string) (*Change, error) {
	if len(commits) == 0 {
		return nil, errors.New("revert: no commits to revert")
	}
	oldest := commits[len(commits)-1]
	if len(oldest.Parents) == 0 {
		return nil, fmt.Errorf("revert %s: it is a root commit", oldest.Short())
	}
	base := oldest.Parents[0]
	// A hand edit matters only if it is still there: one made between two of
	// promoter's commits was replaced by the later one, which rewrote the
	// whole directory. So compare the tip with promoter's newest commit, and
	// walk (a short way) only when they differ, to name the edits.
	newest, err := r.snapshot(commits[0])
	if err != nil {
		return nil, err
	}
	if tip.DirHash(dir) != newest.DirHash(dir) {
		foreign, err := r.ForeignChanges(ctx, tip.Commit.Hash, commits[0].Hash, canary, dir)
		if err != nil {
			return nil, err
		}
		if len(foreign) == 0 {
			// The difference came through a merge's second parent.
			foreign = []Commit{tip.Commit}
		}
		return nil, &HandEditError{Dir: dir, Commits: foreign}
	}
	if _, err := r.commitObject(ctx, plumbing.NewHash(base)); err != nil {
		return nil, err
	}
	before, err := r.snapshot(Commit{Hash: base})
	if err != nil {
		return nil, err
	}
	files, err := before.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	return &Change{
		Dir:     dir,
		Files:   files,
		Message: RevertMessage(canary, commits, reason),
	}, nil
}

// RevertMessage is the message of a commit reverting commits (newest
// first): `Revert "<subject of the newest>"`, one "This reverts commit
// <sha>." line per commit, the reason, and the trailers of a rollback.
// notes are added as further paragraphs.
func RevertMessage(canary string, commits []Commit, reason string, notes ...string) Message {
	var b strings.Builder
	for _, c := range commits {
		fmt.Fprintf(&b, "This reverts commit %s.\n", c.Hash)
	}
	if reason != "" {
		fmt.Fprintf(&b, "\nReason: %s\n", oneLine(reason))
	}
	for _, n := range notes {
		b.WriteString("\n" + strings.TrimSpace(n) + "\n")
	}
	subject := "Revert canary(" + canary + ")"
	if len(commits) > 0 {
		subject = "Revert \"" + commits[0].Message.Subject + "\""
	}
	return Message{
		Subject:  subject,
		Body:     b.String(),
		Trailers: Trailers{Canary: canary, Step: 0, Action: ActionRollback},
	}
}

// oneLine keeps a user-supplied text from forging trailers or paragraphs.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
