package github_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops/github/githubtest"
)

// CommitChecks reads every commit status (not only each context's latest)
// and every check run of a commit, through both list endpoints as GitHub
// describes them, across pages, oldest first with the dates GitHub gives.
func TestCommitChecks(t *testing.T) {
	ctx := context.Background()
	srv, f, _, head := setup(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0
	srv.Clock = func() time.Time { return now }

	if got, err := f.CommitChecks(ctx, head); err != nil || len(got) != 0 {
		t.Fatalf("CommitChecks of a commit without any = %v, %v", got, err)
	}
	srv.PostStatus(githubtest.Status{SHA: head, State: "pending", Context: "continuous-delivery/myapp", Description: "syncing"})
	now = t0.Add(time.Minute)
	srv.PostStatus(githubtest.Status{SHA: head, State: "success", Context: "continuous-delivery/myapp", Description: "synced"})
	now = t0.Add(2 * time.Minute)
	srv.PostCheckRun(githubtest.CheckRun{SHA: head, Name: "deploy", Status: "completed", Conclusion: "timed_out", Title: "sync timed out"})
	now = t0.Add(3 * time.Minute)
	srv.PostCheckRun(githubtest.CheckRun{SHA: head, Name: "deploy", Status: "in_progress"})
	srv.PostStatus(githubtest.Status{SHA: "0000000000000000000000000000000000000000", State: "success", Context: "continuous-delivery/myapp", Description: "another commit"})

	got, err := f.CommitChecks(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range got {
		lines = append(lines, fmt.Sprintf("%s %s %s %s %q", c.At.Format("15:04"), c.Kind, c.Name, c.State, c.Description))
	}
	want := []string{
		`12:00 commit status continuous-delivery/myapp pending "syncing"`,
		`12:01 commit status continuous-delivery/myapp success "synced"`,
		`12:02 check run deploy failure "sync timed out"`,
		`12:03 check run deploy pending ""`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("CommitChecks:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	// More than a page of statuses: every one is read.
	for i := range 150 {
		srv.PostStatus(githubtest.Status{SHA: head, State: "pending", Context: fmt.Sprintf("ci/%d", i), Description: ""})
	}
	got, err = f.CommitChecks(ctx, head)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 154 {
		t.Errorf("CommitChecks read %d checks, want 154 (two pages of statuses)", len(got))
	}
	pages := 0
	for _, r := range srv.Requests() {
		if r.Operation == "repos/list-commit-statuses-for-ref" {
			pages++
		}
	}
	if pages != 1+1+2 {
		t.Errorf("%d reads of the statuses, want 4 (1, 1, then 2 pages)", pages)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}

	// The answers are held to GitHub's description: a conclusion GitHub
	// does not have is caught.
	var caught []string
	srv.OnViolation = func(msg string) { caught = append(caught, msg) }
	srv.Tamper = func(op string, status int, body any) any {
		if op == "checks/list-for-ref" {
			body.(map[string]any)["check_runs"].([]any)[0].(map[string]any)["conclusion"] = "great"
		}
		return body
	}
	if _, err := f.CommitChecks(ctx, head); err != nil {
		t.Fatal(err)
	}
	if len(caught) != 1 || !strings.Contains(caught[0], "conclusion") {
		t.Errorf("a planted conclusion: violations %q, want one naming conclusion", caught)
	}
}
