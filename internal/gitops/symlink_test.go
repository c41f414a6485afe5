package gitops_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
	"github.com/promoter-dev/promoter/internal/sandbox"
)

// Committed symlinks are reported as symlinks by the tree's filesystem
// (fs.ReadLinkFS), so the sandbox follows those that stay inside the
// repository and refuses the others with what they are.
func TestCommittedSymlinksThroughTheSandbox(t *testing.T) {
	bare := gittest.Seed(t, t.TempDir()+"/r.git", "main", map[string]string{"base/cm.yaml": "a: 1\n"})
	work := t.TempDir()
	gittest.Git(t, "", "clone", "-q", bare, work)
	for name, target := range map[string]string{"base/inside": "cm.yaml", "base/zero": "/dev/zero", "base/gone": "nowhere.yaml", "base/up": "../../x"} {
		if err := os.Symlink(target, filepath.Join(work, name)); err != nil {
			t.Fatal(err)
		}
	}
	gittest.Git(t, work, "add", "-A")
	gittest.Git(t, work, "commit", "-q", "-m", "symlinks")
	gittest.Git(t, work, "push", "-q", "origin", "main")
	r := open(t, bare)
	tip, err := r.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.At(context.Background(), tip.Hash)
	if err != nil {
		t.Fatal(err)
	}
	s := sandbox.New(snap.FS())
	if data, err := s.ReadFile("base/inside"); err != nil || string(data) != "a: 1\n" {
		t.Errorf("a symlink inside the repository: %q, %v", data, err)
	}
	for name, want := range map[string]string{"base/zero": "leaves the repository", "base/up": "leaves the repository", "base/gone": "dangling symlink"} {
		_, err := s.ReadFile(name)
		if !errors.Is(err, sandbox.ErrRefused) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	if _, err := fs.ReadDir(s, "base"); err != nil {
		t.Errorf("listing a directory with symlinks: %v", err)
	}
}
