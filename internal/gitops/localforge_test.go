package gitops_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

func TestLocalForgeMerge(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	bare := srv.Seed(t, "repo", "main", seed)
	r := open(t, srv.RepoURL("repo"))
	f := gitops.NewLocalForge(r)
	head := gitops.StepBranch("myapp", 1)

	if pr, err := f.FindPullRequest(ctx, head); pr != nil || err != nil {
		t.Fatalf("FindPullRequest before any = %+v, %v", pr, err)
	}
	tip, _ := r.Fetch(ctx)
	c, err := r.Commit(ctx, tip.Hash, *change(dir, "canary(myapp): 0% -> 5%", map[string]string{dir + "/w.yaml": "5"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.PushBranch(ctx, c.Hash, head); err != nil {
		t.Fatal(err)
	}
	if err := r.PushBranch(ctx, c.Hash, "main"); !errors.Is(err, gitops.ErrForbiddenForce) {
		t.Fatalf("force-push of main = %v, want ErrForbiddenForce", err)
	}
	pr, err := f.OpenPullRequest(ctx, gitops.NewPullRequest{Head: head, Base: "main", Title: "t"})
	if err != nil || pr.HeadSHA != c.Hash {
		t.Fatalf("OpenPullRequest = %+v, %v", pr, err)
	}
	// A rerun adopts the same pull request.
	again, err := f.FindPullRequest(ctx, head)
	if err != nil || again == nil || again.HeadSHA != c.Hash {
		t.Fatalf("FindPullRequest on rerun = %+v, %v", again, err)
	}
	// A human commits elsewhere: the merge is a real two-parent merge.
	gittest.CommitFiles(t, bare, "main", "human", map[string]string{"README.md": "edited\n"})
	m, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, c.Message)
	if merged := m.Merged; err != nil || !merged {
		t.Fatalf("MergePullRequest = %v, %v", merged, err)
	}
	parents := strings.Fields(gittest.Git(t, bare, "log", "-1", "--format=%P", "main"))
	if len(parents) != 2 || parents[1] != c.Hash {
		t.Errorf("merge parents = %v, want [human, %s]", parents, c.Short())
	}
	if got := gittest.Git(t, bare, "show", "main:README.md"); got != "edited" {
		t.Errorf("README.md = %q: human change lost", got)
	}
	if got := gittest.Git(t, bare, "show", "main:"+dir+"/w.yaml"); got != "5" {
		t.Errorf("w.yaml = %q, want the branch's content", got)
	}
	if err := f.DeleteBranch(ctx, head); err != nil {
		t.Fatal(err)
	}
	if pr, err := f.FindPullRequest(ctx, head); pr != nil || err != nil {
		t.Errorf("FindPullRequest after delete = %+v, %v", pr, err)
	}
	// The merge carries the trailers, so History sees the step.
	tip, _ = r.Fetch(ctx)
	hist, err := r.History(ctx, tip.Hash, "myapp")
	if err != nil || len(hist) != 1 || hist[0].Hash != tip.Hash {
		t.Errorf("History after merge = %s, %v", subjects(hist), err)
	}
}

func TestLocalForgeConflict(t *testing.T) {
	ctx := context.Background()
	bare := gittest.Seed(t, t.TempDir()+"/r.git", "main", seed)
	r := open(t, bare)
	f := gitops.NewLocalForge(r)
	tip, _ := r.Fetch(ctx)
	c, _ := r.Commit(ctx, tip.Hash, *change("", "mine", map[string]string{"README.md": "promoter\n"}))
	if err := r.PushBranch(ctx, c.Hash, "promoter/myapp/step-1"); err != nil {
		t.Fatal(err)
	}
	gittest.CommitFiles(t, bare, "main", "human", map[string]string{"README.md": "human\n"})
	pr, _ := f.FindPullRequest(ctx, "promoter/myapp/step-1")
	_, err := f.MergePullRequest(ctx, pr, gitops.MergeCommit, c.Message)
	if !errors.Is(err, gitops.ErrConflict) {
		t.Fatalf("merge over a conflicting change = %v, want ErrConflict", err)
	}
}
