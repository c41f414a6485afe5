package promote

import (
	"context"
	"fmt"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
)

// promoteChange advances a progressing canary one step.
type promoteChange struct{}

func (promoteChange) action() Action { return ActPromote }

func (promoteChange) due(st, cur *State, _ intent) bool { return stillProgressing(st, cur) }

func (promoteChange) target(cur *State) (int, int) {
	next := cur.Step() + 1
	return next, cur.schedule().weight(next)
}

// stage keeps what the sequential test pinned at the start.
func (ch promoteChange) stage(_ context.Context, _ *actContext, cur *State, _ intent) render.Stage {
	step, weight := ch.target(cur)
	return render.Stage{Step: step, Weight: weight, CanaryImage: cur.Committed.CanaryImage, CanaryReplicas: canaryReplicas(cur.Canary),
		StableImage: cur.Committed.StableImage, SequentialTest: cur.Committed.SequentialTest}
}

func (promoteChange) trailer(*State) gitops.Action { return gitops.ActionPromote }

func (ch promoteChange) subject(cur *State) string {
	_, weight := ch.target(cur)
	return gitops.Subject(cur.Canary.Metadata.Name, cur.Weight(), weight)
}

func (ch promoteChange) summary(cur *State) string {
	step, weight := ch.target(cur)
	return fmt.Sprintf("Advance the canary of %s from %d%% to %d%% (step %d of %d).", cur.Revision, cur.Weight(), weight, step, len(cur.schedule()))
}

func (promoteChange) after(Phase) Phase { return Progressing }

// stale is the branch of the step just left (see startChange.stale).
func (ch promoteChange) stale(cur *State) []int {
	step, _ := ch.target(cur)
	return []int{step - 1}
}

func (promoteChange) announce() (title, color string) { return "Canary promoted one step", "#439FE0" }
