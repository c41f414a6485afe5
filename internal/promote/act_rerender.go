package promote

import (
	"context"
	"fmt"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
)

// rerenderChange renders the committed stage again on a base that moved
// (or over a hand edit of promoter's files): same step, same weight.
type rerenderChange struct{}

func (rerenderChange) action() Action { return ActRerender }

func (rerenderChange) due(_, cur *State, _ intent) bool { return cur.Drift }

func (rerenderChange) target(cur *State) (int, int) { return cur.Step(), cur.Weight() }

func (rerenderChange) stage(_ context.Context, _ *actContext, cur *State, _ intent) render.Stage {
	return cur.Committed.Stage
}

// trailer is promote: a re-render continues the attempt, and the stage
// clock stays with the step's first commit.
func (rerenderChange) trailer(*State) gitops.Action { return gitops.ActionPromote }

func (rerenderChange) subject(cur *State) string {
	return fmt.Sprintf("canary(%s): re-render %d%% for the changed base", cur.Canary.Metadata.Name, cur.Weight())
}

func (rerenderChange) summary(cur *State) string {
	return fmt.Sprintf("Re-render the stage at %d%%: the base changed since the component was rendered.", cur.Weight())
}

func (rerenderChange) after(cur Phase) Phase { return cur }

func (rerenderChange) stale(*State) []int { return nil }

func (rerenderChange) announce() (title, color string) { return "Canary re-rendered", "" }
