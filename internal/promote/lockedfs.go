package promote

import (
	"errors"
	"io/fs"
	"sync"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/spec"
)

// snapshot is the repository at one commit as derive reads it.
type snapshot interface {
	FS() fs.FS
	ReadDir(dir string) (gitops.Files, error)
}

// lockedSnapshot serialises reads of a snapshot shared by the canaries of a
// pass: go-git's trees and object storage are not safe for concurrent use.
// Each read holds the lock only while it reads; rendering and kustomize
// builds run concurrently on what was read.
type lockedSnapshot struct {
	snap *gitops.Snapshot
	mu   *sync.Mutex
}

func (s lockedSnapshot) FS() fs.FS { return lockedFS{fsys: s.snap.FS(), mu: s.mu} }

func (s lockedSnapshot) ReadDir(dir string) (gitops.Files, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap.ReadDir(dir)
}

// lockedFS is an fs.FS whose every call holds mu. The files it opens are
// read whole when opened, so reading them later needs no lock.
type lockedFS struct {
	fsys fs.FS
	mu   *sync.Mutex
}

var (
	_ fs.ReadFileFS = lockedFS{}
	_ fs.ReadDirFS  = lockedFS{}
	_ fs.StatFS     = lockedFS{}
	_ fs.ReadLinkFS = lockedFS{}
)

func (l lockedFS) Open(name string) (fs.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fsys.Open(name)
}

func (l lockedFS) ReadFile(name string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fs.ReadFile(l.fsys, name)
}

func (l lockedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fs.ReadDir(l.fsys, name)
}

func (l lockedFS) Stat(name string) (fs.FileInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fs.Stat(l.fsys, name)
}

// Lstat and ReadLink pass symlinks through, so that the build sandbox
// follows committed symlinks that stay inside the repository.
func (l lockedFS) Lstat(name string) (fs.FileInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fs.Lstat(l.fsys, name)
}

func (l lockedFS) ReadLink(name string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fs.ReadLink(l.fsys, name)
}

// ListFiles lists the files in one walk when the underlying FS can.
func (l lockedFS) ListFiles(keep func(path string) bool, skip func(dir string) bool) ([]string, error) {
	lister, ok := l.fsys.(spec.FileLister)
	if !ok {
		return nil, errors.New("not a file lister")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return lister.ListFiles(keep, skip)
}
