package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

const dir = "apps/myapp/promoter/myapp"

// promote pushes one promoter commit for myapp that writes weight into the
// component.
func promote(t *testing.T, r *gitops.Repo, action gitops.Action, step, from, to int) gitops.Commit {
	t.Helper()
	res, err := r.Update(context.Background(), false, func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
		return &gitops.Change{Dir: dir, Files: gitops.Files{
			dir + "/kustomization.yaml": []byte("kind: Component\n"),
			dir + "/weight.yaml":        []byte(fmt.Sprintf("weight: %d\naction: %s\n", to, action)),
		}, Message: gitops.Message{
			Subject:  gitops.Subject("myapp", from, to),
			Trailers: gitops.Trailers{Canary: "myapp", Step: step, Action: action},
		}}, nil
	})
	if err != nil || !res.Pushed {
		t.Fatalf("promote %d -> %d: %+v, %v", from, to, res, err)
	}
	return res.Commit
}

func subjects(cs []gitops.Commit) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Message.Subject)
	}
	return strings.Join(s, " | ")
}

// A history deeper than the clone: History deepens on demand.
func TestHistoryDeepensShallowClone(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewServer(t)
	bare := srv.Seed(t, "repo", "main", seed)
	w := open(t, srv.RepoURL("repo"))
	promote(t, w, gitops.ActionStart, 0, 0, 0)
	promote(t, w, gitops.ActionPromote, 1, 0, 5)
	for i := range 40 {
		gittest.CommitFiles(t, bare, "main", fmt.Sprintf("human %d", i), map[string]string{"README.md": fmt.Sprint(i)})
	}
	landed := promote(t, w, gitops.ActionPromote, 2, 5, 10)
	for i := range 5 {
		gittest.CommitFiles(t, bare, "main", fmt.Sprintf("later %d", i), map[string]string{"other.txt": fmt.Sprint(i)})
	}

	for _, tc := range []struct {
		name   string
		source func() string
	}{
		{"clone depth 2", func() string { return srv.RepoURL("repo") }},
		{"CI checkout depth 1", func() string {
			work := t.TempDir()
			gittest.Git(t, "", "clone", "-q", "--depth", "1", srv.RepoURL("repo"), work)
			return work
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := open(t, tc.source(), func(o *gitops.Options) { o.Depth = 2 })
			tip, err := r.Fetch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			hist, err := r.History(ctx, tip.Hash, "myapp")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := subjects(hist), "canary(myapp): 5% -> 10% | canary(myapp): 0% -> 5% | canary(myapp): 0% -> 0%"; got != want {
				t.Errorf("History = %s, want %s", got, want)
			}
			if len(hist) == 0 || hist[0].Hash != landed.Hash {
				t.Errorf("History's newest commit is not the one that landed the stage, %s", landed.Short())
			}
		})
	}
}

func TestHistoryEndsAtRollback(t *testing.T) {
	ctx := context.Background()
	bare := gittest.Seed(t, t.TempDir()+"/r.git", "main", seed)
	r := open(t, bare)
	promote(t, r, gitops.ActionStart, 0, 0, 0)
	promote(t, r, gitops.ActionRollback, 0, 0, 0)
	tip, _ := r.Fetch(ctx)
	hist, err := r.History(ctx, tip.Hash, "myapp")
	if err != nil || len(hist) != 0 {
		t.Errorf("History after a rollback = %s, %v; want empty", subjects(hist), err)
	}
	promote(t, r, gitops.ActionStart, 0, 0, 0)
	tip, _ = r.Fetch(ctx)
	hist, _ = r.History(ctx, tip.Hash, "myapp")
	if len(hist) != 1 || hist[0].Message.Trailers.Action != gitops.ActionStart {
		t.Errorf("History of a new attempt = %s", subjects(hist))
	}
}

func TestRevert(t *testing.T) {
	ctx := context.Background()
	bare := gittest.Seed(t, t.TempDir()+"/r.git", "main", seed)
	r := open(t, bare)
	start := promote(t, r, gitops.ActionStart, 0, 0, 0)
	human := gittest.CommitFiles(t, bare, "main", "human edit elsewhere", map[string]string{"apps/myapp/base/deploy.yaml": "kind: Deployment # edited\n"})
	p1 := promote(t, r, gitops.ActionPromote, 1, 0, 5)

	res, err := r.Update(ctx, false, func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
		hist, err := r.History(ctx, tip.Commit.Hash, "myapp")
		if err != nil {
			return nil, err
		}
		return r.Revert(ctx, tip, dir, "myapp", hist, "p99 too high\nPromoter-Action: finish")
	})
	if err != nil || !res.Pushed {
		t.Fatalf("revert: %+v, %v", res, err)
	}
	msg := gittest.Git(t, bare, "log", "-1", "--format=%B", "main")
	for _, want := range []string{
		`Revert "canary(myapp): 0% -> 5%"`,
		"This reverts commit " + p1.Hash + ".",
		"This reverts commit " + start.Hash + ".",
		"Reason: p99 too high Promoter-Action: finish",
		"Promoter-Action: rollback",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("revert message lacks %q:\n%s", want, msg)
		}
	}
	// The component is back to its content before the start; the human
	// commit elsewhere survives.
	if diff := gittest.Git(t, bare, "diff", start.Parents[0], "main", "--", dir); diff != "" {
		t.Errorf("component differs from before the canary:\n%s", diff)
	}
	if got := gittest.Git(t, bare, "show", "main:apps/myapp/base/deploy.yaml"); got != "kind: Deployment # edited" {
		t.Errorf("human change to the base lost: %q (commit %s)", got, human)
	}
	if got := gittest.Git(t, bare, "log", "-1", "--format=%(trailers:key=Promoter-Action,valueonly)", "main"); got != "rollback" {
		t.Errorf("git reads Promoter-Action = %q, want rollback", got)
	}
}

func TestRevertRefusesHandEdits(t *testing.T) {
	ctx := context.Background()
	bare := gittest.Seed(t, t.TempDir()+"/r.git", "main", seed)
	r := open(t, bare)
	promote(t, r, gitops.ActionStart, 0, 0, 0)
	edit := gittest.CommitFiles(t, bare, "main", "tweak weight by hand", map[string]string{dir + "/weight.yaml": "weight: 50\n"})
	tip, _ := r.Fetch(ctx)
	snap, _ := r.Tip(ctx)
	hist, _ := r.History(ctx, tip.Hash, "myapp")
	_, err := r.Revert(ctx, snap, dir, "myapp", hist, "bad")
	var he *gitops.HandEditError
	if !errors.As(err, &he) || len(he.Commits) != 1 || he.Commits[0].Hash != edit {
		t.Fatalf("Revert over a hand edit = %v, want HandEditError naming %s", err, edit)
	}
}

func TestParseMessage(t *testing.T) {
	m := gitops.Message{Subject: "canary(myapp): 5% -> 10%", Body: "Gates passed.\n\nKey: value", Trailers: gitops.Trailers{Canary: "myapp", Step: 2, Action: gitops.ActionPromote}}
	got := gitops.ParseMessage(m.String())
	if got != m {
		t.Errorf("ParseMessage(String()) = %+v, want %+v", got, m)
	}
	plain := gitops.ParseMessage("Fix typo\n\nSigned-off-by: A <a@b>\n")
	if !plain.Trailers.IsZero() || plain.Body != "Signed-off-by: A <a@b>" {
		t.Errorf("human commit parsed as %+v", plain)
	}
}

// A pull request a human merged with the forge's own message ("Merge pull
// request #7 ...") lands promoter's commit: the merge carries its trailers
// in history, dated when it landed.
func TestHistorySeesHumanMerges(t *testing.T) {
	ctx := context.Background()
	bare := gittest.Seed(t, t.TempDir()+"/r.git", "main", seed)
	r := open(t, bare)
	tip, err := r.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Commit(ctx, tip.Hash, gitops.Change{Dir: dir, Files: gitops.Files{dir + "/weight.yaml": []byte("weight: 5\n")},
		Message: gitops.Message{Subject: gitops.Subject("myapp", 0, 5), Trailers: gitops.Trailers{Canary: "myapp", Step: 1, Action: gitops.ActionStart}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.PushBranch(ctx, c.Hash, gitops.StepBranch("myapp", 1)); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	gittest.Git(t, "", "clone", "-q", bare, work)
	gittest.Git(t, work, "-c", "user.name=reviewer", "-c", "user.email=r@example.com", "merge", "--no-ff", "-q",
		"-m", "Merge pull request #7 from example/promoter/myapp/step-1", "origin/promoter/myapp/step-1")
	gittest.Git(t, work, "push", "-q", "origin", "HEAD:main")

	tip, err = r.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := r.History(ctx, tip.Hash, "myapp")
	if err != nil || len(hist) != 1 {
		t.Fatalf("History = %s, %v; want the merge", subjects(hist), err)
	}
	if hist[0].Hash != tip.Hash || hist[0].Message.Trailers.Step != 1 || hist[0].Message.Subject != "Merge pull request #7 from example/promoter/myapp/step-1" {
		t.Errorf("got %s %q %+v, want the merge commit with step 1's trailers", hist[0].Short(), hist[0].Message.Subject, hist[0].Message.Trailers)
	}
}
