package promote

import (
	"context"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
)

// change is one kind of commit promoter makes for a canary: what an action
// means, in one place. Each has its own file (act_*.go); changeOf lists
// them. Adding an action is a new file, a case in changeOf, and the case
// in decide that decides it.
type change interface {
	action() Action
	// due reports whether the change is still what the canary needs on a
	// newer tip, where it stands at cur, given the state st it was decided
	// on: after a lost race another run may have made it already.
	due(st, cur *State, in intent) bool
	// target is the step and canary weight the change takes the canary to
	// (the step convention: schedule).
	target(cur *State) (step, weight int)
	// stage is what the change renders in promoter's component.
	stage(ctx context.Context, x *actContext, cur *State, in intent) render.Stage
	// trailer is the Promoter-Action trailer of the commit.
	trailer(cur *State) gitops.Action
	// subject and summary open the commit message.
	subject(cur *State) string
	summary(cur *State) string
	// after is the phase once the change landed, from the phase before.
	after(cur Phase) Phase
	// stale lists the steps whose pull-request branches the landed change
	// leaves behind, to delete.
	stale(cur *State) []int
	// announce is the title and colour of its Slack notification.
	announce() (title, color string)
}

// composer is a change that writes its own commit instead of the stage
// commit of commitOf (a rollback reverts promoter's commits).
type composer interface {
	compose(ctx context.Context, x *actContext, tip *gitops.Snapshot, cur *State, in intent, report *gates.Report) (*gitops.Change, []string, error)
}

// changeOf is the change of an action that commits, or nil.
func changeOf(a Action) change {
	switch a {
	case ActStart:
		return startChange{}
	case ActPromote:
		return promoteChange{}
	case ActFinish:
		return finishChange{}
	case ActRollback:
		return rollbackChange{}
	case ActRerender:
		return rerenderChange{}
	case ActSetImage:
		return setImageChange{}
	}
	return nil
}

// intent is a decided action with what its change needs.
type intent struct {
	action  Action
	reasons []string
	// image is the canary image of ActSetImage.
	image string
}

// actContext is what changes may use beyond the state: the clock, and
// Prometheus for what the sequential test pins at the start.
type actContext struct {
	p *Promoter
}

// commitOf renders the change's stage on tip and makes its commit: the
// component's files, the subject, a body with the reasons and the gate
// evidence, and the trailers.
func commitOf(ctx context.Context, x *actContext, tip *gitops.Snapshot, cur *State, ch change, in intent, report *gates.Report) (*gitops.Change, []string, error) {
	if c, ok := ch.(composer); ok {
		return c.compose(ctx, x, tip, cur, in, report)
	}
	c := cur.Canary
	stage := ch.stage(ctx, x, cur, in)
	// RenderOn's files include the overlay's components entry when it is
	// missing, so the first commit adds it with the component directory.
	res, err := render.RenderOn(c, tip.FS(), cur.Base, stage)
	if err != nil {
		return nil, nil, err
	}
	return &gitops.Change{
		Dir:   render.ComponentDir(c),
		Files: componentFiles(res.Files),
		Message: gitops.Message{
			Subject:  ch.subject(cur),
			Body:     commitBody(ch.summary(cur), in.reasons, report),
			Trailers: gitops.Trailers{Canary: c.Metadata.Name, Step: stage.Step, Action: ch.trailer(cur)},
		},
	}, nil, nil
}

// stillProgressing is the due of the changes of a progressing stage: the
// canary is still at the step and revision they were decided at.
func stillProgressing(st, cur *State) bool {
	return cur.Phase == Progressing && cur.Step() == st.Step() && cur.Revision == st.Revision
}
