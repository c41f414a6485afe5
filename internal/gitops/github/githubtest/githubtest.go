// Package githubtest is an in-process GitHub REST API for tests: the
// pull-request, label, comment, status, check-run, merge, ref, repository
// and branch-rule endpoints promoter calls, plus the GraphQL merge-queue
// mutation and query, backed by a real bare repository so that a merge
// really moves the base branch.
//
// # Held to GitHub's description
//
// Every REST request and answer is checked against GitHub's OpenAPI
// description (testdata/github-openapi.json, the operations promoter calls,
// written by scripts/github-openapi from the npm package @octokit/openapi):
// a request whose body does not match the operation's request schema, or
// an answer that does not match the schema of its status, fails the test
// (or goes to [Server.OnViolation]). The answers are built from the
// description's own examples with the fake's data in them, so they carry
// every required field. GraphQL requests are validated against GitHub's
// GraphQL schema (testdata/github-schema.graphql, the fields promoter
// selects, from the npm package @octokit/graphql-schema), and answers
// against the selection and the schema's types.
//
// # Checks
//
// Every request must carry "Authorization: Bearer <token>" (401 "Bad
// credentials" otherwise); requests are recorded with method, path and body
// for assertions. Merges and mergeability are computed with the Git CLI on
// the bare repository (tests may use it; the product never does).
//
// # GitHub saying no, or not yet
//
// [Server.FailNext] makes the next matching request fail with a given status,
// headers and body (a 503, a 409, a 422, a 403 rate limit with
// X-RateLimit-* headers, a 429 with Retry-After), [Server.SecondaryRateLimit]
// with GitHub's secondary-rate-limit answer; [Server.SetMergeableState] pins
// a pull request's mergeable_state (blocked, behind, unknown, unstable,
// draft, ...); [Server.SetMergeableNullPolls] answers mergeable: null while
// GitHub "computes" mergeability; [Server.SetMergeMethods] makes a merge
// with a disallowed method a 405 as GitHub words it;
// [Server.RequireMergeQueue] makes the base require a merge queue (405 on a
// plain merge, a merge_queue branch rule, GraphQL enqueuePullRequest);
// [Server.DenyActionsPullRequests] answers the 403 of a repository where
// GitHub Actions may not create pull requests.
//
// # Others' statuses and check runs
//
// [Server.PostStatus] and [Server.PostCheckRun] add what Argo CD, Flux or
// CI would post on a commit, dated as the test says; the list endpoints
// serve them newest first, paged as GitHub pages them.
package githubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// Request is a recorded API request.
type Request struct {
	Method, Path, Authorization string
	Body                        string
	// Operation is the operationId of GitHub's description the request
	// matched ("graphql" for the GraphQL endpoint, "" for none).
	Operation string
	// Status is the HTTP status of the answer.
	Status int
}

// Pull is a pull request the server holds.
type Pull struct {
	Number                  int
	Head, Base, Title, Body string
	State                   string // open | closed
	Merged                  bool
	Draft                   bool
	Labels, Reviewers       []string
	Comments                []string
	// MergeableState, when set, overrides the computed one.
	MergeableState string
	// Queued says the pull request is in the base branch's merge queue.
	Queued bool

	nullLeft           int    // GETs left that answer mergeable: null
	seenHead, seenBase string // the tips mergeability was last computed on
	createdAt          time.Time
}

// Status is a commit status the server received.
type Status struct {
	SHA, State, Context, Description, TargetURL string
	// At is when it was created (the server's Clock).
	At time.Time
}

// CheckRun is a check run on a commit.
type CheckRun struct {
	SHA, Name string
	// Status is queued, in_progress or completed; Conclusion, once
	// completed, success, failure, neutral, cancelled, skipped, timed_out,
	// action_required or stale.
	Status, Conclusion string
	Title              string
	// StartedAt and CompletedAt date it (zero CompletedAt while it runs).
	StartedAt, CompletedAt time.Time
}

type failure struct {
	method, path string
	status       int
	header       http.Header
	body         string
}

// Server is the fake API. BaseURL is what go-github's WithEnterpriseURLs
// takes.
type Server struct {
	BaseURL     string
	Owner, Repo string
	Token       string
	// Bare is the repository the pull requests merge into.
	Bare string
	// Clock, when set, dates merge commits (GitHub dates them when it
	// merges; tests that move promoter's clock with --now move this too).
	Clock func() time.Time
	// OnViolation receives each request or answer that does not match
	// GitHub's description; nil fails the test.
	OnViolation func(msg string)
	// Tamper, when set, may change the decoded JSON of an answer before
	// it is checked and sent (to plant a wrong field).
	Tamper func(operation string, status int, body any) any

	t          testing.TB
	api        *api
	mu         sync.Mutex
	pulls      []*Pull
	statuses   []Status
	checkRuns  []CheckRun
	requests   []Request
	failures   []failure
	violations []string
	// Repository settings and rules.
	allowMerge, allowSquash, allowRebase bool
	deleteOnMerge                        bool
	denyActions                          bool
	nullPolls                            int
	allState                             string
	mergeQueue                           map[string]string // base branch -> queue merge method
}

// New starts the API for owner/repo over the bare repository bare.
func New(t testing.TB, bare, owner, repo, token string) *Server {
	a, err := loadAPI()
	if err != nil {
		t.Fatalf("githubtest: GitHub's description: %v", err)
	}
	if _, err := loadGraphQL(); err != nil {
		t.Fatalf("githubtest: GitHub's GraphQL schema: %v", err)
	}
	s := &Server{Owner: owner, Repo: repo, Token: token, Bare: bare, t: t, api: a,
		allowMerge: true, allowSquash: true, allowRebase: true, mergeQueue: map[string]string{}}
	mux := http.NewServeMux()
	p := "/api/v3/repos/" + owner + "/" + repo
	mux.HandleFunc("GET "+p, s.getRepo)
	mux.HandleFunc("GET "+p+"/pulls", s.listPulls)
	mux.HandleFunc("POST "+p+"/pulls", s.createPull)
	mux.HandleFunc("GET "+p+"/pulls/{n}", s.getPull)
	mux.HandleFunc("PATCH "+p+"/pulls/{n}", s.editPull)
	mux.HandleFunc("PUT "+p+"/pulls/{n}/merge", s.mergePull)
	mux.HandleFunc("POST "+p+"/pulls/{n}/requested_reviewers", s.requestReviewers)
	mux.HandleFunc("POST "+p+"/issues/{n}/labels", s.addLabels)
	mux.HandleFunc("POST "+p+"/issues/{n}/comments", s.comment)
	mux.HandleFunc("POST "+p+"/statuses/{sha}", s.status)
	mux.HandleFunc("GET "+p+"/commits/{ref}/status", s.combinedStatus)
	mux.HandleFunc("GET "+p+"/commits/{ref}/statuses", s.listStatuses)
	mux.HandleFunc("GET "+p+"/commits/{ref}/check-runs", s.listCheckRuns)
	mux.HandleFunc("GET "+p+"/rules/branches/{branch...}", s.branchRules)
	mux.HandleFunc("GET "+p+"/git/ref/heads/{branch...}", s.getRef)
	mux.HandleFunc("DELETE "+p+"/git/refs/heads/{branch...}", s.deleteRef)
	mux.HandleFunc("POST /api/graphql", s.graphql)
	// Another repository, or a path GitHub does not serve: GitHub's 404.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		message(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest")
	})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rel := strings.TrimPrefix(r.URL.Path, "/api/v3")
		var op *operation
		opID := ""
		switch {
		case r.URL.Path == "/api/graphql":
			opID = "graphql"
		default:
			if op = s.api.find(r.Method, rel); op != nil {
				opID = op.id
			}
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: string(body), Operation: opID})
		recorded := len(s.requests) - 1
		s.mu.Unlock()
		var gqlOp *ast.OperationDefinition
		switch {
		case opID == "":
			s.violation(fmt.Sprintf("%s %s: no operation of GitHub's description (or of the fake) has this path", r.Method, rel))
		case op != nil:
			if err := s.api.checkRequest(op, body); err != nil {
				s.violation(err.Error())
			}
		default:
			var err error
			if gqlOp, err = checkGraphQLRequest(body); err != nil {
				s.violation(err.Error())
			}
		}
		rec := httptest.NewRecorder()
		switch f, failing := s.takeFailure(r); {
		case r.Header.Get("Authorization") != "Bearer "+s.Token:
			writeJSON(rec, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		case failing:
			for k, v := range f.header {
				rec.Header()[k] = v
			}
			rec.Header().Set("Content-Type", "application/json; charset=utf-8")
			rec.WriteHeader(f.status)
			io.WriteString(rec, f.body)
		default:
			mux.ServeHTTP(rec, r)
		}
		out := rec.Body.Bytes()
		if s.Tamper != nil && len(bytes.TrimSpace(out)) > 0 {
			var v any
			if json.Unmarshal(out, &v) == nil {
				out, _ = json.Marshal(s.Tamper(opID, rec.Code, v))
			}
		}
		switch {
		case op != nil:
			if err := s.api.checkResponse(op, rec.Code, out); err != nil {
				s.violation(err.Error())
			}
		case gqlOp != nil && rec.Code == http.StatusOK:
			if err := checkGraphQLAnswer(gqlOp, out); err != nil {
				s.violation(err.Error())
			}
		}
		s.mu.Lock()
		s.requests[recorded].Status = rec.Code
		s.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.WriteHeader(rec.Code)
		w.Write(out)
	}))
	t.Cleanup(hs.Close)
	s.BaseURL = hs.URL + "/api/v3/"
	return s
}

func (s *Server) violation(msg string) {
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	report := s.OnViolation
	s.mu.Unlock()
	if report != nil {
		report(msg)
		return
	}
	s.t.Errorf("githubtest: not as GitHub's description says: %s", msg)
}

// Violations returns what did not match GitHub's description so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Description says which description the fake is held to: the npm
// package and its version.
func (s *Server) Description() string {
	return fmt.Sprintf("%v@%v (%v)", s.api.source["package"], s.api.source["version"], s.api.source["file"])
}

// FailNext makes the next request with method whose path ends in suffix
// fail with status, header and body.
func (s *Server) FailNext(method, suffix string, status int, header http.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, failure{method, suffix, status, header, body})
}

// SecondaryRateLimit makes the next request with method whose path ends in
// suffix get GitHub's secondary rate limit answer: status 403 or 429 with
// Retry-After retryAfter seconds.
func (s *Server) SecondaryRateLimit(method, suffix string, status, retryAfter int) {
	s.FailNext(method, suffix, status, http.Header{"Retry-After": {strconv.Itoa(retryAfter)}},
		`{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:000000:000000:00000000.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`)
}

func (s *Server) takeFailure(r *http.Request) (failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.failures {
		if f.method == r.Method && strings.HasSuffix(r.URL.Path, f.path) {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
			return f, true
		}
	}
	return failure{}, false
}

// SetMergeableState pins pull request n's mergeable_state ("" computes it).
func (s *Server) SetMergeableState(n int, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pulls[n-1].MergeableState = state
}

// SetMergeableStateAll pins the mergeable_state of every pull request
// that has none pinned, those opened later included ("" computes it).
func (s *Server) SetMergeableStateAll(state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allState = state
}

// SetMergeableNullPolls makes GitHub take time to compute mergeability:
// after a pull request is opened, or its head or base moves, its next
// polls reads answer mergeable: null and mergeable_state unknown (GitHub
// documents that it computes mergeability in the background).
func (s *Server) SetMergeableNullPolls(polls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nullPolls = polls
}

// SetMergeMethods says which merge methods the repository allows; a merge
// with another is a 405 in GitHub's words.
func (s *Server) SetMergeMethods(merge, squash, rebase bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowMerge, s.allowSquash, s.allowRebase = merge, squash, rebase
}

// SetDeleteBranchOnMerge sets the repository's "automatically delete head
// branches": a merge deletes the pull request's head branch.
func (s *Server) SetDeleteBranchOnMerge(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteOnMerge = on
}

// RequireMergeQueue makes base require a merge queue (a ruleset's
// merge_queue rule) that merges with method (MERGE, SQUASH or REBASE).
func (s *Server) RequireMergeQueue(base, method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mergeQueue[base] = method
}

// DenyActionsPullRequests answers opening a pull request as GitHub does
// when "Allow GitHub Actions to create and approve pull requests" is off
// and the token is GITHUB_TOKEN.
func (s *Server) DenyActionsPullRequests(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyActions = deny
}

// Queue returns the numbers of the pull requests in a merge queue.
func (s *Server) Queue() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, p := range s.pulls {
		if p.Queued {
			out = append(out, p.Number)
		}
	}
	return out
}

// Dequeue removes pull request n from its merge queue, as GitHub does when
// the queue's checks fail or the pull request conflicts.
func (s *Server) Dequeue(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pulls[n-1].Queued = false
}

// ProcessQueue merges the queued pull requests, in order, as the merge
// queue does once its checks pass; one that no longer merges cleanly is
// dequeued. It returns the numbers merged.
func (s *Server) ProcessQueue() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var merged []int
	for _, p := range s.pulls {
		if !p.Queued {
			continue
		}
		p.Queued = false
		method := strings.ToLower(s.mergeQueue[p.Base])
		if _, err := s.merge(p, "", "", method); err == nil {
			merged = append(merged, p.Number)
		}
	}
	return merged
}

// Pulls returns copies of the pull requests.
func (s *Server) Pulls() []Pull {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Pull, len(s.pulls))
	for i, p := range s.pulls {
		out[i] = *p
	}
	return out
}

// Statuses returns the statuses received.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses...)
}

// PostStatus adds a commit status as another client (Argo CD's
// notifications, Flux's notification-controller) would post it; a zero At
// is the server's Clock.
func (s *Server) PostStatus(st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.At.IsZero() {
		st.At = s.now()
	}
	s.statuses = append(s.statuses, st)
}

// PostCheckRun adds a check run on sha as a GitHub App would create it;
// zero dates are the server's Clock (CompletedAt only once completed).
func (s *Server) PostCheckRun(run CheckRun) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if run.StartedAt.IsZero() {
		run.StartedAt = s.now()
	}
	if run.Status == "completed" && run.CompletedAt.IsZero() {
		run.CompletedAt = s.now()
	}
	s.checkRuns = append(s.checkRuns, run)
}

// Requests returns the requests received.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func message(w http.ResponseWriter, status int, msg, doc string) {
	writeJSON(w, status, map[string]string{"message": msg, "documentation_url": doc})
}

func validation(w http.ResponseWriter, resource, field, code, message string) {
	e := map[string]string{"resource": resource, "field": field, "code": code}
	if message != "" {
		e["message"] = message
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []any{e}, "documentation_url": "https://docs.github.com/rest"})
}

func (s *Server) git(args ...string) (string, error) { return gittest.GitErr(s.Bare, args...) }

func (s *Server) sha(branch string) string {
	out, err := s.git("rev-parse", "--verify", "-q", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return out
}

// pull finds pull request {n}; callers hold s.mu.
func (s *Server) pull(w http.ResponseWriter, r *http.Request) *Pull {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 || n > len(s.pulls) {
		message(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/pulls/pulls#get-a-pull-request")
		return nil
	}
	return s.pulls[n-1]
}

// mergeableState is GitHub's mergeable_state of an open pull request.
func (s *Server) mergeableState(p *Pull) string {
	if p.MergeableState != "" {
		return p.MergeableState
	}
	if s.allState != "" {
		return s.allState
	}
	if p.Draft {
		return "draft"
	}
	if _, err := s.git("merge-tree", "--write-tree", p.Base, p.Head); err != nil {
		return "dirty"
	}
	return "clean"
}

// computing reports whether GitHub is still computing p's mergeability,
// counting this read; callers hold s.mu.
func (s *Server) computing(p *Pull) bool {
	head, base := s.sha(p.Head), s.sha(p.Base)
	if head != p.seenHead || base != p.seenBase {
		p.seenHead, p.seenBase = head, base
		p.nullLeft = s.nullPolls
	}
	if p.nullLeft > 0 {
		p.nullLeft--
		return true
	}
	return false
}
