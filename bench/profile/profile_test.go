// Package profile profiles promoter's scale scenarios in-process, through
// internal/promote, on a repository made by bench/monorepo. It measures
// nothing by itself and asserts no time: it writes CPU and heap profiles
// for `go tool pprof`.
//
//	BENCH_REPO=$TMPDIR/promoter-bench/mono.git BENCH_PROFILES=$TMPDIR/profiles \
//	  go test ./bench/profile -run Profile -v -timeout 30m
//	go tool pprof -top $TMPDIR/profiles/idle.cpu.pprof
package profile

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/promote"
	"github.com/promoter-dev/promoter/internal/render"
)

func setup(t *testing.T) (repo, out string) {
	repo, out = os.Getenv("BENCH_REPO"), os.Getenv("BENCH_PROFILES")
	if repo == "" || out == "" {
		t.Skip("set BENCH_REPO (a bench/monorepo repository) and BENCH_PROFILES (an output directory)")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return repo, out
}

// profiled runs fn under a CPU profile written to out/name.cpu.pprof, and
// writes a heap profile after it.
func profiled(t *testing.T, out, name string, fn func()) {
	t.Helper()
	f, err := os.Create(filepath.Join(out, name+".cpu.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fn()
	pprof.StopCPUProfile()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%s: %s, heap in use %d MB, total allocated %d MB", name, time.Since(start).Round(time.Millisecond), ms.HeapInuse>>20, ms.TotalAlloc>>20)
	h, err := os.Create(filepath.Join(out, name+".heap.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := pprof.WriteHeapProfile(h); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, ctx context.Context, repo, branch string) *gitops.Repo {
	t.Helper()
	return openSource(t, ctx, "file://"+repo, branch)
}

// openSource opens a remote URL, or a checkout's directory.
func openSource(t *testing.T, ctx context.Context, source, branch string) *gitops.Repo {
	t.Helper()
	r, err := gitops.Open(ctx, gitops.Options{Source: source, Branch: branch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestProfileIdle profiles the clone, then a pass with nothing due. With
// BENCH_CHECKOUT (a `git clone` of BENCH_REPO) it opens that checkout
// instead of cloning, as a CI job runs promoter.
func TestProfileIdle(t *testing.T) {
	repo, out := setup(t)
	ctx := context.Background()
	source := "file://" + repo
	if dir := os.Getenv("BENCH_CHECKOUT"); dir != "" {
		source = dir
	}
	var r *gitops.Repo
	profiled(t, out, "clone", func() { r = openSource(t, ctx, source, "main") })
	p := promote.New(promote.Options{Repo: r})
	profiled(t, out, "idle", func() {
		before := render.BuildCount()
		pass, err := p.Run(ctx, promote.Selection{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("idle: %d kustomize builds for %d canaries", render.BuildCount()-before, len(pass.Decisions))
		for _, d := range pass.Decisions {
			if d.Action != promote.ActNone || d.Err != nil {
				t.Fatalf("%s: %s %v", d.Canary, d.Action, d.Err)
			}
		}
	})
}

// TestProfileStart profiles a pass that starts 10 canaries (10 commits and
// pushes) on a copy of the repository.
func TestProfileStart(t *testing.T) {
	repo, out := setup(t)
	ctx := context.Background()
	cp := filepath.Join(t.TempDir(), "copy.git")
	if b, err := exec.Command("cp", "-a", repo, cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, b)
	}
	r := open(t, ctx, cp, "bench/pending-100")
	p := promote.New(promote.Options{Repo: r, Forge: gitops.NewLocalForge(r)})
	names := []string{"app-0001", "app-0002", "app-0003", "app-0004", "app-0005", "app-0006", "app-0007", "app-0008", "app-0009", "app-0010"}
	profiled(t, out, "start10", func() {
		pass, err := p.Run(ctx, promote.Selection{Names: names})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range pass.Decisions {
			if !d.Landed {
				t.Fatalf("%s: %s did not land: %v", d.Canary, d.Action, d.Err)
			}
		}
	})
}
