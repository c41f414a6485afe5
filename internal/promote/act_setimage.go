package promote

import (
	"context"
	"fmt"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
)

// setImageChange commits a new canary image (promoter start) at step 0,
// no traffic yet: the next run starts it.
type setImageChange struct{}

func (setImageChange) action() Action { return ActSetImage }

func (setImageChange) due(_, cur *State, in intent) bool {
	return !(cur.Revision == in.image && cur.Committed.CanaryImage == in.image && cur.Phase != RolledBack)
}

func (setImageChange) target(cur *State) (int, int) { return cur.schedule().before(), 0 }

func (ch setImageChange) stage(_ context.Context, _ *actContext, cur *State, in intent) render.Stage {
	step, weight := ch.target(cur)
	return render.Stage{Step: step, Weight: weight, CanaryImage: in.image, StableImage: cur.Committed.StableImage}
}

// trailer is start: the image change opens the attempt, so the history of
// the canary begins with it (the start that follows writes promote).
func (setImageChange) trailer(*State) gitops.Action { return gitops.ActionStart }

func (setImageChange) subject(cur *State) string {
	return gitops.Subject(cur.Canary.Metadata.Name, 0, 0)
}

func (setImageChange) summary(cur *State) string {
	return fmt.Sprintf("Set the canary image (stable: %s); the next run starts it.", cur.StableRevision)
}

func (setImageChange) after(Phase) Phase { return Pending }

func (setImageChange) stale(*State) []int { return nil }

func (setImageChange) announce() (title, color string) { return "", "" }
