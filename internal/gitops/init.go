package gitops

import (
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// InitBare creates a bare repository in dir whose branch holds files in
// one commit (message msg, by sig at when), and returns the commit's hash.
// It is how a repository is made from nothing without the Git CLI (the demo
// and tests use it).
func InitBare(dir, branch string, files Files, msg string, sig Signature, when time.Time) (string, error) {
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	wt := memfs.New()
	repo, err := git.InitWithOptions(st, wt, git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(branch)})
	if err != nil {
		return "", fmt.Errorf("init %s: %w", dir, err)
	}
	cfg, err := repo.Config()
	if err != nil {
		return "", err
	}
	cfg.Core.IsBare = true
	if err := repo.SetConfig(cfg); err != nil {
		return "", err
	}
	w, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if files[p] == nil {
			continue
		}
		if err := wt.MkdirAll(path.Dir(p), 0o755); err != nil {
			return "", err
		}
		f, err := wt.Create(p)
		if err != nil {
			return "", err
		}
		if _, err := f.Write(files[p]); err != nil {
			f.Close()
			return "", err
		}
		if err := f.Close(); err != nil {
			return "", err
		}
		if _, err := w.Add(p); err != nil {
			return "", fmt.Errorf("add %s: %w", p, err)
		}
	}
	author := sig.orDefault()
	h, err := w.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: author.Name, Email: author.Email, When: when}})
	if err != nil {
		return "", err
	}
	return h.String(), nil
}
