package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/github"
	"github.com/promoter-dev/promoter/internal/gitops/github/githubtest"
)

var stepMsg = gitops.Message{Subject: "canary(myapp): 0% -> 5%", Trailers: gitops.Trailers{Canary: "myapp", Step: 1, Action: gitops.ActionPromote}}

func openPR(t *testing.T, f *github.Forge, head string) *gitops.PullRequest {
	t.Helper()
	pr, err := f.OpenPullRequest(context.Background(), gitops.NewPullRequest{Head: "promoter/myapp/step-1", Base: "main", Title: stepMsg.Subject, Body: "report", Labels: []string{"canary"}})
	if err != nil {
		t.Fatal(err)
	}
	pr.HeadSHA = head
	return pr
}

// writes counts the requests that are not reads.
func writes(rs []githubtest.Request) (n int, what []string) {
	for _, r := range rs {
		if r.Method != http.MethodGet && r.Operation != "graphql" {
			n++
			what = append(what, r.Method+" "+r.Operation)
		}
	}
	return n, what
}

// The fake is held to GitHub's description: a wrong field planted in an
// answer, or sent in a request, is caught.
func TestPlantedWrongFieldIsCaught(t *testing.T) {
	srv, f, _, head := setup(t)
	var mu sync.Mutex
	var got []string
	srv.OnViolation = func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, msg)
	}
	pr := openPR(t, f, head)
	if len(got) != 0 {
		t.Fatalf("violations before anything was planted: %v", got)
	}
	srv.Tamper = func(op string, status int, body any) any {
		if m, ok := body.(map[string]any); ok && op == "pulls/get" {
			m["number"] = fmt.Sprint(m["number"]) // a string where GitHub says integer
		}
		return body
	}
	// go-github fails to decode the string too, so the merge fails; the
	// point is that the description caught it first.
	f.MergePullRequest(context.Background(), pr, gitops.MergeCommit, stepMsg)
	if len(got) == 0 || !strings.Contains(got[0], "pulls/get") || !strings.Contains(got[0], "/number") {
		t.Errorf("a string number in pulls/get was not caught: %v", got)
	}
	got = nil
	srv.Tamper = func(op string, status int, body any) any {
		if m, ok := body.(map[string]any); ok && op == "pulls/get" {
			delete(m, "mergeable_state") // a required field left out
		}
		return body
	}
	f.MergePullRequest(context.Background(), pr, gitops.MergeCommit, stepMsg)
	if len(got) == 0 || !strings.Contains(got[0], "mergeable_state") {
		t.Errorf("a missing required field was not caught: %v", got)
	}
	got = nil
	srv.Tamper = nil
	// A request with a state GitHub does not know.
	req, _ := http.NewRequest("POST", srv.BaseURL+"repos/acme/gitops/statuses/"+head, strings.NewReader(`{"state":"green","context":"promoter/gates"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) == 0 || !strings.Contains(got[0], "request body") || !strings.Contains(got[0], "/state") {
		t.Errorf("a request with state green was not caught: %v", got)
	}
}

// A merge method the repository does not allow is a refusal with the
// allowed methods in the hint, whether the settings say it up front or
// GitHub's 405 does.
func TestMergeMethodNotAllowed(t *testing.T) {
	ctx := context.Background()
	srv, f, _, head := setup(t)
	pr := openPR(t, f, head)
	srv.SetMergeMethods(false, true, true)
	_, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg)
	var re *gitops.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Hint, "allows squash, rebase") || !strings.Contains(re.Hint, "pullRequests.mergeMethod: squash") {
		t.Fatalf("merge with a disallowed method = %v (%+v), want a refusal naming squash, rebase", err, re)
	}
	if slices.ContainsFunc(srv.Requests(), func(r githubtest.Request) bool { return r.Method == "PUT" }) {
		t.Error("promoter tried the merge it knew the repository refuses")
	}
	// Settings that did not say (a token that cannot see them): GitHub's 405.
	srv2, f2, _, head2 := setup(t)
	pr2 := openPR(t, f2, head2)
	srv2.FailNext("PUT", "/merge", http.StatusMethodNotAllowed, nil, `{"message":"Merge commits are not allowed on this repository.","documentation_url":"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}`)
	_, err = f2.MergePullRequest(ctx, pr2, gitops.MergeCommit, stepMsg)
	if !errors.As(err, &re) || re.Reason != "Merge commits are not allowed on this repository." || !strings.Contains(re.Hint, "spec.pullRequests.mergeMethod") {
		t.Fatalf("merge answered 405 method not allowed = %v (%+v), want a refusal with GitHub's message", err, re)
	}
	methods, err := f.AllowedMergeMethods(ctx)
	if err != nil || fmt.Sprint(methods) != "[squash rebase]" {
		t.Errorf("AllowedMergeMethods = %v, %v", methods, err)
	}
}

// GITHUB_TOKEN in a repository where Actions may not open pull requests.
func TestActionsMayNotOpenPullRequests(t *testing.T) {
	srv, f, _, _ := setup(t)
	srv.DenyActionsPullRequests(true)
	_, err := f.OpenPullRequest(context.Background(), gitops.NewPullRequest{Head: "promoter/myapp/step-1", Base: "main", Title: "t"})
	var re *gitops.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "GitHub Actions is not permitted to create or approve pull requests") ||
		!strings.Contains(re.Hint, "Allow GitHub Actions to create and approve pull requests") {
		t.Fatalf("open = %v (%+v), want a refusal with the setting to enable", err, re)
	}
}

// GitHub computes mergeability in the background: a few polls with
// backoff, then the merge; beyond the bound, a wait that says so.
func TestMergeableNullIsPolled(t *testing.T) {
	ctx := context.Background()
	srv, f, sl, head := setup(t)
	srv.SetMergeableNullPolls(2)
	pr := openPR(t, f, head)
	m, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg)
	if err != nil || !m.Merged {
		t.Fatalf("merge after two null polls = %+v, %v; want merged in this call", m, err)
	}
	if got := fmt.Sprint(sl.d); got != "[500ms 1s]" {
		t.Errorf("waits %s, want [500ms 1s]", got)
	}

	srv2, f2, _, head2 := setup(t)
	srv2.SetMergeableNullPolls(100)
	pr2 := openPR(t, f2, head2)
	m, err = f2.MergePullRequest(ctx, pr2, gitops.MergeCommit, stepMsg)
	if err != nil || m.Merged || !strings.Contains(m.Wait, "mergeable: null") {
		t.Fatalf("merge while GitHub keeps computing = %+v, %v; want a wait that says so", m, err)
	}
	gets := 0
	for _, r := range srv2.Requests() {
		if r.Operation == "pulls/get" {
			gets++
		}
	}
	if gets != 5 {
		t.Errorf("%d reads of the pull request, want the bound of 5", gets)
	}
}

// Polling stops when the context does.
func TestMergeablePollingIsCancellable(t *testing.T) {
	srv, _, _, head := setup(t)
	f, err := github.New(github.Options{Owner: "acme", Repo: "gitops", Token: token, BaseURL: srv.BaseURL, MergeableWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetMergeableNullPolls(100)
	pr := openPR(t, f, head)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("merge with a context that ends = %v, want the context's error", err)
	}
}

// A base that requires a merge queue: enqueue, wait while queued, merged
// by the queue; a dequeued pull request is enqueued again. A plain merge
// is never attempted.
func TestMergeQueue(t *testing.T) {
	ctx := context.Background()
	srv, f, _, head := setup(t)
	srv.RequireMergeQueue("main", "MERGE")
	pr := openPR(t, f, head)
	m, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg)
	if err != nil || m.Merged || !strings.Contains(m.Wait, "enqueued in the merge queue of main at position 1") {
		t.Fatalf("merge into a queued base = %+v, %v; want enqueued", m, err)
	}
	if q := srv.Queue(); fmt.Sprint(q) != "[1]" {
		t.Fatalf("queue %v, want [1]", q)
	}
	m, err = f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg)
	if err != nil || m.Merged || !strings.Contains(m.Wait, "in the merge queue of main at position 1 (queued)") {
		t.Fatalf("merge while queued = %+v, %v; want a wait", m, err)
	}
	srv.Dequeue(1)
	m, err = f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg)
	if err != nil || !strings.Contains(m.Wait, "enqueued") || fmt.Sprint(srv.Queue()) != "[1]" {
		t.Fatalf("merge after the queue dropped it = %+v, %v; queue %v; want enqueued again", m, err, srv.Queue())
	}
	if merged := srv.ProcessQueue(); fmt.Sprint(merged) != "[1]" {
		t.Fatalf("the queue merged %v", merged)
	}
	m, err = f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg)
	if err != nil || !m.Merged {
		t.Fatalf("merge after the queue merged it = %+v, %v", m, err)
	}
	for _, r := range srv.Requests() {
		if r.Method == "PUT" {
			t.Errorf("a plain merge was attempted: %s %s", r.Method, r.Path)
		}
	}
}

// A queue the rules did not show (read before it was required, or not
// visible to the token) is found from the merge's 405.
func TestMergeQueueFromThe405(t *testing.T) {
	ctx := context.Background()
	srv, f, _, head := setup(t)
	pr := openPR(t, f, head)
	srv.SetMergeableState(1, "blocked")
	if m, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg); err != nil || m.Merged {
		t.Fatalf("blocked = %+v, %v", m, err)
	}
	srv.SetMergeableState(1, "")
	srv.RequireMergeQueue("main", "SQUASH") // after this forge read the rules
	m, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg)
	if err != nil || !strings.Contains(m.Wait, "enqueued") || fmt.Sprint(srv.Queue()) != "[1]" {
		t.Fatalf("merge answered 405 merge queue = %+v, %v; want enqueued", m, err)
	}
}

// A draft is a refusal, not a wait.
func TestDraftIsRefused(t *testing.T) {
	srv, f, _, head := setup(t)
	pr := openPR(t, f, head)
	srv.SetMergeableState(1, "draft")
	_, err := f.MergePullRequest(context.Background(), pr, gitops.MergeCommit, stepMsg)
	var re *gitops.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Hint, "ready for review") {
		t.Fatalf("merge of a draft = %v, want a refusal", err)
	}
}

// Secondary rate limits, 403 and 429 with Retry-After, are waited out and
// retried; a 422 is an error at once.
func TestSecondaryRateLimitsAndValidationErrors(t *testing.T) {
	ctx := context.Background()
	srv, _, _, head := setup(t)
	// The real sleep: go-github itself holds requests back until the
	// secondary limit's Retry-After has passed.
	f, err := github.New(github.Options{Owner: "acme", Repo: "gitops", Token: token, BaseURL: srv.BaseURL})
	if err != nil {
		t.Fatal(err)
	}
	srv.SecondaryRateLimit("POST", "/pulls", http.StatusForbidden, 1)
	pr, err := f.OpenPullRequest(ctx, gitops.NewPullRequest{Head: "promoter/myapp/step-1", Base: "main", Title: stepMsg.Subject})
	if err != nil {
		t.Fatalf("open after a 403 secondary rate limit = %v, want it retried", err)
	}
	srv.SecondaryRateLimit("POST", "/statuses/"+head, http.StatusTooManyRequests, 1)
	if err := f.SetStatus(ctx, head, gitops.Status{State: gitops.StatusPending, Context: "promoter/gates", Description: "waiting"}); err != nil {
		t.Fatalf("status after a 429 secondary rate limit = %v, want it retried", err)
	}
	if n := len(srv.Statuses()); n != 1 {
		t.Errorf("%d statuses, want 1", n)
	}
	srv.FailNext("PATCH", "/pulls/1", http.StatusUnprocessableEntity, nil, `{"message":"Validation Failed","errors":[{"resource":"Issue","code":"custom","field":"body","message":"body is too long (maximum is 65536 characters)"}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#update-a-pull-request"}`)
	before := len(srv.Requests())
	err = f.UpdatePullRequest(ctx, pr, "another body", nil)
	if err == nil || !strings.Contains(err.Error(), "body is too long") || len(srv.Requests()) != before+1 {
		t.Errorf("update answered 422 = %v after %d requests, want GitHub's error at once", err, len(srv.Requests())-before)
	}
}

// A waiting pull request costs reads only: the body, labels and status
// are what GitHub holds already, the merge is not tried while blocked, and
// a branch already deleted is not deleted again.
func TestWaitingRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	srv, f, _, head := setup(t)
	openPR(t, f, head)
	st := gitops.Status{State: gitops.StatusPending, Context: "promoter/gates", Description: "gates inconclusive at 5%"}
	if err := f.SetStatus(ctx, head, st); err != nil {
		t.Fatal(err)
	}
	srv.SetMergeableState(1, "blocked")
	mark := len(srv.Requests())
	for run := 0; run < 3; run++ { // what one waiting run asks of the forge
		pr, err := f.FindPullRequest(ctx, "promoter/myapp/step-1")
		if err != nil || pr == nil {
			t.Fatal(pr, err)
		}
		if err := f.UpdatePullRequest(ctx, pr, "report", []string{"canary"}); err != nil {
			t.Fatal(err)
		}
		if err := f.SetStatus(ctx, head, st); err != nil {
			t.Fatal(err)
		}
		pr.HeadSHA = head
		if m, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg); err != nil || m.Merged {
			t.Fatal(m, err)
		}
	}
	rs := srv.Requests()[mark:]
	if n, what := writes(rs); n != 0 {
		t.Errorf("three waiting runs wrote %d times: %v", n, what)
	}
	// Per run: list, combined status, pull request; the repository and
	// its rules once per forge.
	if len(rs) != 3*3+2 {
		var ops []string
		for _, r := range rs {
			ops = append(ops, r.Method+" "+r.Operation)
		}
		t.Errorf("%d requests for three waiting runs, want 11: %v", len(rs), ops)
	}
	if n := len(srv.Statuses()); n != 1 {
		t.Errorf("%d statuses for one content, want 1", n)
	}
	// A changed report is written once.
	st.Description = "gates pass at 5%"
	st.State = gitops.StatusSuccess
	if err := f.SetStatus(ctx, head, st); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Statuses()); n != 2 {
		t.Errorf("%d statuses after the content changed, want 2", n)
	}
	// Deleting a deleted branch is a read.
	mark = len(srv.Requests())
	if err := f.DeleteBranch(ctx, "promoter/myapp/step-9"); err != nil {
		t.Fatal(err)
	}
	if n, what := writes(srv.Requests()[mark:]); n != 0 {
		t.Errorf("deleting a missing branch wrote: %v", what)
	}
}

// The GraphQL side is held to GitHub's GraphQL schema: a field GitHub does
// not have in a request, or a wrong type in an answer, is caught.
func TestGraphQLHeldToGitHubsSchema(t *testing.T) {
	srv, f, _, head := setup(t)
	var mu sync.Mutex
	var got []string
	srv.OnViolation = func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, msg)
	}
	srv.RequireMergeQueue("main", "MERGE")
	pr := openPR(t, f, head)
	if m, err := f.MergePullRequest(context.Background(), pr, gitops.MergeCommit, stepMsg); err != nil || !strings.Contains(m.Wait, "enqueued") || len(got) != 0 {
		t.Fatalf("enqueue = %+v, %v; violations %v", m, err, got)
	}
	srv.Tamper = func(op string, status int, body any) any {
		if op == "graphql" {
			e := body.(map[string]any)["data"].(map[string]any)["repository"].(map[string]any)["pullRequest"].(map[string]any)["mergeQueueEntry"].(map[string]any)
			e["state"] = "WAITING" // not a MergeQueueEntryState
		}
		return body
	}
	f.MergePullRequest(context.Background(), pr, gitops.MergeCommit, stepMsg)
	if len(got) == 0 || !strings.Contains(got[0], "WAITING is not a value of MergeQueueEntryState") {
		t.Errorf("a state GitHub does not have was not caught: %v", got)
	}
	got = nil
	srv.Tamper = nil
	req, _ := http.NewRequest("POST", strings.TrimSuffix(srv.BaseURL, "v3/")+"graphql", strings.NewReader(`{"query":"query { repository(owner: \"acme\", name: \"gitops\") { pullRequest(number: 1) { queuePosition } } }"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) == 0 || !strings.Contains(got[0], "queuePosition") {
		t.Errorf("a field GitHub does not have was not caught: %v", got)
	}
}

// A pull request the queue dropped because it now conflicts is
// re-rendered (ErrConflict), not enqueued again.
func TestDequeuedConflictIsRederived(t *testing.T) {
	srv, f, _, head := setup(t)
	srv.RequireMergeQueue("main", "MERGE")
	pr := openPR(t, f, head)
	if m, err := f.MergePullRequest(context.Background(), pr, gitops.MergeCommit, stepMsg); err != nil || !strings.Contains(m.Wait, "enqueued") {
		t.Fatalf("enqueue = %+v, %v", m, err)
	}
	srv.Dequeue(1)
	srv.SetMergeableState(1, "dirty")
	if _, err := f.MergePullRequest(context.Background(), pr, gitops.MergeCommit, stepMsg); !errors.Is(err, gitops.ErrConflict) {
		t.Fatalf("merge of a dequeued, conflicting pull request = %v, want ErrConflict", err)
	}
	if q := srv.Queue(); len(q) != 0 {
		t.Errorf("queue %v, want it left empty", q)
	}
}

// A token without the permission, and a base that moved under the merge.
func TestTokenPermissionsAndAMovedBase(t *testing.T) {
	ctx := context.Background()
	srv, f, _, head := setup(t)
	srv.FailNext("POST", "/pulls", http.StatusForbidden, nil, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}`)
	_, err := f.OpenPullRequest(ctx, gitops.NewPullRequest{Head: "promoter/myapp/step-1", Base: "main", Title: "t"})
	var re *gitops.RefusedError
	if !errors.As(err, &re) || !strings.Contains(re.Hint, "pull-requests: write") {
		t.Fatalf("open without the permission = %v, want a refusal naming it", err)
	}
	pr := openPR(t, f, head)
	srv.FailNext("PUT", "/merge", http.StatusMethodNotAllowed, nil, `{"message":"Base branch was modified. Review and try the merge again.","documentation_url":"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}`)
	if _, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg); !errors.Is(err, gitops.ErrHeadChanged) {
		t.Fatalf("merge answered base modified = %v, want ErrHeadChanged (derive again)", err)
	}
}

// On a queued base, a pull request still blocked (a review missing) waits
// until GitHub enqueues it; the spec's merge method is the queue's concern.
func TestBlockedOnAQueuedBaseWaits(t *testing.T) {
	ctx := context.Background()
	srv, f, _, head := setup(t)
	srv.RequireMergeQueue("main", "SQUASH")
	srv.SetMergeMethods(false, true, false) // the spec's merge is not allowed; the queue squashes
	pr := openPR(t, f, head)
	srv.SetMergeableState(1, "blocked")
	m, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg)
	if err != nil || m.Merged || !strings.Contains(m.Wait, "blocked: required checks or reviews pending") || !strings.Contains(m.Wait, "does not enqueue it yet") {
		t.Fatalf("merge of a blocked pull request on a queued base = %+v, %v; want a wait", m, err)
	}
	srv.SetMergeableState(1, "")
	if m, err = f.MergePullRequest(ctx, pr, gitops.MergeCommit, stepMsg); err != nil || !strings.Contains(m.Wait, "enqueued") {
		t.Fatalf("merge once approved = %+v, %v; want enqueued", m, err)
	}
}
