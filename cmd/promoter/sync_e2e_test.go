package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops/github/githubtest"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// syncSpec is the example's canary waiting for Argo CD's commit status.
var syncSpec = map[string]string{"    interval: 5m\n": "    interval: 5m\n    syncStatus: {context: continuous-delivery/myapp, timeout: 45m}\n"}

// analysis.syncStatus over the GitHub fake: a stage waits for Argo CD's
// commit status on the commit that landed it, its clock starts when the
// status says success (the status's own date, not the run's), a failure
// or the timeout make it Inconclusive with the reason, and a check run
// that reports success later starts it too. Every run exits 0: a hold is
// not a failure.
func TestGitHubSyncStatus(t *testing.T) {
	const token = "ghs_sync_token"
	srv := gittest.NewServer(t)
	bare := seedExampleWith(t, srv, "auto-merge", syncSpec)
	gh := githubtest.New(t, bare, "acme", "gitops", token)
	t.Setenv("GITHUB_TOKEN", token)
	t.Setenv("GITHUB_API_URL", gh.BaseURL)
	t.Setenv("GITHUB_REPOSITORY", "acme/gitops")
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	env := startMesh(t, start, healthyVersion, 20, 3, 30*time.Second)
	gh.Clock = env.clock
	url := srv.RepoURL("repo")
	type decision struct {
		Action, Phase, Verdict, Error, Hint string
		Weight                              int
		Reasons                             []string
	}
	runAt := func(at time.Time) (decision, string) {
		t.Helper()
		if _, err := env.advance(bare, at); err != nil {
			t.Fatal(err)
		}
		code, out, errs := run("--repo", url, "--forge", "github", "--prometheus", env.URL, "--now", at.Format(time.RFC3339), "-o", "json", "run")
		if code != 0 {
			t.Fatalf("run at %s: exit %d, want 0\n%s%s", at.Format("15:04"), code, out, errs)
		}
		var pass struct{ Canaries []decision }
		if err := json.Unmarshal([]byte(out), &pass); err != nil || len(pass.Canaries) != 1 {
			t.Fatalf("run at %s: %v\n%s", at.Format("15:04"), err, out)
		}
		d := pass.Canaries[0]
		t.Logf("%s: %s [%s] %d%% verdict %s: %s", at.Format("15:04"), d.Action, d.Phase, d.Weight, d.Verdict, strings.Join(d.Reasons, "; "))
		return d, out
	}
	expect := func(d decision, action, phase, verdict, reason string) {
		t.Helper()
		if d.Action != action || (phase != "" && d.Phase != phase) || (verdict != "" && d.Verdict != verdict) || !strings.Contains(strings.Join(d.Reasons, "\n"), reason) {
			t.Fatalf("decision %s [%s] verdict %s %q, want %s [%s] verdict %s with %q", d.Action, d.Phase, d.Verdict, d.Reasons, action, phase, verdict, reason)
		}
	}
	tip := func() string { return gittest.Git(t, bare, "rev-parse", "main") }

	// Step 1 lands through a pull request; its merge commit is the stage's.
	at := start.Add(time.Hour)
	d, _ := runAt(at)
	expect(d, "start", "Progressing", "", "differs from stable")
	stage1 := tip()

	// Past the 30m pause, gates passing, but Argo CD has not reported.
	d, _ = runAt(at.Add(31 * time.Minute))
	expect(d, "hold", "Waiting", "", "waiting for sync status continuous-delivery/myapp on "+stage1[:12])
	// status says the same, and so does plan, which reads no forge.
	now := at.Add(32 * time.Minute).Format(time.RFC3339)
	code, out, errs := run("--repo", url, "--forge", "github", "--prometheus", env.URL, "--now", now, "status")
	if code != 0 || !strings.Contains(out, "myapp: Waiting step 1/5 at 5%") || !strings.Contains(out, "waiting for sync status continuous-delivery/myapp on "+stage1[:12]) {
		t.Fatalf("status: exit %d, want Waiting for the sync status:\n%s%s", code, out, errs)
	}
	code, out, errs = run("--repo", url, "--forge", "github", "--prometheus", env.URL, "--now", now, "plan")
	if code != 0 || !strings.Contains(out, "myapp: hold at 5% [Waiting]") || !strings.Contains(out, "sync status continuous-delivery/myapp not read: no forge is set up") {
		t.Fatalf("plan: exit %d, want a hold saying the status was not read:\n%s%s", code, out, errs)
	}

	// Argo CD posts success at +35m: the clock starts then, not at the run
	// (and the gates count the stage's requests from then: too few yet).
	gh.PostStatus(githubtest.Status{SHA: stage1, State: "pending", Context: "continuous-delivery/myapp", Description: "syncing", At: at.Add(33 * time.Minute)})
	gh.PostStatus(githubtest.Status{SHA: stage1, State: "success", Context: "continuous-delivery/myapp", Description: "synced", At: at.Add(35 * time.Minute)})
	d, _ = runAt(at.Add(40 * time.Minute))
	expect(d, "hold", "", "", "stage live for 5m0s of its 30m0s pause")
	d, _ = runAt(at.Add(64 * time.Minute))
	expect(d, "hold", "Progressing", "pass", "stage live for 29m0s of its 30m0s pause")
	at = at.Add(66 * time.Minute)
	d, _ = runAt(at)
	expect(d, "promote", "Progressing", "", "every gate passed after the 30m0s pause")
	stage2 := tip()
	if stage2 == stage1 {
		t.Fatal("the promotion did not land")
	}

	// A human pushes after the step: the status may land on that commit
	// (Argo CD syncs the tip); a failure there is Inconclusive at once.
	work := t.TempDir()
	gittest.Git(t, "", "clone", "-q", bare, work)
	gittest.Git(t, work, "-c", "user.name=h", "-c", "user.email=h@example.com", "commit", "-q", "--allow-empty", "-m", "docs: unrelated")
	gittest.Git(t, work, "push", "-q", "origin", "HEAD:main")
	human := tip()
	gh.PostStatus(githubtest.Status{SHA: human, State: "failure", Context: "continuous-delivery/myapp", Description: "sync failed: admission webhook denied", At: at.Add(5 * time.Minute)})
	d, _ = runAt(at.Add(10 * time.Minute))
	expect(d, "hold", "Waiting", "inconclusive", "Inconclusive: the commit status continuous-delivery/myapp on "+human[:12]+" reports failure (sync failed: admission webhook denied)")

	// Past the timeout with no success: Inconclusive, saying why.
	gh.PostStatus(githubtest.Status{SHA: human, State: "pending", Context: "continuous-delivery/myapp", Description: "retrying", At: at.Add(11 * time.Minute)})
	d, _ = runAt(at.Add(50 * time.Minute))
	expect(d, "hold", "Waiting", "inconclusive", "Inconclusive: no commit status or check run continuous-delivery/myapp reports success on "+stage2[:12]+" or a later commit 50m0s after the stage landed (analysis.syncStatus.timeout 45m0s)")

	// A check run of that name completing with success on the human's
	// commit starts the clock at its completed_at.
	gh.PostCheckRun(githubtest.CheckRun{SHA: human, Name: "continuous-delivery/myapp", Status: "completed", Conclusion: "success", StartedAt: at.Add(52 * time.Minute), CompletedAt: at.Add(55 * time.Minute)})
	d, _ = runAt(at.Add(60 * time.Minute))
	expect(d, "hold", "", "", "stage live for 5m0s of its 1h0m0s pause")
	d, _ = runAt(at.Add(116 * time.Minute))
	expect(d, "promote", "Progressing", "", "every gate passed after the 1h0m0s pause")

	for _, r := range gh.Requests() {
		if r.Status >= 400 && !(r.Operation == "git/get-ref" && r.Status == 404) {
			t.Errorf("%s %s answered %d", r.Method, r.Path, r.Status)
		}
	}
}

// The local forge has no commit statuses: validate and run refuse a
// canary with analysis.syncStatus, naming file, line and field, with the
// hint in the text and in -o json.
func TestSyncStatusNeedsAForgeWithStatuses(t *testing.T) {
	srv := gittest.NewServer(t)
	bare := seedExampleWith(t, srv, "direct", syncSpec)
	work := t.TempDir()
	gittest.Git(t, "", "clone", "-q", bare, work)
	const where = "apps/myapp/canary.yaml:24: spec.analysis.syncStatus"
	code, out, errs := run("--repo", work, "--forge", "local", "validate")
	if code != exitError || !strings.Contains(out, where+": the local forge (a plain Git remote) has no commit statuses or check runs to read: run with --forge github") {
		t.Fatalf("validate: exit %d, want 1 naming file, line and field:\n%s%s", code, out, errs)
	}
	code, out, errs = run("--repo", srv.RepoURL("repo"), "--forge", "local", "run")
	if code != exitError || !strings.Contains(out, "error: "+where+": refused: the local forge") || !strings.Contains(out, "hint: run with --forge github") {
		t.Fatalf("run: exit %d, want 1 with the refusal and the hint:\n%s%s", code, out, errs)
	}
	code, out, errs = run("--repo", srv.RepoURL("repo"), "--forge", "local", "-o", "json", "run")
	var pass struct {
		Canaries []struct{ Error, Hint string }
	}
	if code != exitError || json.Unmarshal([]byte(out), &pass) != nil || len(pass.Canaries) != 1 ||
		!strings.HasPrefix(pass.Canaries[0].Hint, "run with --forge github") {
		t.Fatalf("run -o json: exit %d, want 1 with the hint in the decision:\n%s%s", code, out, errs)
	}
	if w, err := committedWeightOf(bare, "myapp"); err != nil || w != 0 {
		t.Errorf("the refused canary started: weight %d (%v)", w, err)
	}
}
