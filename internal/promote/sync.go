package promote

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/spec"
)

// Sync evidence (analysis.syncStatus): a stage's clock starts only once the
// commit that landed it carries a successful commit status or check run of
// the named context, which Argo CD's notifications and Flux's
// notification-controller post when they applied a commit. Argo CD and
// Flux apply the branch's tip, so when other commits landed after the
// stage's, the evidence may be on one of those: the commits from the
// stage's to the tip are looked at, oldest first, and the first success on
// any of them starts the clock (never before the stage's commit landed).
// The time is the forge's (a status's created_at, a check run's
// completed_at), so every run derives the same start.
//
// Until then the canary is Waiting. After analysis.syncStatus.timeout from
// the stage's commit without a success, or as soon as the newest matching
// status or check run reports failure or error, the stage is Inconclusive
// and holds, saying why; a success arriving later still starts the clock.
// Rollback triggers act meanwhile, as with verifyTraffic.

// syncObservation is what analysis.syncStatus found for a progressing stage.
type syncObservation struct {
	// at is when the success was reported; zero while there is none.
	at time.Time
	// wait says why the stage waits; "" once synced.
	wait string
	// inconclusive is set when the wait timed out or the sync failed.
	inconclusive bool
	// err is a failure to read the forge.
	err error
}

// maxSyncCommits bounds the commits whose statuses one run reads: the
// stage's, the oldest ones after it and the tip. maxSyncWalk bounds the
// walk from the tip back to the stage's commit.
const (
	maxSyncCommits = 10
	maxSyncWalk    = 5000
)

// observeSync reads the sync evidence of a progressing stage and moves
// st.StageStart to it. It returns nil when the canary does not ask for it.
func (p *Promoter) observeSync(ctx context.Context, st *State, now time.Time) *syncObservation {
	ss := st.Canary.Spec.Analysis.SyncStatus
	if ss == nil {
		return nil
	}
	reader, ok := p.opts.Forge.(gitops.CheckReader)
	if p.opts.Forge != nil && !ok {
		// Refused in every phase: a canary started here could never
		// have its clock start.
		return &syncObservation{err: syncRefusal(st.Canary)}
	}
	if st.Phase != Progressing || st.Drift {
		return nil
	}
	if !ok {
		return &syncObservation{wait: fmt.Sprintf("sync status %s not read: no forge is set up (a dry run has none); the stage clock starts when it reports success", ss.Context)}
	}
	var newest *gitops.CommitCheck
	newestOn := ""
	// look reads sha's checks; it returns the observation once one
	// matching reports success.
	look := func(sha string) (*syncObservation, error) {
		checks, err := reader.CommitChecks(ctx, sha)
		if err != nil {
			return nil, fmt.Errorf("analysis.syncStatus: %w", err)
		}
		for i, c := range checks {
			if !ss.Matches(c.Name) {
				continue
			}
			if c.State == gitops.StatusSuccess {
				at := c.At
				if at.Before(st.StageStart) {
					at = st.StageStart
				}
				st.StageStart = at
				return &syncObservation{at: at}, nil
			}
			if newest == nil || !c.At.Before(newest.At) {
				newest, newestOn = &checks[i], sha
			}
		}
		return nil, nil
	}
	// The stage's own commit first: once synced, a run reads only it.
	stageSHA := stageCommit(st)
	if o, err := look(stageSHA); o != nil || err != nil {
		return cmpObservation(o, err)
	}
	later, err := p.laterCommits(ctx, st, stageSHA)
	if err != nil {
		return &syncObservation{err: err}
	}
	for _, sha := range later {
		if o, err := look(sha); o != nil || err != nil {
			return cmpObservation(o, err)
		}
	}
	stage := short(stageSHA)
	switch {
	case newest != nil && (newest.State == gitops.StatusFailure || newest.State == gitops.StatusError):
		why := newest.Description
		if why == "" {
			why = "no description"
		}
		return &syncObservation{inconclusive: true, wait: fmt.Sprintf("Inconclusive: the %s %s on %s reports %s (%s) and none reports success: Argo CD or Flux did not apply the stage; the stage clock starts once one does",
			newest.Kind, newest.Name, short(newestOn), newest.State, why)}
	case now.Sub(st.StageStart) >= ss.Timeout.Duration:
		return &syncObservation{inconclusive: true, wait: fmt.Sprintf("Inconclusive: no commit status or check run %s reports success on %s or a later commit %s after the stage landed (analysis.syncStatus.timeout %s): check that Argo CD or Flux syncs this branch and posts that context",
			ss.Context, stage, round(now.Sub(st.StageStart)), ss.Timeout.Duration)}
	}
	return &syncObservation{wait: fmt.Sprintf("waiting for sync status %s on %s (Argo CD or Flux has not reported applying the stage yet); the stage clock starts then (Inconclusive after %s)",
		ss.Context, stage, ss.Timeout.Duration)}
}

// laterCommits are the target branch's commits after the stage's, oldest
// first, at most maxSyncCommits-1 of them: the oldest, and the tip. The
// walk back from the tip stops after maxSyncWalk commits.
func (p *Promoter) laterCommits(ctx context.Context, st *State, stage string) ([]string, error) {
	var after []string // newest first
	p.gitMu.Lock()
	err := p.opts.Repo.Walk(ctx, st.Tip.Hash, func(c gitops.Commit) (bool, error) {
		if c.Hash == stage || len(after) == maxSyncWalk {
			return true, nil
		}
		after = append(after, c.Hash)
		return false, nil
	})
	p.gitMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("analysis.syncStatus: %w", err)
	}
	slices.Reverse(after)
	if n := maxSyncCommits - 1; len(after) > n {
		after = append(after[:n-1], after[len(after)-1])
	}
	return after, nil
}

// cmpObservation is the observation of look, or its error.
func cmpObservation(o *syncObservation, err error) *syncObservation {
	if err != nil {
		return &syncObservation{err: err}
	}
	return o
}

// stageCommit is the commit that landed the current step: the oldest
// commit of the attempt at that step (a re-render does not restart the
// clock), or the tip when promoter made none (a component written by
// hand).
func stageCommit(st *State) string {
	sha := ""
	for _, c := range st.Attempt { // newest first
		if c.Message.Trailers.Step == st.Step() {
			sha = c.Hash
		}
	}
	if sha == "" {
		sha = st.Tip.Hash
	}
	return sha
}

// syncRefusal is the error of analysis.syncStatus on a forge without
// commit statuses (the local forge, a plain Git remote).
func syncRefusal(c *spec.Canary) error {
	const field = "spec.analysis.syncStatus"
	return &gitops.RefusedError{
		What:   fmt.Sprintf("%s:%d: %s", c.Source.File, c.Source.LineOf(field), field),
		Reason: "the local forge (a plain Git remote) has no commit statuses or check runs to read",
		Hint:   "run with --forge github (and GITHUB_TOKEN) where Argo CD or Flux posts commit statuses, or remove analysis.syncStatus (analysis.verifyTraffic waits for the mesh instead)",
	}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
