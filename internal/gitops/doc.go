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
// landed, and the commits of the current attempt, come from promoter's own
// commits, found by the trailers
//
//	Promoter-Canary: myapp
//	Promoter-Step: 3
//	Promoter-Action: promote
//
// walking the first-parent history of the target branch ([Repo.Walk], which
// a pass uses once for all its canaries, or [Repo.History] for one). The
// walk needs the history back to the commit that started the current
// attempt. A shallow clone or CI checkout is deepened on demand, doubling
// the depth, when a walk reaches its boundary; Options.Depth sets the
// initial depth.
//
// A snapshot's file system ([Snapshot.FS]) is safe for concurrent use, also
// while the Repo fetches or commits: it reads objects through read-only
// storages of its own that keep their packfiles open, so the canaries of a
// pass read their files in parallel. [Repo.Close] closes them.
//
// # Writing
//
// [Repo.Commit] builds a commit object directly from a parent tree and a
// [Change] (no worktree is touched); a change that leaves the tree as it was
// is [ErrNothingToCommit], which callers treat as success. [Repo.Push]
// pushes with an explicit refspec and reports a moved branch as
// [ErrNonFastForward] and any other rejection as a [*PushError] carrying
// the server's message.
//
// [Repo.Retry] is the one push-and-retry loop: it tries again, after a
// jittered, growing delay and a bounded number of times, only when
// [IsRace] says someone else moved the target branch or a pull request's
// head (non-fast-forward, head changed, conflict with the new base, already
// merged); every other error, a rejected push included, ends it.
// [Repo.UpdateChain] is built on it: fetch, ask the callers for their
// changes given the new tip, commit them as a chain, push once
// ([Repo.Update] for a chain of one). The target branch is never
// force-pushed; only promoter's own promoter/... branches are.
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
