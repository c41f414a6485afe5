package promote

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
)

// rollbackChange reverts promoter's commits of the attempt in its
// component: 100% stable, canary weight 0 kept, canary scaled to 0, and the
// rollback recorded in annotations.
//
// Only a base that does not build blocks it: when the overlay pins the
// canary's replicas, the revert still lands 100% stable, and the commit
// and the decision say that the replicas stay as pinned.
type rollbackChange struct{}

func (rollbackChange) action() Action { return ActRollback }

func (rollbackChange) due(_, cur *State, _ intent) bool {
	return cur.Phase == Progressing || cur.Phase == Pending
}

func (rollbackChange) target(cur *State) (int, int) { return cur.schedule().before(), 0 }

func (ch rollbackChange) stage(_ context.Context, x *actContext, cur *State, in intent) render.Stage {
	step, weight := ch.target(cur)
	return render.Stage{
		Step: step, Weight: weight, CanaryImage: cur.Committed.CanaryImage, CanaryReplicas: render.Replicas(0),
		StableImage: cur.Committed.StableImage,
		Rollback:    &render.Rollback{Revision: cur.Revision, Reason: strings.Join(in.reasons, "; "), At: x.p.opts.Clock().UTC(), PreviousWeight: cur.Weight()},
	}
}

func (rollbackChange) trailer(*State) gitops.Action { return gitops.ActionRollback }

// subject and summary are those of a commit with no attempt to revert; a
// revert's are git's (Revert "<subject>", This reverts commit <sha>.).
func (rollbackChange) subject(cur *State) string {
	return gitops.Subject(cur.Canary.Metadata.Name, cur.Weight(), 0)
}

func (rollbackChange) summary(cur *State) string {
	return fmt.Sprintf("Roll back %s at %d%%: 100%% to stable.", cur.Revision, cur.Weight())
}

func (rollbackChange) after(Phase) Phase { return RolledBack }

// stale is the next step's branch, whose pull request will never merge.
func (rollbackChange) stale(cur *State) []int { return []int{cur.Step() + 1} }

// compose writes the revert of the attempt's commits, with the reason and
// the gate evidence.
func (ch rollbackChange) compose(ctx context.Context, x *actContext, tip *gitops.Snapshot, cur *State, in intent, report *gates.Report) (*gitops.Change, []string, error) {
	c := cur.Canary
	name := c.Metadata.Name
	dir := render.ComponentDir(c)
	reason := strings.Join(in.reasons, "; ")
	res, err := render.RenderOn(c, tip.FS(), cur.Base, ch.stage(ctx, x, cur, in))
	if err != nil {
		return nil, nil, err
	}
	replicas := "canary replicas 0"
	for _, o := range cur.Base.Overrides {
		if o.Kind == render.OverrideReplicas {
			replicas = fmt.Sprintf("canary replicas stay %d as the overlay pins them", o.Pinned)
		}
	}
	evidence := fmt.Sprintf("Rolled back %s at %d%%: 100%% to stable (%s), canary weight 0, %s.", cur.Revision, cur.Weight(), cur.StableRevision, replicas)
	notes := []string{evidence}
	for _, w := range res.Warnings {
		notes = append(notes, "Warning: "+w+".")
	}
	if report != nil {
		notes = append(notes, evidenceText(report))
	}
	var msg gitops.Message
	if len(cur.Attempt) == 0 {
		step, _ := ch.target(cur)
		msg = gitops.Message{
			Subject:  ch.subject(cur),
			Body:     ch.summary(cur) + "\n\nReason: " + reason + "\n\n" + strings.Join(notes, "\n\n"),
			Trailers: gitops.Trailers{Canary: name, Step: step, Action: ch.trailer(cur)},
		}
	} else {
		_, err := x.p.opts.Repo.Revert(ctx, tip, dir, name, cur.Attempt, reason)
		var he *gitops.HandEditError
		switch {
		case errors.As(err, &he):
			notes = append(notes, fmt.Sprintf("Note: %s. Its content was not restored; the stable-only stage was rendered instead.", he.Error()))
		case err != nil:
			return nil, nil, err
		}
		msg = gitops.RevertMessage(name, cur.Attempt, reason, notes...)
	}
	return &gitops.Change{Dir: dir, Files: componentFiles(res.Files), Message: msg}, res.Warnings, nil
}

func (rollbackChange) announce() (title, color string) { return "Canary rolled back", "danger" }
