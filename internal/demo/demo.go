// Package demo runs promoter's whole loop with no cluster and no network:
// `promoter demo`.
//
// # What runs
//
// A bare Git repository is made from examples/repo plus a second
// application that `promoter init` writes. A simulated mesh, like Argo CD
// and Istio together, reads the canary weights committed on the target
// branch (after a sync delay) and generates Istio's metrics
// (istio_requests_total, istio_request_duration_milliseconds_bucket) into an
// in-process Prometheus-compatible API backed by the real PromQL engine, so
// promoter's production queries are what runs. Then promoter runs every
// analysis interval of simulated time, exactly as `promoter run` from a CI
// schedule would: the same code, the same repository operations, the same
// queries. Only the clock is fast.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/promote"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// Options configure a demo run.
type Options struct {
	// Scenario is the name of the scenario (default "default").
	Scenario string
	// Keep is a directory to keep the demo's repository in; empty uses a
	// temporary directory that is removed at the end.
	Keep string
	// Out receives the live progress and the summary.
	Out io.Writer
	// Log receives promoter's own logs (default: discarded).
	Log *slog.Logger
	// Start is the simulated time the canaries start at (default
	// 2026-01-05T09:00:00Z).
	Start time.Time
	// MaxDuration bounds the simulated time (default 12h).
	MaxDuration time.Duration
	// SyncDelay is how long Argo CD or Flux take to apply a commit to the
	// mesh (default 1m).
	SyncDelay time.Duration
	// Seed makes the simulated traffic reproducible (default 1).
	Seed int64
}

// Result is how the demo ended.
type Result struct {
	Scenario Scenario
	// Final holds each canary's final decision.
	Final map[string]promote.Decision
	// Dir is the repository's directory (gone unless kept).
	Dir string
	// Commits are the target branch's first-parent commits, newest first.
	Commits []gitops.Commit
	// Passes is the number of promoter runs; Elapsed the simulated time.
	Passes  int
	Elapsed time.Duration
}

// OK reports whether every canary ended as its scenario expects.
func (r *Result) OK() bool {
	for _, a := range r.Scenario.Apps {
		if r.Final[a.Name].Phase != a.Expect {
			return false
		}
	}
	return true
}

func (o *Options) complete() {
	if o.Scenario == "" {
		o.Scenario = "default"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 12 * time.Hour
	}
	if o.SyncDelay <= 0 {
		o.SyncDelay = time.Minute
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

// Run runs the demo.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts.complete()
	sc, err := scenarioNamed(opts.Scenario, opts.Start)
	if err != nil {
		return nil, err
	}
	dir := opts.Keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "promoter-demo-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bare := filepath.Join(dir, "gitops.git")
	if _, err := os.Stat(bare); err == nil {
		return nil, fmt.Errorf("%s exists already: give --keep an empty directory", bare)
	}
	files, err := repositoryFiles(sc)
	if err != nil {
		return nil, err
	}
	// The repository exists a while before the canaries start, so that
	// stable's latency is known before the canary takes traffic.
	born := opts.Start.Add(-time.Hour)
	if _, err := gitops.InitBare(bare, "main", files, "GitOps repository: myapp and shop", gitops.Signature{Name: "platform team", Email: "platform@example.com"}, born); err != nil {
		return nil, err
	}

	now := born
	clock := func() time.Time { return now }
	repo, err := gitops.Open(ctx, gitops.Options{Source: "file://" + bare, Branch: "main", Clock: clock, Log: opts.Log, TempDir: dir})
	if err != nil {
		return nil, err
	}
	defer repo.Close()

	w := newWeights(opts.SyncDelay)
	tr, err := startTraffic(ctx, sc, w, opts.Seed, born)
	if err != nil {
		return nil, err
	}
	defer tr.Close()

	canaries, err := loadSpecs(ctx, files)
	if err != nil {
		return nil, err
	}
	interval := canaries[0].Spec.Analysis.Interval.Duration
	p := promote.New(promote.Options{
		Repo: repo, Forge: gitops.NewLocalForge(repo), Querier: tr.Querier(), Clock: clock, Log: opts.Log,
	})

	out := opts.Out
	fmt.Fprintf(out, "promoter demo: %s\n", sc.Description)
	fmt.Fprintf(out, "repository %s; simulated mesh behind an in-process Prometheus API at %s; a run every %s of simulated time\n\n", bare, tr.URL(), interval)

	res := &Result{Scenario: sc, Final: map[string]promote.Decision{}, Dir: dir}
	last := map[string]string{}
	for now = opts.Start; now.Sub(opts.Start) <= opts.MaxDuration; now = now.Add(interval) {
		if err := tr.Advance(now); err != nil {
			return nil, err
		}
		pass, err := p.Run(ctx, promote.Selection{})
		if err != nil {
			return nil, err
		}
		res.Passes++
		for _, d := range pass.Decisions {
			res.Final[d.Canary] = d
			// A hold is worth a line when its reason changes (not merely
			// the time left or the counts), so each stage shows its first
			// observation and any change in what it waits for.
			key := d.Canary + "/" + string(d.Action) + "/" + holdKind(d)
			if line := progressLine(now.Sub(opts.Start), d); line != "" && key != last[d.Canary] {
				fmt.Fprintln(out, line)
				last[d.Canary] = key
			}
		}
		if err := w.record(ctx, repo, canaries, now); err != nil {
			return nil, err
		}
		if done(sc, res.Final) {
			break
		}
	}
	res.Elapsed = now.Sub(opts.Start)
	// The outcome is what Git says, as `promoter status` reads it.
	status, err := p.Status(ctx, promote.Selection{})
	if err != nil {
		return nil, err
	}
	for _, d := range status.Decisions {
		// Git cannot say Waiting (that is the gates' verdict): keep the last
		// run's phase for a canary still observing a stage.
		if d.Phase == promote.Progressing && res.Final[d.Canary].Phase == promote.Waiting {
			d.Phase = promote.Waiting
		}
		res.Final[d.Canary] = d
	}
	if res.Commits, err = firstParent(ctx, repo); err != nil {
		return nil, err
	}
	summary(out, res)
	if !res.OK() {
		return res, errors.New("a canary did not end as its scenario expects")
	}
	return res, nil
}

// holdKind classifies a hold by what it waits for, ignoring numbers.
func holdKind(d promote.Decision) string {
	if d.Action != promote.ActHold || len(d.Reasons) == 0 {
		return ""
	}
	r := d.Reasons[0]
	if i := strings.IndexAny(r, "0123456789"); i >= 0 {
		r = r[:i]
	}
	return r + string(d.Verdict) + fmt.Sprint(d.Weight)
}

// done reports whether every canary reached a final phase.
func done(sc Scenario, final map[string]promote.Decision) bool {
	for _, a := range sc.Apps {
		switch final[a.Name].Phase {
		case promote.Succeeded, promote.RolledBack:
		default:
			return false
		}
	}
	return true
}

// loadSpecs reads the canaries of the repository files.
func loadSpecs(ctx context.Context, files gitops.Files) ([]*spec.Canary, error) {
	cs, err := spec.Load(ctx, mapFS(files))
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, errors.New("the demo repository has no canaries")
	}
	return cs, nil
}

// progressLine describes a decision worth a line: anything but a hold that
// says what the last line said.
func progressLine(at time.Duration, d promote.Decision) string {
	stamp := fmt.Sprintf("[+%s]", fmtElapsed(at))
	if d.Err != nil {
		return fmt.Sprintf("%s %-6s error: %v", stamp, d.Canary, d.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-6s ", stamp, d.Canary)
	switch d.Action {
	case promote.ActStart, promote.ActPromote:
		fmt.Fprintf(&b, "%-8s %3d%% -> %3d%%", d.Action, d.FromWeight, d.Weight)
	case promote.ActFinish:
		fmt.Fprintf(&b, "%-8s %3d%% -> 100%% (stable := %s)", d.Action, d.FromWeight, d.CanaryRevision)
	case promote.ActRollback:
		fmt.Fprintf(&b, "%-8s %3d%% ->   0%% (revert)", d.Action, d.FromWeight)
	case promote.ActHold:
		fmt.Fprintf(&b, "%-8s %3d%%", "hold", d.Weight)
	default:
		return ""
	}
	if d.Commit != "" && d.Landed {
		fmt.Fprintf(&b, "  commit %.7s", d.Commit)
	}
	if ev := evidence(d); ev != "" {
		fmt.Fprintf(&b, "  %s", ev)
	}
	if d.Action == promote.ActHold || d.Action == promote.ActRollback {
		if len(d.Reasons) > 0 {
			fmt.Fprintf(&b, "\n%s %-6s   why: %s", strings.Repeat(" ", len(stamp)), "", firstLine(d.Reasons))
		}
	}
	return b.String()
}

func firstLine(reasons []string) string {
	r := reasons[0]
	if len(reasons) > 1 && (strings.HasPrefix(r, "waiting for enough data") || strings.HasPrefix(r, "a gate")) {
		r += ": " + reasons[1]
	}
	if i := strings.IndexByte(r, '\n'); i >= 0 {
		r = r[:i]
	}
	return r
}

func fmtElapsed(d time.Duration) string {
	h := int(d.Hours())
	m := int(d.Minutes()) % 60
	return fmt.Sprintf("%02dh%02dm", h, m)
}

// summary prints each canary's outcome and the repository's log.
func summary(out io.Writer, res *Result) {
	fmt.Fprintf(out, "\nafter %s of simulated time (%d runs):\n", fmtElapsed(res.Elapsed), res.Passes)
	for _, a := range res.Scenario.Apps {
		d := res.Final[a.Name]
		mark := "ok"
		if d.Phase != a.Expect {
			mark = "UNEXPECTED (want " + string(a.Expect) + ")"
		}
		fmt.Fprintf(out, "  %-6s %-11s stable %s, canary %s at %d%%  %s\n", a.Name, d.Phase, d.StableRevision, d.CanaryRevision, d.Weight, mark)
	}
	fmt.Fprintf(out, "\ngit log --oneline --first-parent main:\n")
	for _, c := range res.Commits {
		fmt.Fprintf(out, "  %.7s %s\n", c.Hash, c.Message.Subject)
	}
}

// firstParent lists the target branch's first-parent history.
func firstParent(ctx context.Context, r *gitops.Repo) ([]gitops.Commit, error) {
	tip, err := r.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	var out []gitops.Commit
	err = r.Walk(ctx, tip.Hash, func(c gitops.Commit) (bool, error) {
		out = append(out, c)
		return false, nil
	})
	return out, err
}

// weightsAt reads each canary's committed weight at the tip.
func weightsAt(ctx context.Context, r *gitops.Repo, canaries []*spec.Canary) (map[string]int, error) {
	tip, err := r.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := r.At(ctx, tip.Hash)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, c := range canaries {
		st, err := render.ReadStage(c, snap.FS())
		if err != nil && !errors.Is(err, render.ErrNoComponent) {
			return nil, err
		}
		if st != nil {
			out[c.Metadata.Name] = st.Weight
		}
	}
	return out, nil
}
