package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/github/githubtest"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
	"github.com/promoter-dev/promoter/internal/mesh"
	"github.com/promoter-dev/promoter/internal/mesh/meshtest"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// The end-to-end scripts get two commands of their own:
//
//	remote [MODE]            serve $WORK/example over smart HTTP as a Git remote, with
//	                         myapp's pullRequests.mode set to MODE; sets REMOTE and BARE
//	mesh start STATE TIME    simulate myapp's traffic from TIME: STATE healthy, bad (the
//	                         canary fails 5x as often), slow (1.5x latency) or quiet
//	                         (one request every 20 s); sets PROM
//	mesh advance TIME        apply the weight committed on the remote (as Argo CD would)
//	                         and generate the traffic up to TIME
//
// Servers are tied to the parent test, which outlives every script.

type e2eState struct {
	mu   sync.Mutex
	bare string
	mesh *testMesh
}

func e2eCmds(t *testing.T) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	var states sync.Map // work dir -> *e2eState
	state := func(ts *testscript.TestScript) *e2eState {
		s, _ := states.LoadOrStore(ts.Getenv("WORK"), &e2eState{})
		return s.(*e2eState)
	}
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"remote": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) > 2 {
				ts.Fatalf("usage: remote [MODE [PATH]]")
			}
			dir := ts.MkAbs("example")
			name := "gitops"
			if len(args) == 2 {
				name = args[1]
			}
			if len(args) >= 1 && args[0] != "-" {
				p := filepath.Join(dir, "apps/myapp/canary.yaml")
				data, err := os.ReadFile(p)
				ts.Check(err)
				ts.Check(os.WriteFile(p, []byte(strings.Replace(string(data), "mode: auto-merge", "mode: "+args[0], 1)), 0o644))
			}
			srv := gittest.NewServer(t)
			bare := srv.SeedDir(t, name, "main", dir)
			st := state(ts)
			st.mu.Lock()
			st.bare = bare
			st.mu.Unlock()
			ts.Setenv("REMOTE", srv.RepoURL(name))
			ts.Setenv("BARE", bare)
		},
		// github OWNER/NAME serves the GitHub API fake for OWNER/NAME over
		// $BARE and points GITHUB_API_URL and GITHUB_TOKEN at it. Requests
		// for any other repository get GitHub's 404.
		"github": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: github OWNER/NAME")
			}
			owner, name, ok := strings.Cut(args[0], "/")
			if !ok {
				ts.Fatalf("usage: github OWNER/NAME")
			}
			st := state(ts)
			st.mu.Lock()
			bare := st.bare
			st.mu.Unlock()
			if bare == "" {
				ts.Fatalf("github before remote")
			}
			const token = "ghs_script_token"
			gh := githubtest.New(t, bare, owner, name, token)
			ts.Setenv("GITHUB_API_URL", gh.BaseURL)
			ts.Setenv("GITHUB_TOKEN", token)
		},
		"mesh": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) < 2 {
				ts.Fatalf("usage: mesh start STATE TIME | mesh advance TIME")
			}
			st := state(ts)
			switch args[0] {
			case "start":
				if len(args) != 3 {
					ts.Fatalf("usage: mesh start STATE TIME")
				}
				at, err := time.Parse(time.RFC3339, args[2])
				ts.Check(err)
				canary, rps, err := canaryHealth(args[1])
				ts.Check(err)
				m := startMesh(t, at, canary, rps, 7, 30*time.Second)
				st.mu.Lock()
				st.mesh = m
				st.mu.Unlock()
				ts.Setenv("PROM", m.URL)
			case "advance":
				at, err := time.Parse(time.RFC3339, args[1])
				ts.Check(err)
				st.mu.Lock()
				m, bare := st.mesh, st.bare
				st.mu.Unlock()
				if m == nil {
					ts.Fatalf("mesh advance before mesh start")
				}
				w, err := m.advance(bare, at)
				ts.Check(err)
				ts.Logf("mesh at %s, canary weight %d%%", at.Format(time.RFC3339), w)
			default:
				ts.Fatalf("unknown mesh subcommand %q", args[0])
			}
		},
	}
}

var healthyVersion = mesh.Health{ErrorRate: 0.002, Median: 40 * time.Millisecond, Sigma: 0.6}

// testMesh simulates myapp's traffic from start, applying the canary weight
// committed on a bare repository when told to advance, as Argo CD would.
type testMesh struct {
	*meshtest.Env
	mu     sync.Mutex
	now    time.Time
	weight int
	// canary is the canary whose committed weight advance applies
	// ("" for myapp).
	canary string
}

func startMesh(t testing.TB, start time.Time, canary mesh.Health, rps float64, seed uint64, scrape time.Duration) *testMesh {
	m := &testMesh{now: start}
	m.Env = meshtest.Start(t, mesh.Options{
		Start: start, Seed: seed, ScrapeInterval: scrape,
		Services: []mesh.Service{{
			Namespace: "canary-demo", Name: "myapp", RPS: rps,
			Stable: mesh.Version{Name: "v1", Workload: "myapp-stable", Health: healthyVersion},
			Canary: mesh.Version{Name: "v2", Workload: "myapp-canary", Health: canary},
			Weight: func(time.Time) int { m.mu.Lock(); defer m.mu.Unlock(); return m.weight },
		}},
	}, m.clock)
	return m
}

func (m *testMesh) clock() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// advance applies the weight committed on bare and generates the traffic
// up to at.
func (m *testMesh) advance(bare string, at time.Time) (int, error) {
	w, err := committedWeightOf(bare, m.canaryName())
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	m.weight, m.now = w, at
	m.mu.Unlock()
	return w, m.Mesh.Advance(context.Background(), at)
}

func canaryHealth(state string) (mesh.Health, float64, error) {
	h := healthyVersion
	switch state {
	case "healthy":
	case "bad":
		h.ErrorRate *= 5
	case "slow":
		h.Median = h.Median * 3 / 2
	case "quiet":
		return h, 0.05, nil
	default:
		return h, 0, fmt.Errorf("unknown mesh state %q (healthy, bad, slow, quiet)", state)
	}
	return h, 20, nil
}

// committedWeightOf reads a canary's weight at the tip of main in bare.
func committedWeightOf(bare, canary string) (int, error) {
	if bare == "" {
		return 0, errors.New("no remote: run `remote` first")
	}
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "promoter-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	r, err := gitops.Open(ctx, gitops.Options{Source: bare, Branch: "main", TempDir: tmp})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	tip, err := r.Fetch(ctx)
	if err != nil {
		return 0, err
	}
	snap, err := r.At(ctx, tip.Hash)
	if err != nil {
		return 0, err
	}
	cs, err := spec.Load(ctx, snap.FS())
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		if c.Metadata.Name == canary {
			st, err := render.ReadStage(c, snap.FS())
			if errors.Is(err, render.ErrNoComponent) {
				return 0, nil // before the first run
			}
			if err != nil {
				return 0, err
			}
			return st.Weight, nil
		}
	}
	return 0, fmt.Errorf("no canary %s on main", canary)
}

func (m *testMesh) canaryName() string {
	if m.canary == "" {
		return "myapp"
	}
	return m.canary
}
