package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [CANARY...]",
		Short: "Check specs, render every step, build the overlay and check it against the Istio and Gateway API schemas",
		Long: `validate reads every Canary spec of the repository (or the named ones), then for each canary
builds its overlay as committed and as every step of its schedule would render it, and checks
the built VirtualService and DestinationRule against the Istio CRD schemas (Gateway, HTTPRoute
and GRPCRoute against the Gateway API's). With GITHUB_TOKEN set and a GitHub repository to ask
(the checkout's remote, --github-repo or GITHUB_REPOSITORY), it also refuses an auto-merge canary
whose pullRequests.mergeMethod the repository does not allow. A canary with analysis.syncStatus
is refused when the forge is local (a plain Git remote has no commit statuses). It reports every problem, with
file, line and field for spec problems, and exits 1 if there is any.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			fsys, err := g.localFS()
			if err != nil {
				return err
			}
			cs, loadErr := g.loadCanaries(cmd.Context(), fsys, args)
			var ve *spec.ValidationError
			if loadErr != nil && !errors.As(loadErr, &ve) {
				return loadErr
			}
			type result struct {
				Name     string   `json:"name"`
				File     string   `json:"file"`
				Valid    bool     `json:"valid"`
				Steps    []int    `json:"steps"`
				Problems []string `json:"problems"`
				// Adds is what the first commit adds to the overlay.
				Adds string `json:"adds,omitempty"`
			}
			var results []result
			failed := loadErr != nil
			var methods func(*spec.Canary) error
			if len(cs) > 0 {
				methods = g.mergeMethodCheck(cmd.Context())
			}
			for _, c := range cs {
				r := result{Name: c.Metadata.Name, File: c.Source.File, Valid: true, Problems: []string{}}
				for _, st := range c.Spec.Steps {
					r.Steps = append(r.Steps, st.Weight)
				}
				adds, err := validateCanary(c, fsys)
				r.Adds = adds
				if err != nil {
					r.Valid, failed = false, true
					r.Problems = append(r.Problems, err.Error())
				}
				if err := g.syncStatusCheck(c); err != nil {
					r.Valid, failed = false, true
					r.Problems = append(r.Problems, err.Error())
				}
				if methods != nil {
					if err := methods(c); err != nil {
						r.Valid, failed = false, true
						r.Problems = append(r.Problems, err.Error())
					}
				}
				results = append(results, r)
			}
			if g.output == "json" {
				out := map[string]any{"canaries": results, "problems": []string{}}
				if ve != nil {
					ps := []string{}
					for _, p := range ve.Problems {
						ps = append(ps, p.String())
					}
					out["problems"] = ps
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					if r.Valid {
						fmt.Fprintf(g.stdout, "ok    %s (%s): steps %v\n", r.Name, r.File, r.Steps)
						if r.Adds != "" {
							fmt.Fprintf(g.stdout, "      %s\n", r.Adds)
						}
					} else {
						fmt.Fprintf(g.stdout, "FAIL  %s (%s)\n", r.Name, r.File)
						for _, p := range r.Problems {
							fmt.Fprintf(g.stdout, "      %s\n", indent(p, "      "))
						}
					}
				}
			}
			if loadErr != nil {
				return loadErr
			}
			if failed {
				return exitCodeError{exitError}
			}
			return nil
		},
	}
}

// validateCanary checks the custom queries, the committed component and
// every step, on the tree as it will be after promoter's first commit. It
// returns what that commit adds to the overlay's kustomization ("" when
// nothing).
func validateCanary(c *spec.Canary, fsys fs.FS) (string, error) {
	if err := checkQueries(c); err != nil {
		return "", err
	}
	b, err := render.Inspect(c, fsys)
	if err != nil {
		return "", err
	}
	var adds string
	if !b.Listed {
		adds = fmt.Sprintf("the first commit adds %s to the components of %s", render.ComponentRef(c), b.Overlay)
	}
	if len(b.Overrides) > 0 {
		// What to change comes first: it is why the rest would fail.
		return adds, &render.OverrideError{Canary: c.Metadata.Name, Overrides: b.Overrides}
	}
	committed, err := render.ReadStage(c, fsys)
	switch {
	case errors.Is(err, render.ErrNoComponent):
		// First run: the component is created then.
	case err != nil:
		return adds, err
	default:
		files, err := render.EnsureComponent(c, fsys)
		if err != nil {
			return adds, err
		}
		if _, err := render.Check(c, fsys, b, files, committed.Stage); err != nil {
			return adds, fmt.Errorf("as committed: %w", err)
		}
	}
	for i, st := range c.Spec.Steps {
		stage := render.Stage{Step: i + 1, Weight: st.Weight}
		if _, err := render.RenderOn(c, fsys, b, stage); err != nil {
			var oe *render.OverrideError
			if errors.As(err, &oe) {
				return adds, err // the same for every step
			}
			return adds, fmt.Errorf("step %d (%d%%): %w", i+1, st.Weight, err)
		}
	}
	return adds, nil
}

// checkQueries renders every custom gate's query template against the
// spec's own values, as a pass would: a template that cannot run fails
// here, with file, line and field, rather than as an Error verdict later.
func checkQueries(c *spec.Canary) error {
	a := c.Spec.Analysis
	t := gates.TargetOf(c)
	var problems []string
	for list, gs := range map[string][]spec.Gate{"gates": a.Gates, "rollbackOn": a.RollbackOn} {
		for i, g := range gs {
			if g.Type != spec.GateCustom {
				continue
			}
			window := a.Interval.Duration
			if g.Interval.Duration > 0 {
				window = g.Interval.Duration
			}
			if _, err := t.CustomQuery(g.Query, window); err != nil {
				field := fmt.Sprintf("spec.analysis.%s[%d].query", list, i)
				problems = append(problems, fmt.Sprintf("%s:%d: %s: %v", c.Source.File, c.Source.LineOf(field), field, err))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	slices.Sort(problems)
	return errors.New(strings.Join(problems, "\n"))
}
