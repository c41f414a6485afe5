package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/demo"
)

func newDemoCmd(g *globals) *cobra.Command {
	var (
		scenario, keep string
		seed           int64
	)
	cmd := &cobra.Command{
		Use:   "demo [--scenario NAME] [--keep DIR]",
		Short: "The whole loop against a simulated mesh: no cluster, no network",
		Long: `demo makes a Git repository from examples/repo plus a second application, starts a
simulated mesh that applies the weights committed there (as Argo CD and Istio would) and
writes Istio's metrics into an in-process Prometheus API on the real PromQL engine, then runs
promoter every analysis interval on a fast clock and prints each decision as it happens.

Scenarios: ` + strings.Join(demo.Scenarios(), ", ") + `.
The default one promotes the healthy myapp to 100% and rolls back shop, whose canary fails
five times as often as stable, with a revert. Exit status 1 if a canary does not end as
its scenario expects.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := demo.Options{Scenario: scenario, Keep: keep, Out: g.stdout, Seed: seed}
			// promoter's logs interleave with the story; print them only when
			// asked (-v, or --log-level).
			if g.verbose || g.logLevel != "" {
				opts.Log = g.log
			}
			started := time.Now()
			res, err := demo.Run(cmd.Context(), opts)
			if res != nil {
				fmt.Fprintf(g.stdout, "\n%s of simulated time in %s", res.Elapsed, time.Since(started).Round(100*time.Millisecond))
				if keep != "" {
					fmt.Fprintf(g.stdout, "; the repository is kept in %s", res.Dir)
				}
				fmt.Fprintln(g.stdout)
			}
			if errors.Is(err, demo.ErrUnknownScenario) {
				return withHint(err, "give --scenario one of "+strings.Join(demo.Scenarios(), ", "))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&scenario, "scenario", "default", "scenario: "+strings.Join(demo.Scenarios(), ", "))
	cmd.Flags().StringVar(&keep, "keep", "", "keep the demo's Git repository in this directory")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the simulated traffic")
	return cmd
}
