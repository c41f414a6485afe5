package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops/github/githubtest"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// githubRun starts a healthy mesh over the GitHub fixture and returns a
// function that runs `promoter run` at a time. It sets no environment
// variable (its tests run in parallel): runAt passes GitHub's to promoter,
// as githubEnv gives them for any other command.
func githubRun(t *testing.T, token string) (url, bare string, gh *githubtest.Server, runAt func(at time.Time) (int, string, string), start time.Time) {
	t.Helper()
	return githubRunWith(t, token, nil)
}

// githubRunWith is githubRun with edits made to myapp's canary spec (see
// seedExampleWith).
func githubRunWith(t *testing.T, token string, edits map[string]string) (url, bare string, gh *githubtest.Server, runAt func(at time.Time) (int, string, string), start time.Time) {
	t.Helper()
	srv, bare, gh, env := githubServeWith(t, token, edits)
	start = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	mesh := startMesh(t, start, healthyVersion, 20, 3, 30*time.Second)
	gh.Clock = mesh.clock
	url = srv.RepoURL("repo")
	runAt = func(at time.Time) (int, string, string) {
		t.Helper()
		// A human may be pushing meanwhile: a ref read while git rewrites
		// it can come back empty, so read again.
		var err error
		for range 5 {
			if _, err = mesh.advance(bare, at); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		code, out, errs := runEnv(env, "--repo", url, "--forge", "github", "--prometheus", mesh.URL, "--now", at.Format(time.RFC3339), "run")
		if strings.Contains(out+errs, token) {
			t.Fatal("the token reached the output")
		}
		return code, out, errs
	}
	return url, bare, gh, runAt, start
}

// githubEnv is promoter's environment for the GitHub fake gh.
func githubEnv(gh *githubtest.Server, token string) map[string]string {
	return map[string]string{"GITHUB_TOKEN": token, "GITHUB_API_URL": gh.BaseURL, "GITHUB_REPOSITORY": "acme/gitops"}
}

// A merge method the repository does not allow ends the run with exit 1,
// GitHub's refusal and the hint, run after run; validate refuses the spec
// before any run.
func TestGitHubMergeMethodRefusedEndsTheRun(t *testing.T) {
	t.Parallel()
	_, bare, gh, runAt, start := githubRun(t, "ghs_refused_token")
	gh.SetMergeMethods(false, true, true)
	for i, at := range []time.Time{start.Add(time.Hour), start.Add(time.Hour + 5*time.Minute)} {
		code, out, errs := runAt(at)
		if code != exitError || !strings.Contains(out, "refused: the repository does not allow merge commits") ||
			!strings.Contains(out, "hint: the repository allows squash, rebase: set spec.pullRequests.mergeMethod: squash") {
			t.Fatalf("run %d: exit %d, want 1 with the refusal and the hint:\n%s%s", i+1, code, out, errs)
		}
		t.Logf("run %d: exit %d\n%s", i+1, code, out)
	}
	for _, p := range gh.Pulls() {
		if p.Merged {
			t.Errorf("pull request %d merged with a method the repository refuses", p.Number)
		}
	}
	work := t.TempDir()
	gittest.Git(t, "", "clone", "-q", bare, work)
	env := githubEnv(gh, "ghs_refused_token")
	code, out, errs := runEnv(env, "--repo", work, "validate")
	if code != exitError || !strings.Contains(out, "apps/myapp/canary.yaml:") ||
		!strings.Contains(out, "spec.pullRequests.mergeMethod: merge is not allowed on acme/gitops, which allows squash, rebase") {
		t.Fatalf("validate: exit %d, want 1 naming file, line and field:\n%s%s", code, out, errs)
	}
	gh.SetMergeMethods(true, true, true)
	if code, out, errs := runEnv(env, "--repo", work, "validate"); code != 0 {
		t.Fatalf("validate once merge commits are allowed: exit %d\n%s%s", code, out, errs)
	}
}

// GITHUB_TOKEN in a repository where Actions may not open pull requests:
// exit 1 with GitHub's words and the setting that allows it.
func TestGitHubActionsMayNotOpenPullRequests(t *testing.T) {
	t.Parallel()
	_, _, gh, runAt, start := githubRun(t, "ghs_actions_token")
	gh.DenyActionsPullRequests(true)
	code, out, errs := runAt(start.Add(time.Hour))
	if code != exitError || !strings.Contains(out, "GitHub Actions is not permitted to create or approve pull requests") ||
		!strings.Contains(out, `hint: in the repository's (or organization's) Settings > Actions > General > Workflow permissions, enable "Allow GitHub Actions to create and approve pull requests"`) {
		t.Fatalf("exit %d, want 1 with GitHub's message and the hint:\n%s%s", code, out, errs)
	}
	if n := len(gh.Pulls()); n != 0 {
		t.Errorf("%d pull requests opened", n)
	}
}

// A base that requires a merge queue: the run enqueues the pull request
// and waits (exit 0, saying so), reruns wait while it is queued, and once
// the queue merged it the canary is live at 5%.
func TestGitHubMergeQueue(t *testing.T) {
	t.Parallel()
	url, _, gh, runAt, start := githubRun(t, "ghs_queue_token")
	gh.RequireMergeQueue("main", "MERGE")
	at := start.Add(time.Hour)
	code, out, errs := runAt(at)
	if code != 0 || !strings.Contains(out, "myapp: wait 0% -> 5%") || !strings.Contains(out, "not mergeable yet: enqueued in the merge queue of main at position 1") {
		t.Fatalf("first run: exit %d, want 0 waiting in the queue:\n%s%s", code, out, errs)
	}
	code, out, errs = runAt(at.Add(time.Minute))
	if code != 0 || !strings.Contains(out, "in the merge queue of main at position 1 (queued)") {
		t.Fatalf("rerun: exit %d, want a wait in the queue:\n%s%s", code, out, errs)
	}
	if q := gh.Queue(); fmt.Sprint(q) != "[1]" || len(gh.Pulls()) != 1 {
		t.Fatalf("queue %v, %d pull requests; want one, queued", q, len(gh.Pulls()))
	}
	if merged := gh.ProcessQueue(); fmt.Sprint(merged) != "[1]" {
		t.Fatalf("the queue merged %v", merged)
	}
	if _, w := virtualService(t, url); w != [2]int{95, 5} {
		t.Fatalf("weights after the queue merged = %v, want 95/5", w)
	}
	code, out, errs = runAt(at.Add(2 * time.Minute))
	if code != 0 || strings.Contains(out, "error") {
		t.Fatalf("run after the queue merged: exit %d\n%s%s", code, out, errs)
	}
	for _, r := range gh.Requests() {
		if r.Method == "PUT" {
			t.Errorf("a plain merge was attempted on a queued base: %s", r.Path)
		}
	}
}

// A run that waits on a blocked pull request writes nothing to GitHub once
// the pull request says what promoter would write.
func TestGitHubWaitingRunWritesNothing(t *testing.T) {
	t.Parallel()
	_, _, gh, runAt, start := githubRun(t, "ghs_wait_token")
	gh.SetMergeableStateAll("blocked")
	at := start.Add(time.Hour)
	code, out, errs := runAt(at)
	if code != 0 || !strings.Contains(out, "not mergeable yet: blocked: required checks or reviews pending") {
		t.Fatalf("first run: exit %d, want a wait with the reason:\n%s%s", code, out, errs)
	}
	for i := 1; i <= 2; i++ {
		mark := len(gh.Requests())
		code, out, errs = runAt(at.Add(time.Duration(i) * time.Minute))
		if code != 0 || !strings.Contains(out, "blocked") {
			t.Fatalf("rerun %d: exit %d\n%s%s", i, code, out, errs)
		}
		var calls, writes []string
		for _, r := range gh.Requests()[mark:] {
			calls = append(calls, r.Method+" "+r.Operation)
			if r.Method != "GET" {
				writes = append(writes, r.Method+" "+r.Operation)
			}
		}
		t.Logf("waiting run %d: %d calls: %v", i, len(calls), calls)
		if len(writes) != 0 {
			t.Errorf("waiting run %d wrote: %v", i, writes)
		}
	}
}

// GitHub's secondary rate limits (a 403 on opening the pull request, a
// 429 on the merge, each with Retry-After) are waited out within the run:
// the step still lands, exit 0.
func TestGitHubSecondaryRateLimits(t *testing.T) {
	t.Parallel()
	_, _, gh, runAt, start := githubRun(t, "ghs_limits_token")
	gh.SecondaryRateLimit("POST", "/pulls", 403, 1)
	gh.SecondaryRateLimit("PUT", "/merge", 429, 1)
	code, out, errs := runAt(start.Add(time.Hour))
	if code != 0 || !strings.Contains(out, "myapp: start 0% -> 5%") || !strings.Contains(out, "/pull/1") {
		t.Fatalf("exit %d, want 0 with the start landed through pull request 1:\n%s%s", code, out, errs)
	}
	limited := 0
	for _, r := range gh.Requests() {
		if r.Status == 403 || r.Status == 429 {
			limited++
		}
	}
	if pulls := gh.Pulls(); limited != 2 || len(pulls) != 1 || !pulls[0].Merged {
		t.Errorf("%d rate-limited answers, pull requests %+v; want 2 and one merged", limited, pulls)
	}
}

// A healthy canary through auto-merge pull requests while a human pushes
// to the target branch after each of promoter's requests to GitHub (at
// most one push per request and per 50 ms): the target moves between
// deriving a step and merging it in almost every attempt, and every step
// still lands, each in the run that decided it, with every human commit
// kept. Pacing the human by promoter's requests rather than by the clock
// keeps the work the same however slow the machine is: a human on a timer
// pushes more commits the slower each run, and every one of them is more
// for promoter to fetch. make test runs the short schedule (the start,
// one promotion, the finish; see testSchedule), make test-full every
// step.
func TestGitHubBusyTargetAutoMerge(t *testing.T) {
	t.Parallel()
	edits, steps := testSchedule()
	_, bare, gh, runAt, start := githubRunWith(t, "ghs_busy_token", edits)

	// The human: a clone of their own, a commit whenever promoter made a
	// request to GitHub since the last one, and on a rejected push
	// (promoter merged first) a fetch and a rebase, as a person would.
	work := t.TempDir()
	gittest.Git(t, "", "clone", "-q", bare, work)
	stop, done := make(chan struct{}), make(chan int)
	stopHuman := sync.OnceValue(func() int { close(stop); return <-done })
	defer stopHuman()
	go func() {
		pushed, seen, n := 0, 0, 0
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- pushed
				return
			case <-tick.C:
			}
			r := len(gh.Requests())
			if r == seen {
				continue // promoter asked nothing since the last push
			}
			seen = r
			n++
			if err := os.WriteFile(filepath.Join(work, "docs-busy.txt"), fmt.Appendf(nil, "edit %d\n", n), 0o644); err != nil {
				t.Error(err)
				continue
			}
			if _, err := gittest.GitErr(work, "commit", "-qam", fmt.Sprintf("docs: busy edit %d", n)); err != nil {
				if _, err := gittest.GitErr(work, "add", "docs-busy.txt"); err == nil {
					gittest.GitErr(work, "commit", "-qm", fmt.Sprintf("docs: busy edit %d", n))
				}
			}
			if _, err := gittest.GitErr(work, "push", "-q", "origin", "HEAD:main"); err != nil {
				gittest.GitErr(work, "pull", "-q", "--rebase", "origin", "main")
				if _, err := gittest.GitErr(work, "push", "-q", "origin", "HEAD:main"); err != nil {
					continue
				}
			}
			pushed++
		}
	}()

	at := start.Add(time.Hour)
	landed, catchUps, retries := 0, 0, 0
	for i, s := range steps {
		at = at.Add(s.after)
		code, out, errs := runAt(at)
		catchUps += strings.Count(errs, "moving the pull request onto the new tip")
		retries += strings.Count(errs, "re-deriving the pull request on the new tip")
		if code != 0 || !strings.Contains(out, s.want) || !strings.Contains(out, "/pull/") {
			t.Errorf("step %d at %s: exit %d, want %q landed through a pull request:\n%s%s", i+1, at, code, s.want, out, errs)
			continue
		}
		landed++
	}
	pushed := stopHuman()
	t.Logf("%d/%d steps landed; %d catch-ups onto a moved target, %d full re-derivations; the human pushed %d commits", landed, len(steps), catchUps, retries, pushed)
	if landed != len(steps) {
		t.Fatalf("%d of %d steps landed", landed, len(steps))
	}
	merged := 0
	for _, p := range gh.Pulls() {
		if p.Merged {
			merged++
		}
	}
	if merged != len(steps) {
		t.Errorf("%d pull requests merged, want one per step (%d)", merged, len(steps))
	}
	if pushed == 0 {
		t.Fatal("the human pushed nothing: the target never moved")
	}
	log := gittest.Git(t, bare, "log", "--format=%s", "main")
	if got := strings.Count(log, "docs: busy edit"); got < pushed {
		t.Errorf("%d human commits on main, the human pushed %d: some were lost", got, pushed)
	}
	if got := gittest.Git(t, bare, "show", "main:apps/myapp/overlays/production/promoter/myapp/deployment-stable.yaml"); !strings.Contains(got, "value: myapp:v2.0.0") {
		t.Errorf("stable image not promoted:\n%s", got)
	}
}
