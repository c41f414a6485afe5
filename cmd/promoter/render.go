package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/render"
)

func newRenderCmd(g *globals) *cobra.Command {
	var (
		weight, step int
		image        string
		build        bool
	)
	cmd := &cobra.Command{
		Use:   "render CANARY [--weight W | --step N] [--image REF] [--build]",
		Short: "Print promoter's component files for a stage, or the manifests the overlay builds to",
		Long: `render prints the files promoter would write in its component directory for a stage of the
canary: the committed stage by default, or the step given by --step (1-based) or --weight.
With --build it prints the overlay built with those files instead: what Argo CD or Flux apply.
It writes nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("weight") && cmd.Flags().Changed("step") {
				return withHint(errors.New("--weight and --step are exclusive"), "give one of them")
			}
			fsys, err := g.localFS()
			if err != nil {
				return err
			}
			cs, err := g.loadCanaries(cmd.Context(), fsys, args)
			if err != nil {
				return err
			}
			c := cs[0]
			var st render.Stage
			switch {
			case cmd.Flags().Changed("step"):
				if step < 0 || step > len(c.Spec.Steps) {
					return withHint(fmt.Errorf("--step %d: canary %s has steps 1..%d", step, c.Metadata.Name, len(c.Spec.Steps)), "use --step 0 for 100% stable")
				}
				st.Step = step
				if step > 0 {
					st.Weight = c.Spec.Steps[step-1].Weight
				}
			case cmd.Flags().Changed("weight"):
				if weight < 0 || weight > 100 {
					return fmt.Errorf("--weight %d is outside 0..100", weight)
				}
				st.Weight = weight
				for i, s := range c.Spec.Steps {
					if s.Weight == weight {
						st.Step = i + 1
					}
				}
			default:
				committed, err := render.ReadStage(c, fsys)
				if err != nil && !errors.Is(err, render.ErrNoComponent) {
					return err
				}
				if committed != nil {
					st = committed.Stage
				}
			}
			if image != "" {
				if err := render.ValidateImage(image); err != nil {
					return withHint(fmt.Errorf("--image: %w", err), "for example --image ghcr.io/org/app:v2.0.0")
				}
				st.CanaryImage = image
			}
			res, err := render.Render(c, fsys, st)
			if err != nil {
				return err
			}
			switch {
			case g.output == "json" && build:
				return json.NewEncoder(g.stdout).Encode(map[string]string{"manifests": string(res.Manifests)})
			case g.output == "json":
				files := map[string]*string{}
				for p, data := range res.Files {
					if data == nil {
						files[p] = nil
						continue
					}
					s := string(data)
					files[p] = &s
				}
				return json.NewEncoder(g.stdout).Encode(map[string]any{"step": st.Step, "weight": st.Weight, "files": files})
			case build:
				_, err := g.stdout.Write(res.Manifests)
				return err
			}
			for _, p := range res.Files.Paths() {
				if res.Files[p] == nil {
					fmt.Fprintf(g.stdout, "# %s: deleted\n", p)
					continue
				}
				fmt.Fprintf(g.stdout, "--- # %s\n%s", p, res.Files[p])
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&weight, "weight", 0, "canary weight in percent")
	cmd.Flags().IntVar(&step, "step", 0, "step of the schedule (1-based; 0 = 100% stable)")
	cmd.Flags().StringVar(&image, "image", "", "pin the canary image")
	cmd.Flags().BoolVar(&build, "build", false, "print the built overlay instead of promoter's files")
	return cmd
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}
