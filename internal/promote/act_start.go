package promote

import (
	"context"
	"fmt"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
)

// startChange takes a pending canary to the first step: the canary image
// gets the first step's weight, and the sequential test pins its settings.
type startChange struct{}

func (startChange) action() Action { return ActStart }

func (startChange) due(_, cur *State, _ intent) bool { return cur.Phase == Pending }

func (startChange) target(cur *State) (int, int) {
	s := cur.schedule()
	return s.first(), s.weight(s.first())
}

func (ch startChange) stage(ctx context.Context, x *actContext, cur *State, _ intent) render.Stage {
	step, weight := ch.target(cur)
	return render.Stage{Step: step, Weight: weight, CanaryImage: cur.Committed.CanaryImage, CanaryReplicas: canaryReplicas(cur.Canary),
		StableImage: cur.Committed.StableImage, SequentialTest: x.p.pinSequentialTest(ctx, cur.Canary)}
}

// trailer is start, which opens the attempt in the history, unless a
// set-image commit (promoter start) of this revision opened it already:
// then promote, so that the attempt keeps its beginning.
func (startChange) trailer(cur *State) gitops.Action {
	if len(cur.Attempt) > 0 && cur.Committed.CanaryRevision == cur.Revision {
		return gitops.ActionPromote
	}
	return gitops.ActionStart
}

func (ch startChange) subject(cur *State) string {
	_, weight := ch.target(cur)
	return gitops.Subject(cur.Canary.Metadata.Name, cur.Weight(), weight)
}

func (ch startChange) summary(cur *State) string {
	_, weight := ch.target(cur)
	return fmt.Sprintf("Start the canary of %s: %d%% of traffic to the canary.", cur.Revision, weight)
}

func (startChange) after(Phase) Phase { return Progressing }

// stale is the first step's own branch, left when a run stopped between
// its merge and the branch's deletion.
func (ch startChange) stale(cur *State) []int {
	step, _ := ch.target(cur)
	return []int{step - 1}
}

func (startChange) announce() (title, color string) { return "Canary started", "#439FE0" }
