package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [CANARY...]",
		Short: "Check specs, render every step, build the overlay and check it against the Istio schemas",
		Long: `validate reads every Canary spec of the repository (or the named ones), then for each canary
builds its overlay as committed and as every step of its schedule would render it, and checks
the built VirtualService and DestinationRule against the Istio CRD schemas. It reports every
problem, with file, line and field for spec problems, and exits 1 if there is any.`,
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
			}
			var results []result
			failed := loadErr != nil
			for _, c := range cs {
				r := result{Name: c.Metadata.Name, File: c.Source.File, Valid: true, Problems: []string{}}
				for _, st := range c.Spec.Steps {
					r.Steps = append(r.Steps, st.Weight)
				}
				if err := validateCanary(c, fsys); err != nil {
					r.Valid, failed = false, true
					r.Problems = append(r.Problems, err.Error())
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

// validateCanary checks the committed component and every step.
func validateCanary(c *spec.Canary, fsys fs.FS) error {
	b, err := render.Inspect(c, fsys)
	if err != nil {
		return err
	}
	committed, err := render.ReadStage(c, fsys)
	switch {
	case errors.Is(err, render.ErrNoComponent):
		// First run: the component is created then.
	case err != nil:
		return err
	default:
		if _, err := render.Check(c, fsys, b, nil, committed.Stage); err != nil {
			return fmt.Errorf("as committed: %w", err)
		}
	}
	for i, st := range c.Spec.Steps {
		stage := render.Stage{Step: i + 1, Weight: st.Weight}
		if _, err := render.Render(c, fsys, stage); err != nil {
			return fmt.Errorf("step %d (%d%%): %w", i+1, st.Weight, err)
		}
	}
	return nil
}
