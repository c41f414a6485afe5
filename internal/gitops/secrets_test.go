package gitops_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"

	"github.com/promoter-dev/promoter/internal/creds/credstest"
)

// Credentials, whether from the environment or the URL, travel per request
// and never reach the clone's config.
func TestCloneConfigHasNoToken(t *testing.T) {
	const token = "tok-in-config-check"
	srv := gittest.NewServer(t, gittest.WithToken(token))
	srv.Seed(t, "repo", "main", seed)
	for name, mod := range map[string]func(*gitops.Options){
		"env": func(o *gitops.Options) {
			o.Auth = gitops.AuthFromEnv(func(k string) string { return map[string]string{"GIT_TOKEN": token}[k] })
		},
		"url": func(o *gitops.Options) { o.Source = strings.Replace(o.Source, "http://", "http://x:"+token+"@", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			r := open(t, srv.RepoURL("repo"), mod)
			if _, err := r.Update(context.Background(), false, func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
				return change("", "c", map[string]string{name + ".txt": "x"}), nil
			}); err != nil {
				t.Fatal(err)
			}
			cfg, err := os.ReadFile(filepath.Join(r.Dir(), "config"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(cfg), token) || strings.Contains(r.Remote(), token) {
				t.Errorf("token in the clone's config or remote:\n%s", cfg)
			}
		})
	}
}

// Git credentials go to the remote's host only: a redirect to another host
// is followed without them.
func TestGitCredentialsDoNotFollowARedirect(t *testing.T) {
	const token = "tok-SECRET-redirect"
	var mu sync.Mutex
	var other, home []string
	elsewhere := credstest.Listen(t, "127.0.0.2:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		other = append(other, r.Header.Get("Authorization")+" "+r.URL.User.String())
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
	}))
	front := credstest.Listen(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		home = append(home, r.Header.Get("Authorization"))
		mu.Unlock()
		http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	_, err := gitops.Open(context.Background(), gitops.Options{
		Source: front.URL + "/repo.git", Branch: "main", TempDir: t.TempDir(),
		Auth: gitops.Auth{Username: "x", Password: token},
	})
	if err == nil {
		t.Fatal("opened a repository that does not exist")
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("the error shows the token: %v", err)
	}
	if len(home) == 0 || home[0] == "" {
		t.Fatalf("the remote's host got no credentials (%q); the test proves nothing", home)
	}
	if len(other) == 0 {
		t.Fatal("the redirect was not followed; the test proves nothing")
	}
	for _, a := range other {
		if strings.TrimSpace(a) != "" {
			t.Errorf("the other host got credentials: %q", a)
		}
	}
}
