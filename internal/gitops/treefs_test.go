package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// A tree can hold names Git itself refuses to check out (".GIT", made
// here with git mktree). The snapshot's file system finds no such entry,
// and listing the tree fails on such a directory, as go-git's lookups do
// (go-git's Tree.Tree says the directory is not found).
func TestSnapshotFSRefusesDotGitNames(t *testing.T) {
	bare := gittest.Seed(t, filepath.Join(t.TempDir(), "repo.git"), "main", map[string]string{"README.md": "x\n"})
	blob := gittest.Git(t, bare, "rev-parse", "main:README.md")
	sub := mktree(t, bare, fmt.Sprintf("100644 blob %s\tconfig\n", blob))
	root := mktree(t, bare, fmt.Sprintf("040000 tree %s\t.GIT\n100644 blob %s\tREADME.md\n040000 tree %s\tapps\n", sub, blob, sub))
	commit := gittest.Git(t, bare, "commit-tree", "-p", "main", "-m", "odd names", root)
	gittest.Git(t, bare, "update-ref", "refs/heads/main", commit)

	r := open(t, bare)
	tip, err := r.Tip(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fsys := tip.FS()
	if data, err := fs.ReadFile(fsys, "apps/config"); err != nil || string(data) != "x\n" {
		t.Errorf("apps/config = %q, %v", data, err)
	}
	for _, p := range []string{".GIT", ".GIT/config"} {
		if _, err := fs.Stat(fsys, p); !errorsIsNotExist(err) {
			t.Errorf("Stat(%s): %v, want fs.ErrNotExist", p, err)
		}
		if _, err := fs.ReadFile(fsys, p); err == nil {
			t.Errorf("ReadFile(%s) succeeded", p)
		}
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil || len(entries) != 3 {
		t.Errorf("ReadDir(.) = %v, %v; want the three entries of the tree", entries, err)
	}
	lister, ok := fsys.(interface {
		ListFiles(keep func(string) bool, skip func(string) bool) ([]string, error)
	})
	if !ok {
		t.Fatal("the snapshot's file system cannot list its files")
	}
	all := func(string) bool { return true }
	none := func(string) bool { return false }
	if files, err := lister.ListFiles(all, none); !errors.Is(err, object.ErrDirectoryNotFound) {
		t.Errorf("ListFiles = %v, %v; want object.ErrDirectoryNotFound", files, err)
	}
	files, err := lister.ListFiles(all, func(dir string) bool { return dir == ".GIT" })
	if err != nil || strings.Join(files, " ") != "README.md apps/config" {
		t.Errorf("ListFiles skipping .GIT = %v, %v", files, err)
	}
}

func mktree(t *testing.T, bare, listing string) string {
	t.Helper()
	cmd := exec.Command("git", "mktree")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(listing)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git mktree: %v", err)
	}
	return strings.TrimSpace(string(out))
}
