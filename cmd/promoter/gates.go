package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/promote"
	"github.com/promoter-dev/promoter/internal/render"
)

// gatesOptions are the flags of `promoter gates`.
type gatesOptions struct {
	since, canaryStart string
	weight             int
	markdown           bool
}

// newGatesCmd evaluates the current stage's gates now and prints the report.
//
// By default the stage (committed weight, when the stage and the canary went
// live) is derived from Git, exactly as `promoter run` derives it. With
// --since the stage is given on the command line instead and only the
// working tree's spec is read: for back-testing a spec against Prometheus
// with --now, or for canaries promoter does not manage yet. --weight then
// defaults to the first step's weight and --canary-start to --since.
//
// Exit codes: 0 every gate passes, 1 a gate fails (or a rollback is due) or
// a query failed, 2 waiting (inconclusive: too little data so far).
func newGatesCmd(g *globals) *cobra.Command {
	var o gatesOptions
	cmd := &cobra.Command{
		Use:   "gates CANARY",
		Short: "Evaluate the current stage's gates now and print the report",
		Long: "Evaluate the current stage's gates against Prometheus now (or at --now) and print the report.\n" +
			"Exit codes: 0 pass, 1 fail or error, 2 waiting/inconclusive.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			report, err := g.gatesReport(cmd, args[0], o)
			if err != nil {
				return err
			}
			switch {
			case g.output == "json":
				err = report.WriteJSON(g.stdout)
			case o.markdown:
				err = report.WriteMarkdown(g.stdout)
			default:
				err = report.WriteText(g.stdout)
			}
			if err != nil {
				return err
			}
			return exitOfVerdict(report.Verdict)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.since, "since", "", "stage start (RFC 3339); given, the stage is not derived from Git")
	f.StringVar(&o.canaryStart, "canary-start", "", "with --since: when the canary's first stage went live (default: --since)")
	f.IntVar(&o.weight, "weight", 0, "with --since: the committed canary weight in percent (default: the first step's)")
	f.BoolVar(&o.markdown, "markdown", false, "print the report as Markdown (the pull request body's gate section)")
	return cmd
}

// exitOfVerdict maps a report verdict to the command's exit code.
func exitOfVerdict(v gates.Verdict) error {
	switch v {
	case gates.Pass:
		return nil
	case gates.Inconclusive:
		return exitCodeError{exitWaiting}
	}
	return exitCodeError{exitError}
}

func (g *globals) gatesReport(cmd *cobra.Command, name string, o gatesOptions) (*gates.Report, error) {
	ctx := cmd.Context()
	if o.since == "" {
		if o.weight != 0 || o.canaryStart != "" {
			return nil, withHint(errors.New("--weight and --canary-start need --since"), "give the stage start with --since, or drop them to derive the stage from Git")
		}
		p, r, err := g.newPromoter(ctx, "", true)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		_, report, err := p.Evaluate(ctx, name)
		if errors.Is(err, promote.ErrNoStage) {
			return nil, withHint(err, "only a canary that is observing a stage has gates to evaluate; see `promoter status "+name+"`, or give a stage with --since")
		}
		return report, err
	}

	since, err := time.Parse(time.RFC3339, o.since)
	if err != nil {
		return nil, withHint(fmt.Errorf("--since %q: %w", o.since, err), "give a time like 2026-01-02T15:04:05Z")
	}
	canaryStart := since
	if o.canaryStart != "" {
		if canaryStart, err = time.Parse(time.RFC3339, o.canaryStart); err != nil {
			return nil, withHint(fmt.Errorf("--canary-start %q: %w", o.canaryStart, err), "give a time like 2026-01-02T15:04:05Z")
		}
	}
	fsys, err := g.localFS()
	if err != nil {
		return nil, err
	}
	cs, err := g.loadCanaries(ctx, fsys, []string{name})
	if err != nil {
		return nil, err
	}
	c := cs[0]
	if b, err := render.Inspect(c, fsys); err == nil {
		c = render.WithVersions(c, b) // the version labels the subsets select
	}
	weight := o.weight
	if weight == 0 && len(c.Spec.Steps) > 0 {
		weight = c.Spec.Steps[0].Weight
	}
	if weight <= 0 || weight >= 100 {
		return nil, withHint(fmt.Errorf("--weight %d: not between 1 and 99", weight), "give the committed canary weight with --weight")
	}
	q, err := g.promQuerier()
	if err != nil {
		return nil, err
	}
	if q == nil {
		return nil, withHint(errors.New("no Prometheus URL"), "set --prometheus or PROMETHEUS_URL")
	}
	st := gates.Stage{Weight: weight, Start: since, CanaryStart: canaryStart, Now: g.clock()}
	obs, err := gates.Observe(ctx, q, c, st)
	if err != nil {
		return nil, err
	}
	return gates.Judge(c, st, obs, gates.Options{}), nil
}
