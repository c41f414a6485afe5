package gitops_test

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// The build records beside the target branch, against a real Git server
// (smart HTTP, the in-process file transport, and a CI checkout): a first
// save creates the ref, a fresh clone reads what was saved, the
// compare-and-swap loses a race to another writer instead of overwriting
// it, a malformed ref is reported and replaced, a ref deleted on the
// remote is forgotten, and the target branch is never touched.
func TestBuildRecords(t *testing.T) {
	for _, remote := range []string{"http", "file://", "checkout"} {
		t.Run(remote, func(t *testing.T) {
			ctx := context.Background()
			srv := gittest.NewServer(t)
			bare := srv.Seed(t, "repo", "main", seed)
			main := gittest.Git(t, bare, "rev-parse", "main")
			source := func() string {
				switch remote {
				case "http":
					return srv.RepoURL("repo")
				case "file://":
					return "file://" + bare
				}
				work := filepath.Join(t.TempDir(), "work")
				gittest.Git(t, filepath.Dir(work), "clone", "-q", bare, work)
				return work
			}
			records := func(r *gitops.Repo) map[string]string {
				t.Helper()
				got, err := r.Records()
				if err != nil {
					t.Fatalf("Records: %v", err)
				}
				return got.Entries
			}
			onServer := func() string {
				t.Helper()
				return gittest.Git(t, bare, "show", gitops.RecordsRefPrefix+"main:records")
			}

			a := open(t, source())
			old, err := a.Records()
			if err != nil || len(old.Entries) != 0 {
				t.Fatalf("Records before any save = %v, %v; want none, no error", old.Entries, err)
			}
			first := map[string]string{"app-a": "stable=a:1 canary=a:2 versions=v1,v2 sha256:aa", "app-b": "stable=b:1 canary=b:1 versions=v1,v2 sha256:bb"}
			if err := a.SaveRecords(ctx, old, first); err != nil {
				t.Fatalf("first save: %v", err)
			}
			if got := onServer(); !strings.Contains(got, "\napp-a stable=a:1 canary=a:2 versions=v1,v2 sha256:aa\napp-b stable=b:1") {
				t.Errorf("records on the server:\n%s", got)
			}
			if parents := gittest.Git(t, bare, "log", "-1", "--format=%P", gitops.RecordsRefPrefix+"main"); parents != "" {
				t.Errorf("a records commit has parents %s, want none (the ref is replaced, its history not kept)", parents)
			}

			b := open(t, source())
			if got := records(b); !maps.Equal(got, first) {
				t.Fatalf("a fresh clone reads %v, want %v", got, first)
			}
			bOld, _ := b.Records()

			// a replaces the records; b, still holding the first ones, loses.
			second := map[string]string{"app-a": "stable=a:1 canary=a:3 versions=v1,v2 sha256:a3"}
			if err := a.SaveRecords(ctx, old, second); err != nil {
				t.Fatalf("second save: %v", err)
			}
			stale := map[string]string{"app-c": "stable=c:1 canary=c:2 versions=v1,v2 sha256:cc"}
			if err := b.SaveRecords(ctx, bOld, stale); !errors.Is(err, gitops.ErrNonFastForward) {
				t.Fatalf("a save over records replaced since it read them = %v, want ErrNonFastForward", err)
			}
			if got := onServer(); strings.Contains(got, "app-c") || !strings.Contains(got, "sha256:a3") {
				t.Errorf("the lost race changed the records:\n%s", got)
			}
			if _, err := b.Fetch(ctx); err != nil {
				t.Fatal(err)
			}
			if got := records(b); !maps.Equal(got, second) {
				t.Fatalf("after a fetch b reads %v, want %v", got, second)
			}

			// Saving what is there already pushes nothing.
			at := gittest.Git(t, bare, "rev-parse", gitops.RecordsRefPrefix+"main")
			if err := a.SaveRecords(ctx, old, maps.Clone(second)); err != nil {
				t.Fatal(err)
			}
			if now := gittest.Git(t, bare, "rev-parse", gitops.RecordsRefPrefix+"main"); now != at {
				t.Errorf("saving unchanged records moved the ref %s -> %s", at, now)
			}

			// A malformed ref pushed by hand: reported, read as none, and
			// replaced by the next save.
			gittest.PushRef(t, bare, gitops.RecordsRefPrefix+"main", map[string]string{"records": "app-a\n"})
			if _, err := a.Fetch(ctx); err != nil {
				t.Fatal(err)
			}
			bad, err := a.Records()
			if err == nil || !strings.Contains(err.Error(), "records:1") || len(bad.Entries) != 0 {
				t.Fatalf("malformed records = %v, %v; want none and an error naming records:1", bad.Entries, err)
			}
			if err := a.SaveRecords(ctx, bad, second); err != nil {
				t.Fatalf("save over malformed records: %v", err)
			}
			if got := onServer(); !strings.Contains(got, "sha256:a3") {
				t.Errorf("records after replacing the malformed ones:\n%s", got)
			}

			// Deleted on the remote: forgotten at the next fetch.
			gittest.Git(t, bare, "update-ref", "-d", gitops.RecordsRefPrefix+"main")
			if _, err := a.Fetch(ctx); err != nil {
				t.Fatal(err)
			}
			if got := records(a); len(got) != 0 {
				t.Errorf("records deleted on the remote still read as %v", got)
			}

			if now := gittest.Git(t, bare, "rev-parse", "main"); now != main {
				t.Errorf("saving records moved main %s -> %s", main, now)
			}
			if out := gittest.Git(t, bare, "fsck", "--strict"); strings.Contains(out, "error") {
				t.Errorf("fsck: %s", out)
			}
		})
	}
}
