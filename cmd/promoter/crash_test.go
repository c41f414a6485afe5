package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// Kill `promoter run` in the middle of landing a step, 8 times (50 with
// PROMOTER_TEST_FULL=1, as `make test-full` runs it): at a random moment,
// right after the pull request branch is pushed, after its status is set,
// and right after the merge (before the branch is deleted), each kill point
// in turn. After each kill a clean run converges to what an uninterrupted
// run would have done: the step lands exactly once. Between canaries
// `promoter start` begins a new attempt, so every kill interrupts real
// work; 8 iterations kill at each point twice and take one canary through
// all six steps and the next, started by `promoter start`, through two.
// At the end every commit of the target branch builds. The runs get a
// TMPDIR of the test's own: a killed run leaves its clone there (and the
// test removes it), a clean run leaves nothing, and no clone of this
// test's remote is left in the test process's TMPDIR.
func TestCrashInjection(t *testing.T) {
	if testing.Short() {
		t.Skip("kills 8 processes")
	}
	t.Parallel()
	iterations := repetitions(8, 50)
	bin := promoterBinary(t)
	srv := gittest.NewServer(t)
	// Eight healthy canaries run one after the other here; at alpha 0.05
	// the sequential test may rightly reject one of them by chance, which
	// is not what this test is about. A tiny alpha keeps it out of the way.
	bare := seedExampleWith(t, srv, "auto-merge", map[string]string{"type: sequential, alpha: 0.05": "type: sequential, alpha: 0.000001"})
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	env := startMesh(t, start, healthyVersion, 20, 11, time.Minute)
	// tmp is the runs' TMPDIR; outside is where they would have put their
	// clones without it.
	tmp, outside, started := t.TempDir(), os.TempDir(), time.Now().Add(-time.Second)
	advance := func(at time.Time) {
		if _, err := env.advance(bare, at); err != nil {
			t.Fatal(err)
		}
	}
	// run runs promoter and kills it when its log shows a line containing
	// k.line, or k.after after it started (when set).
	run := func(at time.Time, k killPoint, args ...string) (killed bool, out string) {
		args = append([]string{"--repo", srv.RepoURL("repo"), "--prometheus", env.URL, "--now", at.Format(time.RFC3339)}, args...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		var stdout, b strings.Builder
		cmd.Stdout = &stdout
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		doKill := func() { once.Do(func() { killed = cmd.Process.Kill() == nil }) }
		if k.after > 0 {
			timer := time.AfterFunc(k.after, doKill)
			defer timer.Stop()
		}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if k.line != "" && strings.Contains(sc.Text(), k.line) {
				doKill()
			}
		}
		err = cmd.Wait()
		b.WriteString(stdout.String())
		once.Do(func() {})
		if !killed && err != nil {
			t.Fatalf("promoter %v: %v\n%s", args, err, b.String())
		}
		return killed, b.String()
	}

	rng := rand.New(rand.NewPCG(2026, 3))
	killPoints := []killPoint{
		{name: "at a random moment"}, // its time is drawn per iteration
		{name: "after the branch was pushed", line: "pull request branch ready"},
		{name: "after the status was set", line: "msg=status"},
		{name: "after the merge", line: "msg=merged"},
	}
	pauses := []time.Duration{0, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 2 * time.Hour}
	at := start.Add(time.Hour)
	step, image, kills := 0, 2, 0
	for i := range iterations {
		if step == len(pauses) {
			// Promoted: start a new canary of a new image.
			image++
			at = at.Add(5 * time.Minute)
			advance(at)
			run(at, killPoint{}, "start", "myapp", "--image", fmt.Sprintf("myapp:v%d.0.0", image))
			step = 0
		}
		at = at.Add(pauses[step])
		advance(at)
		before := len(firstParent(t, bare))
		kp := killPoints[i%len(killPoints)]
		if kp.line == "" {
			kp.after = time.Duration(1 + rng.Int64N(int64(400*time.Millisecond)))
		}
		killed, _ := run(at, kp, "run")
		if killed {
			kills++
		}
		left := clonesIn(t, tmp, srv.RepoURL("repo"), time.Time{})
		if _, out := run(at, killPoint{}, "run"); strings.Contains(out, "error") {
			t.Fatalf("clean run after a kill %s:\n%s", kp.name, out)
		}
		if now := clonesIn(t, tmp, srv.RepoURL("repo"), time.Time{}); len(now) != len(left) {
			t.Errorf("iteration %d: the clean run left a clone in its TMPDIR: %v before, %v after", i, left, now)
		}
		if got := len(firstParent(t, bare)) - before; got != 1 {
			t.Fatalf("iteration %d (killed %s: %v): %d commits landed for step %d, want exactly 1", i, kp.name, killed, got, step+1)
		}
		step++
	}
	t.Logf("%d iterations, %d runs killed before they finished", iterations, kills)
	if kills < iterations/2 {
		t.Errorf("only %d of %d runs were killed before they finished", kills, iterations)
	}
	if got := clonesIn(t, tmp, srv.RepoURL("repo"), time.Time{}); len(got) > kills {
		t.Errorf("%d clones left in the runs' TMPDIR, more than the %d killed runs", len(got), kills)
	}
	if got := clonesIn(t, outside, srv.RepoURL("repo"), started); len(got) > 0 {
		t.Errorf("clones of this test's remote left outside its TMPDIR: %v", got)
	}
	assertEveryCommitBuilds(t, srv.RepoURL("repo"))
}

// clonesIn lists the promoter-clone-* directories in dir, changed since
// since, whose remote is url.
func clonesIn(t *testing.T, dir, url string, since time.Time) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "promoter-clone-") {
			continue
		}
		if info, err := e.Info(); err != nil || info.ModTime().Before(since) {
			continue
		}
		cfg, err := os.ReadFile(filepath.Join(dir, e.Name(), "config"))
		if err != nil || !strings.Contains(string(cfg), "url = "+url+"\n") {
			continue
		}
		out = append(out, e.Name())
	}
	return out
}

// repetitions is how often a repeated test repeats: n, or full when
// PROMOTER_TEST_FULL is set (make test-full).
func repetitions(n, full int) int {
	if os.Getenv("PROMOTER_TEST_FULL") != "" {
		return full
	}
	return n
}

// killPoint says when to kill a run.
type killPoint struct {
	name  string
	line  string        // kill on a log line containing this
	after time.Duration // or this long after the start
}

// firstParent lists main's first-parent commits.
func firstParent(t *testing.T, bare string) []string {
	return strings.Split(gittest.Git(t, bare, "log", "--first-parent", "--format=%H", "main"), "\n")
}

// assertEveryCommitBuilds builds every canary's overlay at every
// first-parent commit of main.
func assertEveryCommitBuilds(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	r, err := gitops.Open(ctx, gitops.Options{Source: url, Branch: "main", Depth: -1, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tip, err := r.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Walk(ctx, tip.Hash, func(c gitops.Commit) (bool, error) {
		snap, err := r.At(ctx, c.Hash)
		if err != nil {
			return true, err
		}
		cs, err := spec.Load(ctx, snap.FS())
		if err != nil {
			return true, fmt.Errorf("%.7s: %w", c.Hash, err)
		}
		for _, cn := range cs {
			if _, err := render.Build(snap.FS(), cn.Spec.Overlay, nil); err != nil {
				t.Errorf("%.7s %q does not build: %v", c.Hash, c.Message.Subject, err)
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
