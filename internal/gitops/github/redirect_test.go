package github_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops/github"

	"github.com/promoter-dev/promoter/internal/creds/credstest"
	"github.com/promoter-dev/promoter/internal/lockdown"
)

// GITHUB_TOKEN goes to the API host only: an API redirect to another host
// is followed without it.
func TestTokenDoesNotFollowARedirect(t *testing.T) {
	var mu sync.Mutex
	var elsewhere []string
	other := credstest.Listen(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		elsewhere = append(elsewhere, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	var homeAuth []string
	home := credstest.Listen(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		homeAuth = append(homeAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	f, err := github.New(github.Options{Owner: "acme", Repo: "gitops", Token: "ghs_SECRET", BaseURL: home.URL + "/api/v3/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.FindPullRequest(context.Background(), "promoter/myapp/step-1"); err != nil {
		t.Fatal(err)
	}
	if len(homeAuth) == 0 || homeAuth[0] != "Bearer ghs_SECRET" {
		t.Errorf("the API host got Authorization %q", homeAuth)
	}
	if len(elsewhere) == 0 {
		t.Fatal("the redirect was not followed; the test proves nothing")
	}
	for _, a := range elsewhere {
		if strings.Contains(a, "SECRET") {
			t.Errorf("the other host got Authorization %q", a)
		}
	}
}

// The forge's client does not use http.DefaultTransport: with it refusing
// every request (as in the locked-down binary) the API is still reached,
// with and without an HTTP client of the caller's. Not parallel: it swaps
// the process's default transport for its duration.
func TestForgeWithTheDefaultTransportRefusing(t *testing.T) {
	saved, savedClient := http.DefaultTransport, http.DefaultClient
	lockdown.ForbidDefaultHTTP()
	t.Cleanup(func() { http.DefaultTransport, http.DefaultClient = saved, savedClient })
	var mu sync.Mutex
	hits := 0
	api := credstest.Listen(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	for _, hc := range []*http.Client{nil, {}} {
		f, err := github.New(github.Options{Owner: "acme", Repo: "gitops", Token: "t", BaseURL: api.URL + "/api/v3/", HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.FindPullRequest(context.Background(), "promoter/myapp/step-1"); err != nil {
			t.Fatalf("HTTPClient %v: %v", hc, err)
		}
	}
	if hits < 2 {
		t.Errorf("the API got %d requests, want one per client at least", hits)
	}
}
