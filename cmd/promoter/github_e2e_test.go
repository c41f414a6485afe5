package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// The healthy path through the GitHub forge: one pull request per step,
// each with the gate report and a promoter/gates status, merged by promoter
// and its branch deleted; reruns never open a second pull request. GitHub
// takes two reads to compute each pull request's mergeability, as it does
// in the background after a pull request opens: the step still lands in
// the run that opened it. Every request and answer is checked against
// GitHub's description (the fake fails the test otherwise).
//
// make test runs it on a shorter schedule (see testSchedule): the start,
// one promotion and the finish; make test-full on every step.
func TestHealthyThroughGitHub(t *testing.T) {
	t.Parallel()
	const token = "ghs_e2e_token"
	edits, steps := testSchedule()
	srv, bare, gh, ghEnv := githubServeWith(t, token, edits)
	gh.SetMergeableNullPolls(2)

	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	env := startMesh(t, start, healthyVersion, 20, 3, 30*time.Second)
	gh.Clock = env.clock
	runAt := func(at time.Time) string {
		t.Helper()
		if _, err := env.advance(bare, at); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runEnv(ghEnv, "--repo", srv.RepoURL("repo"), "--forge", "github", "--prometheus", env.URL, "--now", at.Format(time.RFC3339), "run")
		if code != 0 {
			t.Fatalf("run at %s: exit %d\n%s%s", at, code, out, errs)
		}
		if strings.Contains(errs, token) || strings.Contains(out, token) {
			t.Fatal("the token reached the output")
		}
		return out
	}

	at := start.Add(time.Hour)
	for i, s := range steps {
		at = at.Add(s.after)
		if out := runAt(at); !strings.Contains(out, s.want) || !strings.Contains(out, "/pull/") {
			t.Fatalf("step %d at %s: want %q through a pull request, got:\n%s", i+1, at, s.want, out)
		}
		// A rerun a minute later adopts what is there and opens nothing.
		if out := runAt(at.Add(time.Minute)); strings.Contains(out, "/pull/") {
			t.Fatalf("rerun after step %d opened or touched a pull request:\n%s", i+1, out)
		}
	}

	// Each merge read the pull request until GitHub had computed it; no
	// request was refused (a branch deleted twice used to be a 422 per step).
	gets, deletes := 0, 0
	for _, r := range gh.Requests() {
		switch {
		case r.Operation == "pulls/get":
			gets++
		case r.Method == "DELETE":
			deletes++
		}
		if r.Status >= 400 && !(r.Operation == "git/get-ref" && r.Status == 404) { // a branch already gone is read, not deleted
			t.Errorf("%s %s answered %d", r.Method, r.Path, r.Status)
		}
	}
	t.Logf("%d requests, %d deletions of branches, over %d steps", len(gh.Requests()), deletes, len(steps))
	if deletes != len(steps) {
		t.Errorf("%d branch deletions, want one per merged step (%d)", deletes, len(steps))
	}
	if gets < 3*len(steps) {
		t.Errorf("%d reads of pull requests for %d merges, want at least three each (two while mergeable is null)", gets, len(steps))
	}
	pulls := gh.Pulls()
	if len(pulls) != len(steps) {
		t.Fatalf("%d pull requests, want one per step (%d): %+v", len(pulls), len(steps), pulls)
	}
	heads := map[string]bool{}
	for i, p := range pulls {
		if !p.Merged || heads[p.Head] {
			t.Errorf("pull request %d (%s) merged=%v, duplicate head=%v", p.Number, p.Head, p.Merged, heads[p.Head])
		}
		heads[p.Head] = true
		if want := fmt.Sprintf("promoter/myapp/step-%d", i+1); i < len(steps)-1 && p.Head != want {
			t.Errorf("pull request %d head %s, want %s", p.Number, p.Head, want)
		}
		if !strings.Contains(p.Body, "### Schedule") || !strings.Contains(p.Body, "Promoter-Canary: myapp") {
			t.Errorf("pull request %d body lacks the schedule or trailers:\n%s", p.Number, p.Body)
		}
		if i > 0 && (!strings.Contains(p.Body, "### Gates") || !strings.Contains(p.Body, "```mermaid") || !strings.Contains(p.Body, "```diff")) {
			t.Errorf("pull request %d body lacks the gate report, chart or built diff:\n%s", p.Number, p.Body)
		}
		if strings.Join(p.Labels, ",") != "canary" {
			t.Errorf("pull request %d labels %v, want canary", p.Number, p.Labels)
		}
	}
	statuses := 0
	for _, s := range gh.Statuses() {
		if s.Context == "promoter/gates" {
			statuses++
			if s.State != "success" {
				t.Errorf("status %s on %.7s, want success", s.State, s.SHA)
			}
		}
	}
	if statuses < len(steps) {
		t.Errorf("%d promoter/gates statuses, want one per pull request at least", statuses)
	}
	if left := gittest.Git(t, bare, "branch", "--list", "promoter/*"); left != "" {
		t.Errorf("merged branches left behind: %s", left)
	}
	if got := gittest.Git(t, bare, "show", "main:apps/myapp/overlays/production/promoter/myapp/deployment-stable.yaml"); !strings.Contains(got, "value: myapp:v2.0.0") {
		t.Errorf("stable image not promoted:\n%s", got)
	}
}

// schedule is a healthy canary's runs through its steps: how long after
// the previous run each one comes, and the decision it must print.
type schedule []struct {
	after time.Duration
	want  string
}

// healthySchedule is the schedule of the scaffold's steps (those of
// examples/repo).
var healthySchedule = schedule{
	{0, "myapp: start 0% -> 5%"},
	{30 * time.Minute, "myapp: promote 5% -> 10%"},
	{time.Hour, "myapp: promote 10% -> 25%"},
	{2 * time.Hour, "myapp: promote 25% -> 50%"},
	{4 * time.Hour, "myapp: promote 50% -> 75%"},
	{2 * time.Hour, "myapp: finish 75% -> 100%"},
}

// shortSchedule is the schedule of examples/repo with its steps cut to 5%
// and 75% (shortSteps): the start, one promotion, which carries a gate
// report, and the finish.
var shortSchedule = schedule{
	{0, "myapp: start 0% -> 5%"},
	{30 * time.Minute, "myapp: promote 5% -> 75%"},
	{2 * time.Hour, "myapp: finish 75% -> 100%"},
}

// shortSteps are the edits to myapp's canary spec of shortSchedule.
var shortSteps = map[string]string{
	"    - {weight: 10, pause: 1h}\n    - {weight: 25, pause: 2h}\n    - {weight: 50, pause: 4h}\n": "",
}

// testSchedule is the spec edits and the schedule of the tests that take
// a canary of examples/repo's (or the scaffold's) steps through every step
// to promotion: the short schedule, or every step with
// PROMOTER_TEST_FULL=1 (make test-full). The steps between the first
// promotion and the finish land as the first promotion does.
func testSchedule() (map[string]string, schedule) {
	if os.Getenv("PROMOTER_TEST_FULL") != "" {
		return nil, healthySchedule
	}
	return shortSteps, shortSchedule
}
