// Package gitops is promoter's Git layer: it opens or clones the GitOps
// repository, reads files at a commit, derives a canary's history from
// promoter's own commits, commits promoter-owned files, pushes with retries
// on races, reverts promoter's commits, and talks to forges.
//
// It knows nothing of Prometheus, Kustomize or the Canary spec: it works on
// files, directories, commits and trailers. The product never executes the
// git CLI; everything goes through go-git, including file:// remotes, which
// are served by go-git's in-process server.
//
// # Opening a repository
//
// [Open] opens an existing checkout (the CI case, `--repo .`) or clones a URL
// (a path, file://, http(s)://, ssh:// or scp-style) into a temporary
// directory: one branch, no checkout, shallow. Credentials come from [Auth]
// (see [AuthFromEnv]) and are passed per operation, never written into the
// remote URL stored in .git/config.
//
// # State without a database
//
// promoter keeps no state file. The current stage is read from the files of
// promoter's component at the tip ([Repo.Tip], [Snapshot.FS]); when it
// landed is [Repo.LastChange] of that directory; the commits of the current
// attempt are [Repo.History], found by the trailers
//
//	Promoter-Canary: myapp
//	Promoter-Step: 3
//	Promoter-Action: promote
//
// walking the first-parent history of the target branch. The walk needs the
// history back to the commit that started the current attempt (or, for
// LastChange, to the commit that last changed the directory). A shallow
// clone or CI checkout is deepened on demand, doubling the depth, when a
// walk reaches its boundary; Options.Depth sets the initial depth.
//
// # Writing
//
// [Repo.Commit] builds a commit object directly from a parent tree and a
// [Change] (no worktree is touched); a change that leaves the tree as it was
// is [ErrNothingToCommit], which callers treat as success. [Repo.Push]
// pushes with an explicit refspec and reports a moved branch as
// [ErrNonFastForward]; [Repo.Update] is the loop built on both: fetch, ask
// the caller for the change given the new tip, commit, push, and on a race
// try again after a jittered backoff, a bounded number of times. The target
// branch is never force-pushed; only promoter's own promoter/... branches
// are.
//
// # Rollback
//
// go-git has no revert. promoter owns its files, so [Repo.Revert] restores
// the content a directory had before the commits being reverted and writes
// the message git revert would ("Revert "<subject>"", "This reverts commit
// <sha>."). Commits elsewhere in the repository are untouched. If someone
// other than promoter changed the directory in between, it returns a
// [HandEditError] instead of guessing.
//
// # Forges
//
// [Forge] is the pull-request interface. [LocalForge] needs no API: a pull
// request is the branch promoter/<canary>/step-<n>, merged by promoter with a
// merge commit it builds itself. The GitHub forge lives in the github
// subpackage.
package gitops
