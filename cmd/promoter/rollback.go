package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
)

type rollbackOptions struct {
	reason string
	author string
}

func newRollbackCmd(g *globals) *cobra.Command {
	var o rollbackOptions
	cmd := &cobra.Command{
		Use:   "rollback CANARY --reason R",
		Short: "Roll a canary back now, skipping gates",
		Long: `rollback reverts promoter's commits of the canary's current attempt, in promoter's
component only: 100% of traffic to stable, the canary's weight 0 kept in the route, the canary
scaled to 0, and the rollback recorded in promoter.dev/* annotations. The revision is then held:
no new attempt until the canary image changes. Commits by humans elsewhere are untouched. If
promoter's files were edited by hand, it renders the stable-only stage and says so.

Rolling back a canary that is already rolled back (or not running) does nothing and succeeds,
so concurrent runs are safe. The exit code is 0 once the rollback is committed (or already there).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.reason == "" {
				return withHint(fmt.Errorf("rollback %s: no reason", args[0]), `give --reason, for example --reason "p99 too high"`)
			}
			return runRollback(cmd.Context(), g, args[0], o)
		},
	}
	cmd.Flags().StringVar(&o.reason, "reason", "", "why: recorded in the commit and the promoter.dev/rollback-reason annotation")
	cmd.Flags().StringVar(&o.author, "author", "", `commit author, "Name <email>" (env PROMOTER_GIT_AUTHOR_NAME, PROMOTER_GIT_AUTHOR_EMAIL)`)
	return cmd
}

func runRollback(ctx context.Context, g *globals, name string, o rollbackOptions) error {
	r, err := g.openRepo(ctx, o.author)
	if err != nil {
		return err
	}
	defer r.Close()
	tip, err := r.Fetch(ctx)
	if err != nil {
		return err
	}
	snap, err := r.At(ctx, tip.Hash)
	if err != nil {
		return err
	}
	c, err := g.canaryAt(ctx, snap.FS(), name)
	if err != nil {
		return err
	}
	var noop string
	var files []string
	out, err := g.deliver(ctx, r, c, gitops.RollbackBranch(name), func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
		noop = ""
		fsys := tip.FS()
		c, err := g.canaryAt(ctx, fsys, name)
		if err != nil {
			return nil, err
		}
		st, err := readStanding(c, fsys)
		if err != nil && !errors.Is(err, render.ErrBase) && !errors.Is(err, render.ErrBuild) {
			// An unreadable component is a hand edit: roll back anyway.
			g.log.Warn("promoter's component does not parse; rendering the stable-only stage", "canary", name, "err", err)
			st, err = &standing{committed: &render.Committed{}}, nil
			if b, ierr := render.Inspect(c, fsys); ierr == nil {
				st.base, st.revision, st.stable = b, b.Canary.Image, b.Stable.Image
			}
		}
		if err != nil {
			return nil, err
		}
		switch {
		case st.rolledBack():
			noop = fmt.Sprintf("already rolled back (%s: %s)", st.committed.Rollback.Revision, st.committed.Rollback.Reason)
			return nil, nil
		case st.revision == st.stable:
			noop = "no canary to roll back (the canary runs the stable image)"
			return nil, nil
		}
		dir := render.ComponentDir(c)
		stage := render.Stage{
			Step:           0,
			Weight:         0,
			CanaryImage:    st.revision,
			CanaryReplicas: render.Replicas(0),
			StableImage:    st.committed.StableImage,
			Rollback: &render.Rollback{
				Revision:       st.revision,
				Reason:         o.reason,
				At:             g.clock().UTC(),
				PreviousWeight: st.committed.Weight,
			},
		}
		res, err := render.Render(c, fsys, stage)
		if err != nil {
			return nil, err
		}
		hist, err := r.History(ctx, tip.Commit.Hash, name)
		if err != nil {
			return nil, err
		}
		msg, err := rollbackMessage(ctx, r, tip, dir, name, hist, o.reason, st)
		if err != nil {
			return nil, err
		}
		ch := &gitops.Change{Dir: dir, Files: gitops.Files(res.Files), Message: msg}
		files = changedPaths(ch)
		return ch, nil
	})
	if err != nil {
		return err
	}
	out.Action = "rollback"
	switch out.Result {
	case "unchanged":
		out.Message = "nothing to do: " + orElse(noop, "the repository already says so")
	case "dry-run":
		out.Message, out.Files = "would roll back: "+out.Subject, files
	case "pull-request":
		out.Message = "rollback waits in a pull request"
	default:
		out.Message = "rolled back: " + out.Subject
	}
	return g.print(out)
}

// rollbackMessage is the revert message of promoter's commits of the
// current attempt, or, when there are none (a human set the canary image),
// a plain rollback message. When promoter's files were edited by hand since
// the attempt began, it says that the stable-only stage was rendered
// instead of restoring them.
func rollbackMessage(ctx context.Context, r *gitops.Repo, tip *gitops.Snapshot, dir, name string, hist []gitops.Commit, reason string, st *standing) (gitops.Message, error) {
	evidence := fmt.Sprintf("Rolled back %s at %d%%: 100%% to stable (%s), canary weight 0, canary replicas 0.", st.revision, st.committed.Weight, st.stable)
	if len(hist) == 0 {
		return gitops.Message{
			Subject:  gitops.Subject(name, st.committed.Weight, 0),
			Body:     "Roll back.\n\nReason: " + reason + "\n\n" + evidence,
			Trailers: gitops.Trailers{Canary: name, Step: 0, Action: gitops.ActionRollback},
		}, nil
	}
	notes := []string{evidence}
	_, err := r.Revert(ctx, tip, dir, name, hist, reason)
	var he *gitops.HandEditError
	switch {
	case errors.As(err, &he):
		notes = append(notes, fmt.Sprintf("Note: %s. Its content was not restored; the stable-only stage was rendered instead.", he.Error()))
	case err != nil:
		return gitops.Message{}, err
	}
	return gitops.RevertMessage(name, hist, reason, notes...), nil
}
