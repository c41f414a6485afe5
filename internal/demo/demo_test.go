package demo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/promote"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// demoRun is a demo's outcome as a test reads it.
type demoRun struct {
	// final is each canary's final decision; commits the target branch's
	// first-parent commits, newest first; out what the demo printed.
	final   map[string]promote.Decision
	commits []gitops.Commit
	out     string
	// repo is the demo's kept repository, opened.
	repo *gitops.Repo
}

// runDemo runs the demo of scenario. With PROMOTER_TEST_BINARY set (make
// test sets it to promoter built without the race detector) it runs as
// `promoter demo --scenario SCENARIO --keep DIR` in that binary, and the
// outcome is read from the kept repository as Run reads it: under -race a
// whole demo costs minutes of CPU, and the in-process end-to-end tests of
// cmd/promoter run promoter's loop under -race. Without it (make test-full,
// or go test alone) the demo runs in-process, under -race when the test
// does.
func runDemo(t *testing.T, scenario string) *demoRun {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	var out bytes.Buffer
	r := &demoRun{final: map[string]promote.Decision{}}
	bin := os.Getenv("PROMOTER_TEST_BINARY")
	if bin != "" {
		cmd := exec.CommandContext(ctx, bin, "demo", "--scenario", scenario, "--keep", dir)
		cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s demo --scenario %s: %v\n%s", bin, scenario, err, out.String())
		}
	} else {
		res, err := Run(ctx, Options{Scenario: scenario, Keep: dir, Out: &out})
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		r.final, r.commits = res.Final, res.Commits
	}
	r.out = out.String()
	repo, err := gitops.Open(ctx, gitops.Options{Source: "file://" + filepath.Join(dir, "gitops.git"), TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	r.repo = repo
	if bin != "" {
		// The outcome as Git says it, as Run reads it at the end.
		status, err := promote.New(promote.Options{Repo: repo, Forge: gitops.NewLocalForge(repo)}).Status(ctx, promote.Selection{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range status.Decisions {
			r.final[d.Canary] = d
		}
		if r.commits, err = firstParent(ctx, repo); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// The demo, as CI runs it: the healthy canary is promoted, the bad one is
// rolled back by a revert, and every commit on the target branch builds.
func TestDemo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	res := runDemo(t, "default")
	if got := res.final["myapp"].Phase; got != promote.Succeeded {
		t.Errorf("myapp ended %s, want Succeeded", got)
	}
	if got := res.final["myapp"].StableRevision; got != "myapp:v2.0.0" {
		t.Errorf("myapp's stable runs %s, want the canary's image myapp:v2.0.0", got)
	}
	if got := res.final["shop"].Phase; got != promote.RolledBack {
		t.Errorf("shop ended %s, want RolledBack", got)
	}
	var revert *gitops.Commit
	for i, c := range res.commits {
		if strings.HasPrefix(c.Message.Subject, `Revert "canary(shop)`) {
			revert = &res.commits[i]
		}
	}
	if revert == nil || !strings.Contains(revert.Message.Body, "This reverts commit") {
		t.Fatalf("no revert commit of shop's canary on main:\n%s", res.out)
	}
	for _, want := range []string{"myapp  promote    5% ->  10%", "shop   rollback   5% ->   0% (revert)", "git log --oneline --first-parent main:"} {
		if !strings.Contains(res.out, want) {
			t.Errorf("output lacks %q:\n%s", want, res.out)
		}
	}

	// No commit on main fails to build.
	repo := res.repo
	for _, c := range res.commits {
		snap, err := repo.At(ctx, c.Hash)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := spec.Load(ctx, snap.FS())
		if err != nil {
			t.Fatalf("%.7s: %v", c.Hash, err)
		}
		for _, cn := range cs {
			if _, err := render.Build(snap.FS(), cn.Spec.Overlay, nil); err != nil {
				t.Errorf("%.7s %q: %s does not build: %v", c.Hash, c.Message.Subject, cn.Spec.Overlay, err)
			}
		}
	}
}

// The gateway-api scenario: shop is the ambient shape, an HTTPRoute whose
// requests only a waypoint reports; its healthy canary is promoted, and
// every commit of shop's component weighs the HTTPRoute's rule.
func TestDemoGatewayAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	res := runDemo(t, "gateway-api")
	for _, app := range []string{"myapp", "shop"} {
		if got := res.final[app].Phase; got != promote.Succeeded {
			t.Errorf("%s ended %s, want Succeeded:\n%s", app, got, res.out)
		}
	}
	if len(res.commits) == 0 {
		t.Fatal("no commits on main")
	}
	snap, err := res.repo.At(ctx, res.commits[0].Hash)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := spec.Load(ctx, snap.FS())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Metadata.Name != "shop" {
			continue
		}
		if c.Spec.RouteKind() != spec.KindHTTPRoute || c.Spec.Analysis.Reporter != spec.ReporterWaypoint {
			t.Errorf("shop splits a %s read from reporter %q", c.Spec.RouteKind(), c.Spec.Analysis.Reporter)
		}
		st, err := render.ReadStage(c, snap.FS())
		if err != nil {
			t.Fatal(err)
		}
		if st.StableImage != "shop:v2.0.0" || st.Weight != 0 {
			t.Errorf("shop's last stage %+v, want promoted", st.Stage)
		}
	}
}

func TestUnknownScenario(t *testing.T) {
	_, err := Run(context.Background(), Options{Scenario: "nope"})
	if err == nil || !strings.Contains(err.Error(), `unknown scenario "nope" (scenarios: default, latency, low-traffic, gateway-api, outage)`) {
		t.Fatalf("got %v", err)
	}
}
