// Package sandbox is the view of a repository that builds and spec reads
// go through, whether the repository is a checkout on disk or a committed
// tree.
//
// The view is rooted at the repository: a path is resolved one component
// at a time, and a symlink is followed only while its target stays inside
// the repository. A symlink that leaves it (an absolute target such as
// /proc/self/environ, or one with enough ".."), a dangling symlink, and
// anything that is not a regular file or a directory (devices, pipes,
// sockets) is refused with an error that names it. Regular files are read
// up to [MaxFileBytes]. The process's own files are therefore out of reach
// of anything a repository contains.
package sandbox

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/promoter-dev/promoter/internal/bounded"
)

// MaxFileBytes is the largest file the view reads.
const MaxFileBytes = 8 << 20

// maxHops bounds the symlinks followed resolving one path (as Linux does).
const maxHops = 40

// ErrRefused marks a path the sandbox does not let a build read.
var ErrRefused = errors.New("refused by the build sandbox")

// RefusedError is a path the view refuses, and why.
type RefusedError struct {
	Path   string
	Reason string
}

func (e *RefusedError) Error() string { return e.Path + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// FS is the sandboxed view. It implements fs.FS, fs.ReadFileFS,
// fs.ReadDirFS and fs.StatFS.
type FS struct {
	base fs.FS
}

// New returns the view of base. If base cannot report symlinks (it does
// not implement fs.ReadLinkFS), entries it lists as symlinks are refused.
// New of a view returns it unchanged.
func New(base fs.FS) *FS {
	if s, ok := base.(*FS); ok {
		return s
	}
	return &FS{base: base}
}

func (s *FS) lstat(p string) (fs.FileInfo, error) {
	if p == "." {
		return fs.Stat(s.base, ".")
	}
	if _, ok := s.base.(fs.ReadLinkFS); ok {
		return fs.Lstat(s.base, p)
	}
	// Without Lstat, the parent's listing tells a symlink from the rest.
	entries, err := fs.ReadDir(s.base, path.Dir(p))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Name() == path.Base(p) {
			if e.Type()&fs.ModeSymlink != 0 {
				return e.Info()
			}
			return fs.Stat(s.base, p)
		}
	}
	return nil, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
}

// Resolve returns the path, free of symlinks, that name designates inside
// the repository, and its FileInfo. With follow false a final symlink is
// not followed.
func (s *FS) Resolve(name string, follow bool) (string, fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return "", nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	comps := strings.Split(name, "/")
	cur := "."
	hops := 0
	var link, target string // the last symlink followed, for messages
	info, err := s.lstat(".")
	if err != nil {
		return "", nil, err
	}
	for i := 0; i < len(comps); i++ {
		c := comps[i]
		if c == "." || c == "" {
			continue
		}
		next := path.Join(cur, c)
		if c == ".." {
			// Only reachable from a symlink target, which inside() bounded.
			next = path.Dir(cur)
		}
		info, err = s.lstat(next)
		if errors.Is(err, fs.ErrNotExist) && link != "" {
			return "", nil, &RefusedError{Path: name, Reason: fmt.Sprintf("a dangling symlink (%s -> %s): %s does not exist", link, target, next)}
		}
		if err != nil {
			return "", nil, err
		}
		last := i == len(comps)-1
		if info.Mode()&fs.ModeSymlink != 0 && (follow || !last) {
			if hops++; hops > maxHops {
				return "", nil, &RefusedError{Path: name, Reason: "too many levels of symlinks"}
			}
			t, err := fs.ReadLink(s.base, next)
			if err != nil {
				return "", nil, &RefusedError{Path: name, Reason: fmt.Sprintf("a symlink (%s) that cannot be read: %v", next, err)}
			}
			joined := path.Join(path.Dir(next), t)
			if path.IsAbs(t) || !inside(joined) {
				return "", nil, &RefusedError{Path: name, Reason: fmt.Sprintf("a symlink (%s -> %s) that leaves the repository", next, t)}
			}
			link, target = next, t
			comps = append(strings.Split(joined, "/"), comps[i+1:]...)
			cur = "."
			i = -1
			continue
		}
		if !last && !info.IsDir() {
			return "", nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%s is not a directory", next)}
		}
		cur = next
	}
	return cur, info, nil
}

// kind names a file type for messages.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	}
	return "not a regular file"
}

// usable refuses what is neither a regular file nor a directory.
func usable(name string, info fs.FileInfo) error {
	if info.Mode().IsRegular() || info.IsDir() {
		return nil
	}
	return &RefusedError{Path: name, Reason: kind(info.Mode()) + ", not a regular file or directory"}
}

// Open implements fs.FS.
func (s *FS) Open(name string) (fs.File, error) {
	real, info, err := s.Resolve(name, true)
	if err != nil {
		return nil, err
	}
	if err := usable(name, info); err != nil {
		return nil, err
	}
	if info.Mode().IsRegular() && info.Size() > MaxFileBytes {
		return nil, tooLarge(name, info.Size())
	}
	f, err := s.base.Open(real)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return f, nil
	}
	return newBoundedFile(f, name), nil
}

func tooLarge(name string, size int64) error {
	if size < 0 {
		return &RefusedError{Path: name, Reason: fmt.Sprintf("larger than the limit of %d bytes", MaxFileBytes)}
	}
	return &RefusedError{Path: name, Reason: fmt.Sprintf("%d bytes, larger than the limit of %d", size, MaxFileBytes)}
}

// boundedFile fails a read past MaxFileBytes (a file's size can change
// between the stat and the read).
type boundedFile struct {
	fs.File
	r bounded.Reader
}

func newBoundedFile(f fs.File, name string) *boundedFile {
	return &boundedFile{File: f, r: bounded.Reader{R: f, Left: MaxFileBytes, Over: func() error { return tooLarge(name, -1) }}}
}

func (f *boundedFile) Read(p []byte) (int, error) { return f.r.Read(p) }

// ReadFile implements fs.ReadFileFS.
func (s *FS) ReadFile(name string) ([]byte, error) {
	f, err := s.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return io.ReadAll(f)
}

// ReadDir implements fs.ReadDirFS. Entries are listed as they are
// (symlinks as symlinks); reading one goes through the view.
func (s *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	real, info, err := s.Resolve(name, true)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return fs.ReadDir(s.base, real)
}

// Stat implements fs.StatFS; it follows symlinks inside the repository.
func (s *FS) Stat(name string) (fs.FileInfo, error) {
	_, info, err := s.Resolve(name, true)
	if err != nil {
		return nil, err
	}
	return info, usable(name, info)
}

func inside(p string) bool {
	p = path.Clean(p)
	return p != ".." && !strings.HasPrefix(p, "../") && !path.IsAbs(p)
}
