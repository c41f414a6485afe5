package sandbox

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestResolve(t *testing.T) {
	repo := fstest.MapFS{
		"a/file.yaml":  {Data: []byte("x: 1\n")},
		"a/same":       {Data: []byte("file.yaml"), Mode: fs.ModeSymlink},
		"a/chain":      {Data: []byte("same"), Mode: fs.ModeSymlink},
		"b/up":         {Data: []byte("../a"), Mode: fs.ModeSymlink},
		"b/abs":        {Data: []byte("/etc/passwd"), Mode: fs.ModeSymlink},
		"b/out":        {Data: []byte("../../x"), Mode: fs.ModeSymlink},
		"b/loop":       {Data: []byte("loop"), Mode: fs.ModeSymlink},
		"b/gone":       {Data: []byte("../a/none"), Mode: fs.ModeSymlink},
		"b/via-out":    {Data: []byte("up/../../.."), Mode: fs.ModeSymlink},
		"c/irregular":  {Mode: fs.ModeNamedPipe},
		"c/big":        {Data: make([]byte, MaxFileBytes+1)},
		"c/exact":      {Data: make([]byte, MaxFileBytes)},
		"c/into-a-dir": {Data: []byte("../b/up/file.yaml"), Mode: fs.ModeSymlink},
	}
	s := New(repo)
	for name, want := range map[string]string{
		"a/same": "a/file.yaml", "a/chain": "a/file.yaml", "b/up/file.yaml": "a/file.yaml", "c/into-a-dir": "a/file.yaml",
	} {
		got, _, err := s.Resolve(name, true)
		if err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", name, got, err, want)
		}
		if data, err := s.ReadFile(name); err != nil || string(data) != "x: 1\n" {
			t.Errorf("ReadFile(%s) = %q, %v", name, data, err)
		}
	}
	for name, want := range map[string]string{
		"b/abs": "leaves the repository", "b/out": "leaves the repository", "b/via-out": "leaves the repository",
		"b/loop": "too many levels", "b/gone": "dangling symlink (b/gone -> ../a/none)",
		"c/irregular": "named pipe", "c/big": "larger than the limit",
	} {
		_, err := s.ReadFile(name)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadFile(%s) = %v, want refused: %s", name, err, want)
		}
	}
	if data, err := s.ReadFile("c/exact"); err != nil || len(data) != MaxFileBytes {
		t.Errorf("a file of exactly the limit: %d bytes, %v", len(data), err)
	}
	if _, err := s.ReadFile("a/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
}

// On disk, a directory symlink in the middle of a path is resolved too:
// os.DirFS alone would follow it out of the repository.
func TestIntermediateSymlinkOnDisk(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc", filepath.Join(dir, "etc")); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadFile(os.DirFS(dir), "etc/passwd"); err != nil {
		t.Skip("no /etc/passwd to escape to")
	}
	if _, err := New(os.DirFS(dir)).ReadFile("etc/passwd"); !errors.Is(err, ErrRefused) {
		t.Errorf("read through a symlinked directory: %v", err)
	}
	if _, err := fs.ReadDir(New(os.DirFS(dir)), "etc"); !errors.Is(err, ErrRefused) {
		t.Errorf("listed a symlinked directory outside: %v", err)
	}
}
