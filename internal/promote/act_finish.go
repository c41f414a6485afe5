package promote

import (
	"context"
	"fmt"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
)

// finishChange promotes the canary: stable takes the canary's image, 100%
// of traffic to stable, the canary scaled to 0.
type finishChange struct{}

func (finishChange) action() Action { return ActFinish }

// due: a manual promote --full finishes a pending canary too.
func (finishChange) due(st, cur *State, _ intent) bool {
	if st.Phase == Pending {
		return cur.Phase == Pending && cur.Revision == st.Revision
	}
	return stillProgressing(st, cur)
}

// target is the promoted step; the canary's weight there is 0 (stable
// serves everything, with the canary's image).
func (finishChange) target(cur *State) (int, int) { return cur.schedule().promoted(), 0 }

// stage: a canary image pinned by `promoter start` stays pinned (the
// base's would be an older one); an image from the base stays the base's,
// so a human's next edit of it starts the next canary.
func (ch finishChange) stage(_ context.Context, _ *actContext, cur *State, _ intent) render.Stage {
	step, weight := ch.target(cur)
	return render.Stage{Step: step, Weight: weight, CanaryImage: cur.Committed.CanaryImage, StableImage: cur.Revision, CanaryReplicas: render.Replicas(0)}
}

func (finishChange) trailer(*State) gitops.Action { return gitops.ActionFinish }

func (finishChange) subject(cur *State) string {
	return gitops.Subject(cur.Canary.Metadata.Name, cur.Weight(), 100)
}

func (finishChange) summary(cur *State) string {
	return fmt.Sprintf("Promote %s: the stable Deployment takes the canary's image, 100%% of traffic to stable, the canary scaled to 0.", cur.Revision)
}

func (finishChange) after(Phase) Phase { return Succeeded }

// stale is the next step's branch, whose pull request will never merge.
func (finishChange) stale(cur *State) []int { return []int{cur.Step() + 1} }

func (finishChange) announce() (title, color string) { return "Canary promoted to 100%", "good" }
