package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
)

type startOptions struct {
	image  string
	force  bool
	author string
}

func newStartCmd(g *globals) *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:   "start CANARY --image REF",
		Short: "Start a canary of an image",
		Long: `start commits the canary Deployment's image to promoter's component, which starts a
canary of it: the next run takes it through the steps. It refuses while another revision is in
flight (taking traffic) unless --force; a rolled-back revision is not in flight.

In direct mode the commit is pushed to the branch; in review and auto-merge modes it goes
through the pull request promoter/<canary>/step-0 (merged at once in auto-merge mode).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.image == "" {
				return withHint(fmt.Errorf("start %s: no image", args[0]), "give --image REF, for example --image myapp:v2.0.0")
			}
			return runStart(cmd.Context(), g, args[0], o)
		},
	}
	cmd.Flags().StringVar(&o.image, "image", "", "the canary's image reference")
	cmd.Flags().BoolVar(&o.force, "force", false, "start even while another canary revision is in flight")
	cmd.Flags().StringVar(&o.author, "author", "", `commit author, "Name <email>" (env PROMOTER_GIT_AUTHOR_NAME, PROMOTER_GIT_AUTHOR_EMAIL)`)
	return cmd
}

// errInFlight stops a start while another revision takes traffic.
type errInFlight struct {
	name, revision string
	step, weight   int
}

func (e errInFlight) Error() string {
	return fmt.Sprintf("canary %s is in flight: %s at step %d (%d%%)", e.name, e.revision, e.step, e.weight)
}

func runStart(ctx context.Context, g *globals, name string, o startOptions) error {
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
	out, err := g.deliver(ctx, r, c, gitops.StepBranch(name, 0), func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
		fsys := tip.FS()
		c, err := g.canaryAt(ctx, fsys, name)
		if err != nil {
			return nil, err
		}
		st, err := readStanding(c, fsys)
		if err != nil {
			return nil, err
		}
		switch {
		case o.image == st.stable:
			return nil, withHint(fmt.Errorf("start %s: %s is the stable image", name, o.image), "give the image of the new version")
		case st.revision == o.image && st.committed.CanaryImage == o.image && !st.rolledBack():
			noop = fmt.Sprintf("%s is already the canary", o.image)
			return nil, nil
		case st.inFlight() && !o.force:
			return nil, withHint(errInFlight{name, st.revision, st.committed.Step, st.committed.Weight},
				"wait for it to finish, roll it back with `promoter rollback`, or pass --force")
		}
		stage := render.Stage{Step: 0, Weight: 0, CanaryImage: o.image, StableImage: st.committed.StableImage}
		res, err := render.Render(c, fsys, stage)
		if err != nil {
			return nil, err
		}
		ch := &gitops.Change{
			Dir:   render.ComponentDir(c),
			Files: gitops.Files(res.Files),
			Message: gitops.Message{
				Subject: gitops.Subject(name, st.committed.Weight, 0),
				Body: fmt.Sprintf("Start a canary of %s (stable: %s).%s", o.image, st.stable,
					forcedNote(o.force && st.inFlight(), st.revision)),
				Trailers: gitops.Trailers{Canary: name, Step: 0, Action: gitops.ActionStart},
			},
		}
		extra, err := render.EnsureComponent(c, fsys)
		if err != nil {
			return nil, err
		}
		for p, content := range extra {
			ch.Files[p] = content
		}
		files = changedPaths(ch)
		return ch, nil
	})
	if err != nil {
		return err
	}
	out.Action = "start"
	switch out.Result {
	case "unchanged":
		out.Message = "nothing to do: " + orElse(noop, "the repository already says so")
	case "dry-run":
		out.Message, out.Files = "would start "+o.image+": "+out.Subject, files
	case "pull-request":
		out.Message = "start of " + o.image + " waits in a pull request"
	default:
		out.Message = "started a canary of " + o.image
	}
	return g.print(out)
}

func forcedNote(forced bool, previous string) string {
	if !forced {
		return ""
	}
	return "\n\nForced: replaces " + previous + ", which was in flight."
}

func orElse(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}
