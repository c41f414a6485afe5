package promote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// Phase is where a canary stands. derive reads Idle, Pending, Progressing,
// Succeeded and RolledBack from Git alone; decide (decide.go) refines
// Progressing into Waiting or Promoting from the gates and the forge.
type Phase string

// The phases users see.
const (
	// Idle: the canary runs the stable image (or nothing is pending).
	Idle Phase = "Idle"
	// Pending: the canary image differs from stable but no step has been
	// committed yet; the next run starts it.
	Pending Phase = "Pending"
	// Progressing: at a step, observing.
	Progressing Phase = "Progressing"
	// Waiting: at a step, but there is not enough data to decide.
	Waiting Phase = "Waiting"
	// Promoting: the final promotion waits in a pull request.
	Promoting Phase = "Promoting"
	// Succeeded: the last attempt was promoted; stable runs its image.
	Succeeded Phase = "Succeeded"
	// RolledBack: the canary revision was rolled back and is held until
	// the canary image changes.
	RolledBack Phase = "RolledBack"
)

// State is everything a run knows about one canary, derived from the target
// branch alone: the committed component, the base, and promoter's commits.
type State struct {
	Canary *spec.Canary
	// Tip is the target branch commit the state was read at.
	Tip gitops.Commit
	// Base is the overlay without promoter's component. It is nil in a
	// state derived from the component's build record (deriveRecorded):
	// every change is planned on a state derive builds.
	Base *render.Base
	// Committed is the stage promoter's component records.
	Committed *render.Committed
	// Revision is the canary image in effect; StableRevision the stable one.
	Revision, StableRevision string
	Phase                    Phase
	// Attempt holds promoter's commits of the current attempt, newest
	// first (empty when none is running).
	Attempt []gitops.Commit
	// StageStart is when the current step landed on the target branch;
	// CanaryStart when the attempt's first step did. Zero when not
	// progressing.
	StageStart, CanaryStart time.Time
	// Changes are when the attempt's later steps landed (weight changes
	// after the canary's start), oldest first: the sequential test's
	// warm-ups start there.
	Changes []time.Time
	// Pinned is what the sequential test pinned at the canary's start, read
	// back from the component; nil when nothing was pinned.
	Pinned *gates.Pinned
	// Last is promoter's newest commit for the canary, if any.
	Last *gitops.Commit
	// Drift is set when the committed component is not what promoter
	// renders for its stage now (the base moved, or a hand edit).
	Drift bool

	// index is the pass's history index the state was attached from.
	index *historyIndex
	// sync is what analysis.syncStatus found on the forge (sync.go); nil
	// when not asked.
	sync *syncObservation
	// record is the canary's entry for the build records beside the
	// target branch: the saved record taken, or the record of what derive
	// built on inputs the committed component's record no longer holds
	// for; "" when there is nothing to keep (see saveRecords).
	record string
}

// Step and Weight are the committed step and canary weight.
func (s *State) Step() int   { return s.Committed.Step }
func (s *State) Weight() int { return s.Committed.Weight }

// Final reports whether the committed step is the last of the schedule.
func (s *State) Final() bool { return s.schedule().final(s.Committed.Step) }

// schedule is the canary's steps and the step convention.
func (s *State) schedule() schedule { return scheduleOf(s.Canary) }

// history is what derive needs from Git history; *gitops.Repo provides it.
type history interface {
	History(ctx context.Context, from, canary string) ([]gitops.Commit, error)
	LastPromoterCommit(ctx context.Context, from, canary string) (gitops.Commit, error)
}

// derive reads where canary c stands at tip. With a nil history it reads
// the component and the base only; attach adds what history says. The phase
// comes from the component alone.
func derive(ctx context.Context, h history, tip snapshot, head gitops.Commit, c *spec.Canary) (*State, error) {
	fsys := tip.FS()
	b, err := render.Inspect(c, fsys)
	if err != nil {
		return nil, err
	}
	c = render.WithVersions(c, b)
	committed, err := render.ReadStage(c, fsys)
	if errors.Is(err, render.ErrNoComponent) {
		committed, err = &render.Committed{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("canary %s: promoter's component cannot be read (edited by hand?): %w", c.Metadata.Name, err)
	}
	s := &State{Canary: c, Tip: head, Base: b, Committed: committed}
	s.revisions(b.Canary.Image, b.Stable.Image)

	// Drift: the component is not what promoter renders for the committed
	// stage on this base. Rendering is pure (no build), so this is cheap;
	// the build and checks run only when a change is made.
	if _, err := fs.Stat(fsys, render.ComponentDir(c)); err == nil {
		files, err := render.Component(c, b, committed.Stage)
		if err != nil {
			return nil, err
		}
		current, err := tip.ReadDir(render.ComponentDir(c))
		if err != nil {
			return nil, err
		}
		s.Drift = !sameFiles(current, files)
	}
	s.phase()
	if h != nil {
		if err := s.attach(ctx, h); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// deriveRecorded is derive for the states of a pass. When the committed
// component records a build whose inputs did not change since promoter
// wrote it (render.InputsHash, render.Holds), the overlay builds exactly
// as when promoter built and checked it, and the component is byte for byte what promoter
// rendered from it: the base's images and versions come from the record,
// there is no drift, and nothing is built. saved, the canary's entry in
// the build records beside the target branch (gitops.Records), is taken
// the same way when it holds for the inputs at the tip. Otherwise, and
// whenever a record cannot be read, it is derive, and a derive that finds
// no drift leaves in the state the record of what it built, to be saved
// (see saveRecords). The state has no Base when a record was taken; a
// change decided on it is planned on a state that derive builds
// (job.plan), so every commit promoter pushes is still built and checked.
func deriveRecorded(ctx context.Context, tip snapshot, head gitops.Commit, c *spec.Canary, saved string) (*State, error) {
	fsys := tip.FS()
	committed, err := render.ReadStage(c, fsys)
	if err != nil {
		return derive(ctx, nil, tip, head, c)
	}
	hash, err := render.InputsHash(c, fsys, committed)
	if err != nil {
		return derive(ctx, nil, tip, head, c)
	}
	for i, v := range []string{committed.Build, saved} {
		if v == "" {
			continue
		}
		rec, err := render.Holds(v, hash)
		if err != nil || rec == nil {
			continue
		}
		c = render.WithVersions(c, &render.Base{StableVersion: rec.StableVersion, CanaryVersion: rec.CanaryVersion})
		s := &State{Canary: c, Tip: head, Committed: committed}
		if i == 1 {
			s.record = saved // still needed: keep it
		}
		s.revisions(rec.CanaryImage, rec.StableImage)
		s.phase()
		return s, nil
	}
	s, err := derive(ctx, nil, tip, head, c)
	if err == nil && !s.Drift {
		s.record = render.Record(s.Base, hash)
	}
	return s, err
}

// revisions sets the revisions in effect: the component's images, or else
// the base's.
func (s *State) revisions(baseCanary, baseStable string) {
	s.Revision, s.StableRevision = cmpOr(s.Committed.CanaryImage, baseCanary), cmpOr(s.Committed.StableImage, baseStable)
}

// phase sets the phase from the component alone.
func (s *State) phase() {
	committed := s.Committed
	rb := committed.Rollback
	steps := scheduleOf(s.Canary)
	switch {
	case rb != nil && rb.Revision == s.Revision:
		s.Phase = RolledBack
	case s.Revision == s.StableRevision && committed.Step == steps.promoted():
		s.Phase = Succeeded
	case s.Revision == s.StableRevision:
		s.Phase = Idle
	case steps.progressing(committed.Step) && committed.CanaryRevision == s.Revision:
		s.Phase = Progressing
	default:
		// A new revision, or a revision changed mid-flight: start over.
		s.Phase = Pending
	}
}

// needsHistory reports whether deciding for s needs promoter's commits: a
// progressing canary's stage clock and revert, a pending one's attempt.
func (s *State) needsHistory() bool { return s.Phase == Progressing || s.Phase == Pending }

// attach adds what history says: the attempt, the last commit and the
// stage clocks.
func (s *State) attach(ctx context.Context, h history) error {
	name := s.Canary.Metadata.Name
	if idx, ok := h.(*historyIndex); ok {
		s.index = idx
	}
	if last, err := h.LastPromoterCommit(ctx, s.Tip.Hash, name); err == nil {
		s.Last = &last
	} else if !errors.Is(err, gitops.ErrNotFound) {
		return err
	}
	attempt, err := h.History(ctx, s.Tip.Hash, name)
	if err != nil {
		return err
	}
	s.Attempt = attempt
	if s.Phase == Progressing {
		s.StageStart, s.CanaryStart, s.Changes = clocks(s.Attempt, s.Committed.Step, s.Tip.CommitTime)
		if v := s.Committed.SequentialTest; v != "" {
			pin, err := gates.ParsePinned(v)
			if err != nil {
				return fmt.Errorf("%s: annotation %s: %w (promoter wrote it when the canary started; restore it or remove it to choose again)",
					render.StateFile(s.Canary), render.AnnotationSequentialTest, err)
			}
			s.Pinned = pin
		}
	}
	return nil
}

// clocks returns the stage's and the canary's start and the weight changes
// in between. With no commit of promoter's for the current step (a
// component written by hand) the stage clock starts with the tip, but the
// canary's start stays the attempt's: the sequential test runs across the
// whole attempt, and restarting it at every commit would give it a fresh
// alpha each time. Only with no attempt at all does the canary start with
// the tip too.
func clocks(attempt []gitops.Commit, step int, tip time.Time) (stage, canary time.Time, changes []time.Time) {
	stage, canary = stageTimes(attempt, step)
	if stage.IsZero() {
		stage = tip
		if canary.IsZero() || canary.After(tip) {
			canary = tip
		} else if tip.After(canary) {
			changes = append(changes, tip)
		}
	}
	firsts := map[int]time.Time{}
	for _, c := range attempt { // newest first: the last write is the oldest
		if st := c.Message.Trailers.Step; st >= 1 {
			firsts[st] = c.CommitTime
		}
	}
	for _, t := range firsts {
		if t.After(canary) && !t.After(stage) {
			changes = append(changes, t)
		}
	}
	slices.SortFunc(changes, func(a, b time.Time) int { return a.Compare(b) })
	return stage, canary, slices.Compact(changes)
}

// stageTimes finds when the current step and the attempt's first step
// landed: the oldest commits of the attempt at those steps (a re-render of
// the same step does not restart its clock). attempt is newest first.
func stageTimes(attempt []gitops.Commit, step int) (stage, canary time.Time) {
	for _, c := range attempt {
		t := c.CommitTime
		if c.Message.Trailers.Step == step {
			stage = t
		}
		if c.Message.Trailers.Step >= 1 {
			canary = t
		}
	}
	if canary.IsZero() {
		canary = stage
	}
	return stage, canary
}

func sameFiles(current gitops.Files, rendered render.Files) bool {
	n := 0
	for p, data := range rendered {
		if data == nil {
			if _, ok := current[p]; ok {
				return false
			}
			continue
		}
		n++
		if string(current[p]) != string(data) {
			return false
		}
	}
	return n == len(current)
}
