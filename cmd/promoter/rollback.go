package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRollbackCmd(g *globals) *cobra.Command {
	var reason, author string
	cmd := &cobra.Command{
		Use:   "rollback CANARY --reason R",
		Short: "Roll a canary back now, skipping gates",
		Long: `rollback reverts promoter's commits of the canary's current attempt, in promoter's
component only: 100% of traffic to stable, the canary's weight 0 kept in the route, the canary
scaled to 0, and the rollback recorded in promoter.dev/* annotations. The revision is then held:
no new attempt until the canary image changes. Commits by humans elsewhere are untouched. If
promoter's files were edited by hand, it renders the stable-only stage and says so.

Rolling back a canary that is already rolled back (or not running) does nothing and succeeds,
so concurrent runs are safe. The exit code is 0 once the rollback is committed (or already
there): a rollback asked for by hand is not a failure (run exits 3 when it rolls back).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return withHint(fmt.Errorf("rollback %s: no reason", args[0]), `give --reason, for example --reason "p99 too high"`)
			}
			p, r, err := g.newPromoter(cmd.Context(), author, g.dryRun)
			if err != nil {
				return err
			}
			defer r.Close()
			d, err := p.Rollback(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return g.printManual(d, "rollback", map[string]string{
				"dry-run": "would roll back: %s",
				"wait":    "rollback waits in a pull request",
				"landed":  "rolled back: %s",
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why: recorded in the commit and the promoter.dev/rollback-reason annotation")
	cmd.Flags().StringVar(&author, "author", "", `commit author, "Name <email>" (env PROMOTER_GIT_AUTHOR_NAME, PROMOTER_GIT_AUTHOR_EMAIL)`)
	return cmd
}
