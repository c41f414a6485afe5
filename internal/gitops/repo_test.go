package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func open(t *testing.T, source string, mod ...func(*gitops.Options)) *gitops.Repo {
	t.Helper()
	o := gitops.Options{
		Source:  source,
		Author:  gitops.Signature{Name: "promoter", Email: "promoter@example.com"},
		Clock:   func() time.Time { return t0 },
		TempDir: t.TempDir(),
		Retry:   gitops.Retry{Attempts: 20, Backoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond},
	}
	for _, m := range mod {
		m(&o)
	}
	r, err := gitops.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("Open(%s): %v", source, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func change(dir, subject string, files map[string]string) *gitops.Change {
	ch := &gitops.Change{Dir: dir, Files: gitops.Files{}, Message: gitops.Message{
		Subject:  subject,
		Trailers: gitops.Trailers{Canary: "myapp", Step: 1, Action: gitops.ActionPromote},
	}}
	for p, c := range files {
		ch.Files[p] = []byte(c)
	}
	return ch
}

var seed = map[string]string{
	"README.md":                   "hello\n",
	"apps/myapp/base/deploy.yaml": "kind: Deployment\n",
	"apps/myapp/promoter/myapp/kustomization.yaml": "kind: Component\n",
	"apps/myapp/promoter/myapp/old.yaml":           "old\n",
}

func TestCloneCommitPush(t *testing.T) {
	for _, remote := range []string{"http", "file://", "path"} {
		t.Run(remote, func(t *testing.T) {
			ctx := context.Background()
			srv := gittest.NewServer(t)
			bare := srv.Seed(t, "repo", "main", seed)
			src := map[string]string{"http": srv.RepoURL("repo"), "file://": "file://" + bare, "path": bare}[remote]
			r := open(t, src)
			if r.Branch() != "main" {
				t.Fatalf("Branch() = %q, want the remote's default, main", r.Branch())
			}
			res, err := r.Update(ctx, false, func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
				data, err := fs.ReadFile(tip.FS(), "README.md")
				if err != nil || string(data) != "hello\n" {
					t.Errorf("README.md at tip = %q, %v", data, err)
				}
				return change("apps/myapp/promoter/myapp", "canary(myapp): 0% -> 5%", map[string]string{
					"apps/myapp/promoter/myapp/kustomization.yaml": "kind: Component\n# 5\n",
					"apps/myapp/promoter/myapp/sub/patch.yaml":     "patch\n",
				}), nil
			})
			if err != nil || !res.Pushed {
				t.Fatalf("Update = %+v, %v", res, err)
			}
			got := gittest.Git(t, bare, "log", "-1", "--format=%H%n%an <%ae>%n%aI%n%cI%n%B", "main")
			for _, want := range []string{res.Commit.Hash, "promoter <promoter@example.com>", "2026-03-01T12:00:00+00:00\n2026-03-01T12:00:00+00:00", "canary(myapp): 0% -> 5%", "Promoter-Canary: myapp", "Promoter-Step: 1", "Promoter-Action: promote"} {
				if !strings.Contains(got, want) {
					t.Errorf("pushed commit lacks %q:\n%s", want, got)
				}
			}
			files := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "main")
			if strings.Contains(files, "old.yaml") || !strings.Contains(files, "sub/patch.yaml") || !strings.Contains(files, "README.md") {
				t.Errorf("tree after commit:\n%s", files)
			}
			if out := gittest.Git(t, bare, "fsck", "--strict"); strings.Contains(out, "error") {
				t.Errorf("fsck: %s", out)
			}
			// Same change again: nothing to commit is success.
			res, err = r.Update(ctx, false, func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
				return change("apps/myapp/promoter/myapp", "again", map[string]string{
					"apps/myapp/promoter/myapp/kustomization.yaml": "kind: Component\n# 5\n",
					"apps/myapp/promoter/myapp/sub/patch.yaml":     "patch\n",
				}), nil
			})
			if err != nil || res.Pushed {
				t.Errorf("second Update = %+v, %v; want nothing pushed, no error", res, err)
			}
		})
	}
}

func TestPushNonFastForward(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	bare := srv.Seed(t, "repo", "main", seed)
	r := open(t, srv.RepoURL("repo"))
	tip, err := r.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Commit(ctx, tip.Hash, *change("", "mine", map[string]string{"a.txt": "a"}))
	if err != nil {
		t.Fatal(err)
	}
	human := gittest.CommitFiles(t, bare, "main", "human", map[string]string{"b.txt": "b"})
	err = r.Push(ctx, c.Hash, tip.Hash)
	if !errors.Is(err, gitops.ErrNonFastForward) {
		t.Fatalf("Push after a human commit = %v, want ErrNonFastForward", err)
	}
	if got := gittest.Git(t, bare, "rev-parse", "main"); got != human {
		t.Errorf("main = %s, want the human commit %s untouched", got, human)
	}
}

func TestCommitNothingToCommit(t *testing.T) {
	ctx := context.Background()
	bare := gittest.Seed(t, filepath.Join(t.TempDir(), "r.git"), "main", seed)
	r := open(t, bare)
	tip, _ := r.Fetch(ctx)
	_, err := r.Commit(ctx, tip.Hash, gitops.Change{Files: gitops.Files{"README.md": []byte("hello\n")}})
	if !errors.Is(err, gitops.ErrNothingToCommit) {
		t.Fatalf("Commit of identical content = %v, want ErrNothingToCommit", err)
	}
}

// Eight promoter writers and eight "human" writers push to one HTTP remote
// at once, each to its own file: every commit must land.
func TestConcurrentWritersAllLand(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	bare := srv.Seed(t, "repo", "main", seed)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			r := open(t, srv.RepoURL("repo"))
			_, err := r.Update(ctx, false, func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
				return change("", fmt.Sprintf("promoter %d", i), map[string]string{fmt.Sprintf("promoter/%d.txt", i): "x"}), nil
			})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			errs <- humanPush(t, srv.RepoURL("repo"), i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	files := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "main")
	for i := range n {
		for _, f := range []string{fmt.Sprintf("promoter/%d.txt", i), fmt.Sprintf("human/%d.txt", i)} {
			if !strings.Contains(files, f) {
				t.Errorf("%s was lost; main has:\n%s", f, files)
			}
		}
	}
}

// humanPush is a human with the git CLI: commit, push, and on rejection
// pull --rebase and push again.
func humanPush(t *testing.T, url string, i int) error {
	work := t.TempDir()
	if out, err := gittest.GitErr("", "clone", "-q", url, work); err != nil {
		return fmt.Errorf("clone: %v: %s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(work, "human"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "human", fmt.Sprintf("%d.txt", i)), []byte("h"), 0o644); err != nil {
		return err
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", fmt.Sprintf("human %d", i)}} {
		if out, err := gittest.GitErr(work, args...); err != nil {
			return fmt.Errorf("git %v: %v: %s", args, err, out)
		}
	}
	for range 50 {
		if _, err := gittest.GitErr(work, "push", "-q", "origin", "HEAD:main"); err == nil {
			return nil
		}
		if out, err := gittest.GitErr(work, "pull", "-q", "--rebase", "origin", "main"); err != nil {
			return fmt.Errorf("pull: %v: %s", err, out)
		}
	}
	return fmt.Errorf("human %d never landed", i)
}
