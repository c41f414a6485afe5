package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/github"
	"github.com/promoter-dev/promoter/internal/gitops/github/githubtest"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

const token = "ghs_test_token"

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func setup(t *testing.T) (*githubtest.Server, *github.Forge, *sleeps, string) {
	t.Helper()
	bare := gittest.Seed(t, t.TempDir()+"/r.git", "main", map[string]string{"README.md": "hi\n"})
	work := t.TempDir()
	gittest.Git(t, "", "clone", "-q", bare, work)
	gittest.Git(t, work, "checkout", "-q", "-b", "promoter/myapp/step-1")
	gittest.Git(t, work, "commit", "-q", "--allow-empty", "-m", "canary(myapp): 0% -> 5%")
	gittest.Git(t, work, "push", "-q", "origin", "promoter/myapp/step-1")
	head := gittest.Git(t, work, "rev-parse", "HEAD")
	srv := githubtest.New(t, bare, "acme", "gitops", token)
	sl := &sleeps{}
	f, err := github.New(github.Options{Owner: "acme", Repo: "gitops", Token: token, BaseURL: srv.BaseURL, Sleep: sl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	return srv, f, sl, head
}

func TestPullRequestLifecycle(t *testing.T) {
	ctx := context.Background()
	srv, f, sl, head := setup(t)
	const branch = "promoter/myapp/step-1"
	if pr, err := f.FindPullRequest(ctx, branch); pr != nil || err != nil {
		t.Fatalf("FindPullRequest before open = %+v, %v", pr, err)
	}
	n := gitops.NewPullRequest{Head: branch, Base: "main", Title: "canary(myapp): 0% -> 5%", Body: "report", Labels: []string{"canary"}, Reviewers: []string{"alice"}}
	pr, err := f.OpenPullRequest(ctx, n)
	if err != nil || pr.Number != 1 || pr.HeadSHA != head {
		t.Fatalf("OpenPullRequest = %+v, %v", pr, err)
	}
	// A rerun adopts it (GitHub answers 422 "already exists").
	again, err := f.OpenPullRequest(ctx, n)
	if err != nil || again.Number != 1 || len(srv.Pulls()) != 1 {
		t.Fatalf("second OpenPullRequest = %+v, %v; pulls %d", again, err, len(srv.Pulls()))
	}
	if err := f.UpdatePullRequest(ctx, pr, "new report", []string{"canary", "step-1"}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetStatus(ctx, head, gitops.Status{State: gitops.StatusSuccess, Context: "promoter/gates", Description: strings.Repeat("x", 200)}); err != nil {
		t.Fatal(err)
	}
	if err := f.Comment(ctx, pr, "gates passed"); err != nil {
		t.Fatal(err)
	}
	p := srv.Pulls()[0]
	if p.Body != "new report" || strings.Join(p.Labels, ",") != "canary,step-1" || strings.Join(p.Reviewers, ",") != "alice" || len(p.Comments) != 1 {
		t.Errorf("pull request on the server = %+v", p)
	}
	if st := srv.Statuses(); len(st) != 1 || st[0].SHA != head || len(st[0].Description) > 140 {
		t.Errorf("statuses = %+v", st)
	}

	msg := gitops.Message{Subject: "canary(myapp): 0% -> 5%", Trailers: gitops.Trailers{Canary: "myapp", Step: 1, Action: gitops.ActionPromote}}
	for _, c := range []struct{ state, want string }{
		{"blocked", "blocked: required checks or reviews pending"},
		{"behind", "behind: the base branch has commits the head lacks"},
		{"unknown", "GitHub is still computing"},
	} {
		state, want := c.state, c.want
		srv.SetMergeableState(1, state)
		if m, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, msg); m.Merged || err != nil || !strings.Contains(m.Wait, want) {
			t.Errorf("merge while %s = %+v, %v; want a wait saying %q", state, m, err, want)
		}
	}
	// A pinned unknown is polled, bounded, with doubling waits, before the wait.
	if got := fmt.Sprint(sl.d); got != "[500ms 1s 2s 4s]" {
		t.Errorf("polls of an unknown mergeability waited %s, want [500ms 1s 2s 4s]", got)
	}
	sl.d = nil
	srv.SetMergeableState(1, "dirty")
	if _, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, msg); !errors.Is(err, gitops.ErrConflict) {
		t.Errorf("merge while dirty = %v, want ErrConflict", err)
	}
	srv.SetMergeableState(1, "")
	srv.FailNext("PUT", "/merge", http.StatusMethodNotAllowed, nil, `{"message":"Required status check \"ci\" is expected.","documentation_url":"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}`)
	if m, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, msg); m.Merged || err != nil || m.Wait != `GitHub: Required status check "ci" is expected.` {
		t.Errorf("merge on a 405 for a required check = %+v, %v; want a wait with GitHub's words", m, err)
	}
	srv.FailNext("PUT", "/merge", http.StatusConflict, nil, `{"message":"Head branch was modified. Review and try the merge again.","documentation_url":"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}`)
	if _, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, msg); !errors.Is(err, gitops.ErrHeadChanged) {
		t.Errorf("merge on 409 = %v, want ErrHeadChanged", err)
	}
	// Transient failures are retried: a 502, a primary rate limit, a 429 with Retry-After.
	srv.FailNext("GET", "/pulls/1", http.StatusBadGateway, nil, `{"message":"Server Error","documentation_url":"https://docs.github.com/rest"}`)
	srv.FailNext("GET", "/pulls/1", http.StatusForbidden, http.Header{
		"X-Ratelimit-Limit": {"5000"}, "X-Ratelimit-Remaining": {"0"},
		"X-Ratelimit-Reset": {strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)},
	}, `{"message":"API rate limit exceeded for installation.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`)
	srv.FailNext("PUT", "/merge", http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}, `{"message":"Too many requests","documentation_url":"https://docs.github.com/rest"}`)
	pr.HeadSHA = head
	m, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, msg)
	if err != nil || !m.Merged {
		t.Fatalf("merge = %+v, %v", m, err)
	}
	if len(sl.d) != 3 || sl.d[2] != 7*time.Second {
		t.Errorf("waits = %v, want three, the last the 7s of Retry-After", sl.d)
	}
	parents := strings.Fields(gittest.Git(t, srv.Bare, "log", "-1", "--format=%P", "main"))
	if len(parents) != 2 || parents[1] != head {
		t.Errorf("main after merge has parents %v, want a merge of %s", parents, head)
	}
	if got := gittest.Git(t, srv.Bare, "log", "-1", "--format=%(trailers:key=Promoter-Action,valueonly)", "main"); got != "promote" {
		t.Errorf("merge commit trailer = %q, want promote", got)
	}
	if err := f.DeleteBranch(ctx, "promoter/myapp/step-1"); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteBranch(ctx, "promoter/myapp/step-1"); err != nil {
		t.Errorf("deleting a deleted branch = %v, want success", err)
	}
	if err := f.DeleteBranch(ctx, "main"); !errors.Is(err, gitops.ErrForbiddenForce) {
		t.Errorf("DeleteBranch(main) = %v", err)
	}
	for _, r := range srv.Requests() {
		if r.Authorization != "Bearer "+token {
			t.Errorf("%s %s: Authorization %q", r.Method, r.Path, r.Authorization)
		}
		if strings.Contains(r.Path+r.Body, token) {
			t.Errorf("%s %s: token in path or body", r.Method, r.Path)
		}
	}
}

func TestBadTokenIsNotRetried(t *testing.T) {
	srv, _, sl, _ := setup(t)
	f, err := github.New(github.Options{Owner: "acme", Repo: "gitops", Token: "wrong", BaseURL: srv.BaseURL, Sleep: sl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.FindPullRequest(context.Background(), "promoter/myapp/step-1"); err == nil || len(sl.d) != 0 {
		t.Errorf("FindPullRequest with a bad token = %v after %d waits; want an error at once", err, len(sl.d))
	}
}

func TestParseRemote(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/acme/gitops.git":   "acme/gitops",
		"git@github.com:acme/gitops.git":       "acme/gitops",
		"https://ghe.example.com/acme/gitops":  "acme/gitops",
		"ssh://git@github.com/acme/gitops.git": "acme/gitops",
	} {
		o, r, err := github.ParseRemote(in)
		if err != nil || o+"/"+r != want {
			t.Errorf("ParseRemote(%q) = %s/%s, %v; want %s", in, o, r, err, want)
		}
	}
}
