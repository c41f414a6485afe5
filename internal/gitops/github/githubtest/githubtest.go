// Package githubtest is an in-process GitHub REST API for tests: the
// pull-request, label, comment, status, merge and ref endpoints promoter
// calls, with GitHub's JSON shapes and status codes, backed by a real bare
// repository so that a merge really moves the base branch.
//
// # Checks
//
// Every request must carry "Authorization: Bearer <token>" (401 "Bad
// credentials" otherwise); requests are recorded with method, path and body
// for assertions. Merges and mergeability are computed with the Git CLI on
// the bare repository (tests may use it; the product never does).
//
// # Failures
//
// [Server.FailNext] makes the next matching request fail with a given status,
// headers and body (a 503, a 403 rate limit with X-RateLimit-* headers, a
// 429 with Retry-After); [Server.SetMergeableState] pins a pull request's
// mergeable_state (blocked, behind, unknown, unstable, ...).
package githubtest

import (
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

	gh "github.com/google/go-github/v60/github"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// Request is a recorded API request.
type Request struct {
	Method, Path, Authorization string
	Body                        string
}

// Pull is a pull request the server holds.
type Pull struct {
	Number                  int
	Head, Base, Title, Body string
	State                   string // open | closed
	Merged                  bool
	Labels, Reviewers       []string
	Comments                []string
	// MergeableState, when set, overrides the computed one.
	MergeableState string
}

// Status is a commit status the server received.
type Status struct{ SHA, State, Context, Description string }

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

	t        testing.TB
	mu       sync.Mutex
	pulls    []*Pull
	statuses []Status
	requests []Request
	failures []failure
}

// New starts the API for owner/repo over the bare repository bare.
func New(t testing.TB, bare, owner, repo, token string) *Server {
	s := &Server{Owner: owner, Repo: repo, Token: token, Bare: bare, t: t}
	mux := http.NewServeMux()
	p := "/api/v3/repos/" + owner + "/" + repo
	mux.HandleFunc("GET "+p+"/pulls", s.listPulls)
	mux.HandleFunc("POST "+p+"/pulls", s.createPull)
	mux.HandleFunc("GET "+p+"/pulls/{n}", s.getPull)
	mux.HandleFunc("PATCH "+p+"/pulls/{n}", s.editPull)
	mux.HandleFunc("PUT "+p+"/pulls/{n}/merge", s.mergePull)
	mux.HandleFunc("POST "+p+"/pulls/{n}/requested_reviewers", s.requestReviewers)
	mux.HandleFunc("POST "+p+"/issues/{n}/labels", s.addLabels)
	mux.HandleFunc("POST "+p+"/issues/{n}/comments", s.comment)
	mux.HandleFunc("POST "+p+"/statuses/{sha}", s.status)
	mux.HandleFunc("DELETE "+p+"/git/refs/heads/{branch...}", s.deleteRef)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"), Body: string(body)})
		s.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+s.Token {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
			return
		}
		if f, ok := s.takeFailure(r); ok {
			for k, v := range f.header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(f.status)
			io.WriteString(w, f.body)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	s.BaseURL = hs.URL + "/api/v3/"
	return s
}

// FailNext makes the next request with method whose path ends in suffix
// fail with status, header and body.
func (s *Server) FailNext(method, suffix string, status int, header http.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, failure{method, suffix, status, header, body})
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
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return nil
	}
	return s.pulls[n-1]
}

func (s *Server) mergeableState(p *Pull) string {
	if p.MergeableState != "" {
		return p.MergeableState
	}
	if _, err := s.git("merge-tree", "--write-tree", p.Base, p.Head); err != nil {
		return "dirty"
	}
	return "clean"
}

func (s *Server) json(p *Pull) *gh.PullRequest {
	out := &gh.PullRequest{
		Number:  gh.Int(p.Number),
		State:   gh.String(p.State),
		Title:   gh.String(p.Title),
		Body:    gh.String(p.Body),
		HTMLURL: gh.String(fmt.Sprintf("https://github.example/%s/%s/pull/%d", s.Owner, s.Repo, p.Number)),
		Head:    &gh.PullRequestBranch{Ref: gh.String(p.Head), SHA: gh.String(s.sha(p.Head)), Label: gh.String(s.Owner + ":" + p.Head)},
		Base:    &gh.PullRequestBranch{Ref: gh.String(p.Base), SHA: gh.String(s.sha(p.Base)), Label: gh.String(s.Owner + ":" + p.Base)},
		Merged:  gh.Bool(p.Merged),
	}
	if p.State == "open" {
		state := s.mergeableState(p)
		out.MergeableState = gh.String(state)
		out.Mergeable = gh.Bool(state != "dirty")
	}
	for _, l := range p.Labels {
		out.Labels = append(out.Labels, &gh.Label{Name: gh.String(l)})
	}
	return out
}
