package promote

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// The commits whose statuses count for a stage after its own: those after
// it on the first-parent history, oldest first, bounded to the oldest and
// the tip.
func TestLaterCommits(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	bare := srv.Seed(t, "gitops", "main", map[string]string{"README.md": "hi\n"})
	work := t.TempDir()
	gittest.Git(t, "", "clone", "-q", bare, work)
	commit := func(msg string) string {
		gittest.Git(t, work, "-c", "user.name=h", "-c", "user.email=h@example.com", "commit", "-q", "--allow-empty", "-m", msg)
		return gittest.Git(t, work, "rev-parse", "HEAD")
	}
	stage := commit("stage")
	var after []string
	laterAt := func() []string {
		t.Helper()
		gittest.Git(t, work, "push", "-q", "origin", "HEAD:main")
		r, err := gitops.Open(ctx, gitops.Options{Source: srv.RepoURL("gitops"), Branch: "main", TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		tip, err := r.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := New(Options{Repo: r}).laterCommits(ctx, &State{Tip: tip}, stage)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := laterAt(); len(got) != 0 {
		t.Fatalf("the stage's commit is the tip: later commits %v, want none", got)
	}
	for i := range 3 {
		after = append(after, commit(fmt.Sprint("after ", i)))
	}
	if got := laterAt(); strings.Join(got, " ") != strings.Join(after, " ") {
		t.Fatalf("later commits %v, want %v (oldest first)", got, after)
	}
	for i := 3; i < 20; i++ {
		after = append(after, commit(fmt.Sprint("after ", i)))
	}
	want := append(append([]string{}, after[:maxSyncCommits-2]...), after[len(after)-1])
	if got := laterAt(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("20 later commits: read %v, want the %d oldest and the tip %v", got, maxSyncCommits-2, want)
	}
}
