package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/promote"
	"github.com/promoter-dev/promoter/internal/render"
)

func newStartCmd(g *globals) *cobra.Command {
	var (
		image, author string
		force         bool
	)
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
			name := args[0]
			if image == "" {
				return withHint(fmt.Errorf("start %s: no image", name), "give --image REF, for example --image myapp:v2.0.0")
			}
			if err := render.ValidateImage(image); err != nil {
				return withHint(fmt.Errorf("start %s: %w", name, err), "give --image REF, for example --image myapp:v2.0.0")
			}
			p, r, err := g.newPromoter(cmd.Context(), author, g.dryRun)
			if err != nil {
				return err
			}
			defer r.Close()
			d, err := p.Start(cmd.Context(), name, image, force)
			switch {
			case errors.Is(err, promote.ErrInFlight):
				return withHint(err, "wait for it to finish, roll it back with `promoter rollback`, or pass --force")
			case err != nil:
				return err
			}
			return g.printManual(d, "start", map[string]string{
				"dry-run": "would start " + image + ": %s",
				"wait":    "start of " + image + " waits in a pull request",
				"landed":  "started a canary of " + image,
			})
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "the canary's image reference")
	cmd.Flags().BoolVar(&force, "force", false, "start even while another canary revision is in flight")
	cmd.Flags().StringVar(&author, "author", "", `commit author, "Name <email>" (env PROMOTER_GIT_AUTHOR_NAME, PROMOTER_GIT_AUTHOR_EMAIL)`)
	return cmd
}
