package gitops

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Forge errors.
var (
	// ErrConflict means a pull request cannot be merged because its base
	// moved in a conflicting way (GitHub's mergeable_state "dirty"):
	// re-render the head branch on the new base.
	ErrConflict = errors.New("pull request conflicts with its base")
	// ErrHeadChanged means the head branch moved since the pull request
	// was read: read it again.
	ErrHeadChanged = errors.New("pull request head changed")
	// ErrAlreadyMerged means the pull request's head is already part of
	// the base: someone else merged it. The merge did not happen now.
	ErrAlreadyMerged = errors.New("pull request already merged")
)

// RefusedError is a forge's refusal that a rerun does not change: a policy
// of the repository (a merge method it does not allow, a pull request that
// is a draft, a token that may not open pull requests). Reason is the
// forge's own words, Hint what to change.
type RefusedError struct {
	What, Reason, Hint string
}

func (e *RefusedError) Error() string { return e.What + ": refused: " + e.Reason }

// Merge is what [Forge.MergePullRequest] did: merged, or why not yet.
type Merge struct {
	Merged bool
	// Wait, when not merged, is the forge's reason it is not mergeable
	// yet (checks or reviews pending, mergeability being computed, queued).
	Wait string
}

// PullRequest is a pull request as promoter sees it.
type PullRequest struct {
	// Number is the forge's number; 0 for the local forge.
	Number int
	URL    string
	// Head is the head branch (promoter/<canary>/step-<n>), HeadSHA its tip.
	Head    string
	HeadSHA string
	Base    string
	Title   string
	Body    string
	Labels  []string
}

// NewPullRequest is what [Forge.OpenPullRequest] opens.
type NewPullRequest struct {
	Head, Base  string
	Title, Body string
	Labels      []string
	Reviewers   []string
}

// MergeMethod is how a pull request is merged: spec.pullRequests.mergeMethod,
// "merge" (the default), "squash" or "rebase", as the forge names them.
type MergeMethod string

// The merge methods: a merge commit (the default), one squashed commit,
// or the branch's commits rebased onto the base.
const (
	MergeCommit MergeMethod = "merge"
	MergeSquash MergeMethod = "squash"
	MergeRebase MergeMethod = "rebase"
)

// StatusState is the state of a commit status.
type StatusState string

// Commit status states.
const (
	StatusPending StatusState = "pending"
	StatusSuccess StatusState = "success"
	StatusFailure StatusState = "failure"
	StatusError   StatusState = "error"
)

// Status is a commit status, the gate verdict on a pull request's head.
type Status struct {
	State       StatusState
	Context     string
	Description string
	TargetURL   string
}

// CommitCheck is a commit status or a check run on a commit, posted by
// someone else (Argo CD's notifications, Flux's notification-controller,
// CI): what analysis.syncStatus reads.
type CommitCheck struct {
	// Kind is "commit status" or "check run".
	Kind string
	// Name is a status's context or a check run's name.
	Name string
	// State is success, failure, error or pending: a check run that
	// concluded success is success; failure, timed_out, cancelled,
	// action_required and startup_failure are failure; one not completed,
	// or neutral, skipped or stale, is pending.
	State StatusState
	// At is when it said so: a status's created_at, a check run's
	// completed_at (started_at while it runs).
	At          time.Time
	Description string
	URL         string
}

// CheckReader is a forge that can read the commit statuses and check runs
// on a commit. The local forge cannot: a plain Git remote has none.
type CheckReader interface {
	// CommitChecks returns every commit status and check run on sha,
	// oldest first.
	CommitChecks(ctx context.Context, sha string) ([]CommitCheck, error)
}

// Forge is where promoter's pull requests live.
type Forge interface {
	// FindPullRequest returns the open pull request whose head is the
	// branch head, or nil and no error when there is none. A rerun uses it
	// to adopt its own pull request instead of opening a second one.
	FindPullRequest(ctx context.Context, head string) (*PullRequest, error)
	// OpenPullRequest opens a pull request from the already pushed branch
	// pr.Head into pr.Base. When one is open for that head already, it
	// returns that one.
	OpenPullRequest(ctx context.Context, pr NewPullRequest) (*PullRequest, error)
	// UpdatePullRequest replaces the body and adds labels (nil leaves them).
	UpdatePullRequest(ctx context.Context, pr *PullRequest, body string, labels []string) error
	// MergePullRequest merges pr with method, using msg as the merge (or
	// squash) commit's message so the branch keeps promoter's trailers.
	// It returns Merged once merged, and otherwise, with no error, the
	// reason the pull request is not mergeable yet (checks pending,
	// reviews missing, base ahead, queued): that is a wait, not a failure.
	// Errors: [ErrConflict] when the head must be re-rendered on the new
	// base, [ErrAlreadyMerged] when the head is already in the base
	// (another run merged it), [ErrHeadChanged] when the head moved,
	// [*RefusedError] for a policy refusal no rerun changes, other errors
	// for real failures.
	MergePullRequest(ctx context.Context, pr *PullRequest, method MergeMethod, msg Message) (Merge, error)
	// SetStatus sets a commit status on sha.
	SetStatus(ctx context.Context, sha string, st Status) error
	// Comment adds a comment to pr.
	Comment(ctx context.Context, pr *PullRequest, body string) error
	// DeleteBranch deletes one of promoter's branches; a missing branch is
	// success.
	DeleteBranch(ctx context.Context, branch string) error
}

// StepBranch is the head branch of the pull request for step n of canary.
func StepBranch(canary string, step int) string {
	return fmt.Sprintf("%s%s/step-%d", BranchPrefix, canary, step)
}

// RollbackBranch is the head branch of the pull request of a rollback.
func RollbackBranch(canary string) string {
	return BranchPrefix + canary + "/rollback"
}
