package gitops_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
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
