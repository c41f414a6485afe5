package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/promote"
)

// newPromoter opens Prometheus, the repository and the forge for the
// commands of the decision loop; close releases the repository. On an error
// it returns no repository and leaves no clone behind.
func (g *globals) newPromoter(ctx context.Context, author string, dryRun bool) (*promote.Promoter, *gitops.Repo, error) {
	return g.promoter(ctx, author, dryRun, false)
}

// newStatusPromoter is newPromoter for status, which writes nothing but
// asks the forge which pull requests are open (Promoting while the final
// one is); a forge that cannot be set up (no token) is logged and left
// out.
func (g *globals) newStatusPromoter(ctx context.Context) (*promote.Promoter, *gitops.Repo, error) {
	return g.promoter(ctx, "", true, true)
}

func (g *globals) promoter(ctx context.Context, author string, dryRun, readForge bool) (*promote.Promoter, *gitops.Repo, error) {
	// Flags that need no repository are checked first: a bad --prometheus
	// costs no clone.
	q, err := g.promQuerier()
	if err != nil {
		return nil, nil, setupError{err}
	}
	r, err := g.openRepo(ctx, author)
	if err != nil {
		return nil, nil, err
	}
	var forge gitops.Forge
	switch {
	case !dryRun:
		if forge, err = g.newForge(ctx, r); err != nil {
			_ = r.Close()
			return nil, nil, setupError{err}
		}
	case readForge:
		if forge, err = g.newForge(ctx, r); err != nil {
			g.log.Warn("status does not look for open pull requests: the forge cannot be set up", "err", err)
			forge = nil
		}
	}
	return promote.New(promote.Options{
		Repo: r, Forge: forge, Querier: q, Clock: g.clock, Log: g.log,
		DryRun: dryRun, Getenv: g.getenv, Progress: g.prog,
	}), r, nil
}

// setupError is a flag or environment problem that no later pass can
// fix: watch stops on it instead of retrying.
type setupError struct{ err error }

func (e setupError) Error() string { return e.err.Error() }
func (e setupError) Unwrap() error { return e.err }

// selection builds a canary selection from arguments and --shard.
func (g *globals) selection(names []string) (promote.Selection, error) {
	sel := promote.Selection{Names: names}
	if g.shard == "" {
		return sel, nil
	}
	k, n, ok := strings.Cut(g.shard, "/")
	ki, err1 := strconv.Atoi(k)
	ni, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || ni < 1 || ki < 1 || ki > ni {
		return sel, withHint(fmt.Errorf("--shard %q: not K/N with 1 <= K <= N", g.shard), "for example --shard 2/4 in the second of four jobs")
	}
	sel.ShardK, sel.ShardN = ki, ni
	return sel, nil
}

func newRunCmd(g *globals) *cobra.Command {
	var author string
	cmd := &cobra.Command{
		Use:   "run [CANARY...]",
		Short: "One reconcile pass over all (or the named) canaries",
		Long: `run makes one pass: for each canary it derives where it stands from Git, evaluates the
current stage's gates in Prometheus, and starts, advances, promotes, rolls back or holds it,
landing each change as spec.pullRequests.mode says. Exit status: 0 done, 1 an error (other
canaries are still processed), 3 a canary was rolled back in this pass.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			pass, err := g.pass(cmd.Context(), args, author, g.dryRun)
			if err != nil {
				return err
			}
			return g.exitOf(pass)
		},
	}
	cmd.Flags().StringVar(&author, "author", "", `commit author, "Name <email>" (env PROMOTER_GIT_AUTHOR_NAME, PROMOTER_GIT_AUTHOR_EMAIL)`)
	return cmd
}

func newPlanCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "plan [CANARY...]",
		Short: "What run would do now and why, with the diff of the built manifests; writes nothing",
		RunE: func(cmd *cobra.Command, args []string) error {
			pass, err := g.pass(cmd.Context(), args, "", true)
			if err != nil {
				return err
			}
			if pass.Failed() {
				return exitCodeError{exitError}
			}
			return nil
		},
	}
}

func newWatchCmd(g *globals) *cobra.Command {
	var (
		interval time.Duration
		author   string
	)
	cmd := &cobra.Command{
		Use:   "watch [CANARY...] [--interval 1m]",
		Short: "Run passes until interrupted; SIGINT/SIGTERM finish the pass in flight, then exit 0",
		RunE: func(cmd *cobra.Command, args []string) error {
			if interval <= 0 {
				return withHint(fmt.Errorf("--interval %s must be positive", interval), "for example --interval 1m")
			}
			ctx := cmd.Context()
			for {
				// The pass in flight finishes even when a signal arrives.
				pass, err := g.pass(context.WithoutCancel(ctx), args, author, g.dryRun)
				var se setupError
				if errors.As(err, &se) {
					return err
				}
				if err != nil {
					g.log.Error("pass failed", "err", err)
				} else if pass.RolledBack() {
					g.log.Warn("a canary was rolled back in this pass")
				}
				select {
				case <-ctx.Done():
					g.log.Info("interrupted: stopping after the pass")
					return nil
				case <-time.After(interval):
				}
			}
		},
	}
	cmd.Flags().DurationVar(&interval, "interval", time.Minute, "time between passes")
	cmd.Flags().StringVar(&author, "author", "", `commit author, "Name <email>"`)
	return cmd
}

// pass runs one pass and prints its decisions.
func (g *globals) pass(ctx context.Context, names []string, author string, dryRun bool) (*promote.Pass, error) {
	sel, err := g.selection(names)
	if err != nil {
		return nil, err
	}
	p, r, err := g.newPromoter(ctx, author, dryRun)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	pass, err := p.Run(ctx, sel)
	if err != nil {
		return nil, err
	}
	if pass.Problems != nil {
		g.log.Warn("some canary specs are invalid and were skipped", "problems", pass.Problems.Error())
	}
	if len(pass.Decisions) == 0 && len(names) == 0 && pass.Problems == nil {
		// Nothing to do is not an error, but say so: an empty pass is
		// usually the wrong --repo or --branch.
		g.noCanaries()
	}
	return pass, g.printDecisions(pass, dryRun)
}

func (g *globals) exitOf(pass *promote.Pass) error {
	switch {
	case pass.Failed():
		return exitCodeError{exitError}
	case pass.RolledBack():
		return exitCodeError{exitRolledBack}
	}
	return nil
}

func (g *globals) printDecisions(pass *promote.Pass, showDiff bool) error {
	if g.output == "json" {
		type decision struct {
			promote.Decision
			// Hint is what to change about a forge's refusal.
			Hint string `json:"hint,omitempty"`
		}
		out := make([]decision, len(pass.Decisions))
		for i, d := range pass.Decisions {
			out[i].Decision = d
			var refused *gitops.RefusedError
			if errors.As(d.Err, &refused) {
				out[i].Hint = refused.Hint
			}
		}
		return writeJSON(g.stdout, map[string]any{"tip": pass.Tip.Hash, "canaries": out})
	}
	for _, d := range pass.Decisions {
		printDecision(g.stdout, d, showDiff)
	}
	return nil
}

func printDecision(w io.Writer, d promote.Decision, showDiff bool) {
	line := fmt.Sprintf("%s: %s", d.Canary, d.Action)
	switch d.Action {
	case promote.ActFinish:
		line += fmt.Sprintf(" %d%% -> 100%%", d.FromWeight)
	case promote.ActStart, promote.ActPromote, promote.ActRollback, promote.ActWait:
		line += fmt.Sprintf(" %d%% -> %d%%", d.FromWeight, d.Weight)
	default:
		line += fmt.Sprintf(" at %d%%", d.Weight)
	}
	line += fmt.Sprintf(" [%s]", d.Phase)
	if d.Commit != "" {
		line += " commit " + shortSHA(d.Commit)
	}
	if d.PullRequest != "" {
		line += " pr " + d.PullRequest
	}
	fmt.Fprintln(w, line)
	if d.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", d.Error)
		var refused *gitops.RefusedError
		if errors.As(d.Err, &refused) && refused.Hint != "" {
			fmt.Fprintf(w, "  hint: %s\n", refused.Hint)
		}
	}
	for _, r := range d.Reasons {
		fmt.Fprintf(w, "  - %s\n", strings.ReplaceAll(r, "\n", "\n    "))
	}
	if showDiff && d.Diff != "" {
		fmt.Fprintf(w, "  diff of the built manifests:\n    %s\n", strings.ReplaceAll(strings.TrimRight(d.Diff, "\n"), "\n", "\n    "))
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// statusJSON is the documented shape of `status -o json`, one object per
// canary.
type statusJSON struct {
	Name           string                `json:"name"`
	Phase          promote.Phase         `json:"phase"`
	Step           int                   `json:"step"`
	Steps          int                   `json:"steps"`
	Weight         int                   `json:"weight"`
	CanaryRevision string                `json:"canaryRevision"`
	StableRevision string                `json:"stableRevision"`
	LastDecision   *promote.LastDecision `json:"lastDecision"`
	Reasons        []string              `json:"reasons"`
	Error          string                `json:"error,omitempty"`
}

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status [CANARY...]",
		Short: "Phase, step, weight, last decision and why, for each canary",
		RunE: func(cmd *cobra.Command, args []string) error {
			sel, err := g.selection(args)
			if err != nil {
				return err
			}
			p, r, err := g.newStatusPromoter(cmd.Context())
			if err != nil {
				return err
			}
			defer r.Close()
			pass, err := p.Status(cmd.Context(), sel)
			if err != nil {
				return err
			}
			out := make([]statusJSON, 0, len(pass.Decisions))
			for _, d := range pass.Decisions {
				out = append(out, statusJSON{
					Name: d.Canary, Phase: d.Phase, Step: d.Step, Steps: d.Steps, Weight: d.Weight,
					CanaryRevision: d.CanaryRevision, StableRevision: d.StableRevision,
					LastDecision: d.Last, Reasons: d.Reasons, Error: d.Error,
				})
			}
			if g.output == "json" {
				if err := writeJSON(g.stdout, out); err != nil {
					return err
				}
			} else {
				for _, s := range out {
					fmt.Fprintf(g.stdout, "%s: %s step %d/%d at %d%% (canary %s, stable %s)\n", s.Name, s.Phase, s.Step, s.Steps, s.Weight, s.CanaryRevision, s.StableRevision)
					if s.LastDecision != nil {
						fmt.Fprintf(g.stdout, "  last: %s (%s, %s)\n", s.LastDecision.Subject, shortSHA(s.LastDecision.Commit), s.LastDecision.At.Format(time.RFC3339))
					}
					for _, r := range s.Reasons {
						fmt.Fprintf(g.stdout, "  - %s\n", r)
					}
					if s.Error != "" {
						fmt.Fprintf(g.stdout, "  error: %s\n", s.Error)
					}
				}
			}
			if pass.Failed() {
				return exitCodeError{exitError}
			}
			return nil
		},
	}
}

func newPromoteCmd(g *globals) *cobra.Command {
	var (
		full   bool
		author string
	)
	cmd := &cobra.Command{
		Use:   "promote CANARY [--full]",
		Short: "Advance a canary one step now (or straight to promotion), skipping gates; recorded in the commit",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, r, err := g.newPromoter(cmd.Context(), author, g.dryRun)
			if err != nil {
				return err
			}
			defer r.Close()
			d, err := p.Promote(cmd.Context(), args[0], full)
			if err != nil && !errors.Is(err, d.Err) {
				return err
			}
			if g.output == "json" {
				if err := writeJSON(g.stdout, d); err != nil {
					return err
				}
			} else {
				printDecision(g.stdout, d, g.dryRun)
			}
			if d.Err != nil {
				return exitCodeError{exitError}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "promote to 100% now (stable takes the canary's image)")
	cmd.Flags().StringVar(&author, "author", "", `commit author, "Name <email>"`)
	return cmd
}
