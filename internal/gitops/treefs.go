package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// treeFS is a read-only [fs.FS] over a Git tree: the repository as it was
// at one commit, without a checkout. Modification times are the commit's
// time. Symbolic links and submodules appear as files that cannot be read
// (render never follows links out of the repository).
//
// It is safe for concurrent use: it reads objects through the repository's
// object readers (reader.go), and the trees it decoded are immutable.
type treeFS struct {
	trees *treeCache
	when  time.Time
}

// treeCache holds the trees of one commit by directory path, each decoded
// once: a lookup otherwise decodes every tree on its path from the object
// store, and a build stats each component of every path it reads. The
// commit is immutable, so a decoded tree never goes stale.
type treeCache struct {
	objects *objectReaders
	// root is the commit's tree; rootNode is made from it on first use.
	root     *object.Tree
	rootOnce sync.Once
	rootNode *treeNode

	mu   sync.RWMutex
	dirs map[string]*treeNode
}

func newTreeCache(objects *objectReaders, root *object.Tree) *treeCache {
	return &treeCache{objects: objects, root: root, dirs: map[string]*treeNode{}}
}

// treeNode is a decoded tree, never modified once made (go-git's
// object.Tree caches the subtrees it looked up in itself, so it cannot be
// shared between goroutines).
type treeNode struct {
	entries []object.TreeEntry
	// refused marks the entries whose names go-git refuses to look up
	// (".git" and its spellings, control characters, ".." between
	// backslashes): lookups do not find them, as go-git's do not (nil:
	// none).
	refused []bool
	// byName indexes the entries a lookup finds: the first of a name.
	byName map[string]int
}

func newTreeNode(entries []object.TreeEntry) *treeNode {
	n := &treeNode{entries: entries, byName: make(map[string]int, len(entries))}
	for i, e := range entries {
		// An empty tree of its own (FindEntry writes to the tree) checks
		// the name the way go-git's lookups do.
		if _, err := new(object.Tree).FindEntry(e.Name); !errors.Is(err, object.ErrEntryNotFound) {
			if n.refused == nil {
				n.refused = make([]bool, len(entries))
			}
			n.refused[i] = true
			continue
		}
		if _, dup := n.byName[e.Name]; !dup {
			n.byName[e.Name] = i
		}
	}
	return n
}

// find returns the entry called name, if a lookup finds one.
func (n *treeNode) find(name string) (object.TreeEntry, bool) {
	i, ok := n.byName[name]
	if !ok {
		return object.TreeEntry{}, false
	}
	return n.entries[i], true
}

// dir returns the tree of directory p ("." is the root), or an error
// wrapping fs.ErrNotExist when p is not a directory of the tree.
func (c *treeCache) dir(p string) (*treeNode, error) {
	if p == "." {
		c.rootOnce.Do(func() { c.rootNode = newTreeNode(c.root.Entries) })
		return c.rootNode, nil
	}
	c.mu.RLock()
	n, ok := c.dirs[p]
	c.mu.RUnlock()
	if ok {
		return n, nil
	}
	parent, err := c.dir(path.Dir(p))
	if err != nil {
		return nil, err
	}
	e, ok := parent.find(path.Base(p))
	if !ok || e.Mode != filemode.Dir {
		return nil, fs.ErrNotExist
	}
	return c.subtree(p, e.Hash)
}

// subtree decodes the tree h of directory p and caches it.
func (c *treeCache) subtree(p string, h plumbing.Hash) (*treeNode, error) {
	c.mu.RLock()
	n, ok := c.dirs[p]
	c.mu.RUnlock()
	if ok {
		return n, nil
	}
	obj, err := c.objects.object(plumbing.TreeObject, h)
	if err != nil {
		return nil, err
	}
	var t object.Tree
	if err := t.Decode(obj); err != nil {
		return nil, err
	}
	n = newTreeNode(t.Entries)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.dirs[p]; ok {
		return old, nil // decoded meanwhile by another reader
	}
	c.dirs[p] = n
	return n, nil
}

// blob reads the blob of file name.
func (c *treeCache) blob(name string) (plumbing.EncodedObject, error) {
	parent, err := c.dir(path.Dir(name))
	if err != nil {
		return nil, object.ErrFileNotFound
	}
	e, ok := parent.find(path.Base(name))
	if !ok {
		return nil, object.ErrFileNotFound
	}
	return c.objects.object(plumbing.BlobObject, e.Hash)
}

// ListFiles lists the files of the tree in one walk (spec.FileLister). The
// trees it decodes stay cached for later lookups.
func (t *treeFS) ListFiles(keep func(path string) bool, skip func(dir string) bool) ([]string, error) {
	var out []string
	var walk func(tree *treeNode, prefix string) error
	walk = func(tree *treeNode, prefix string) error {
		for i, e := range tree.entries {
			p := e.Name
			if prefix != "" {
				p = prefix + "/" + e.Name
			}
			switch {
			case e.Mode == filemode.Dir:
				if skip(p) {
					continue
				}
				if tree.refused != nil && tree.refused[i] {
					return object.ErrDirectoryNotFound // as go-git's lookup says
				}
				sub, err := t.trees.subtree(p, e.Hash)
				if err != nil {
					return err
				}
				if err := walk(sub, p); err != nil {
					return err
				}
			case e.Mode.IsFile() && keep(p):
				out = append(out, p)
			}
		}
		return nil
	}
	root, err := t.trees.dir(".")
	if err != nil {
		return nil, err
	}
	return out, walk(root, "")
}

var (
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
	_ fs.ReadLinkFS = (*treeFS)(nil)
)

func (t *treeFS) lookup(op, name string) (*object.TreeEntry, *treeNode, error) {
	if !fs.ValidPath(name) {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		root, err := t.trees.dir(".")
		if err != nil {
			return nil, nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		return nil, root, nil
	}
	parent, err := t.trees.dir(path.Dir(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	if err != nil {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	e, ok := parent.find(path.Base(name))
	if !ok {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	if e.Mode == filemode.Dir {
		sub, err := t.trees.dir(name)
		if err != nil {
			return nil, nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		return &e, sub, nil
	}
	return &e, nil, nil
}

func (t *treeFS) Open(name string) (fs.File, error) {
	e, dir, err := t.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if dir != nil {
		entries, err := t.entries(dir, name)
		if err != nil {
			return nil, err
		}
		return &treeDir{info: t.info(path.Base(name), filemode.Dir, 0), entries: entries}, nil
	}
	data, err := t.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &treeFile{info: t.info(e.Name, e.Mode, int64(len(data))), r: bytes.NewReader(data)}, nil
}

func (t *treeFS) ReadFile(name string) ([]byte, error) {
	e, dir, err := t.lookup("read", name)
	if err != nil {
		return nil, err
	}
	if dir != nil || !e.Mode.IsFile() || e.Mode == filemode.Symlink {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("not a regular file")}
	}
	return t.blob(name)
}

// maxBlobBytes bounds a blob read through the tree: a hostile commit's
// 2 GiB file is an error, not the process's memory.
const maxBlobBytes = 64 << 20

func (t *treeFS) blob(name string) ([]byte, error) {
	obj, err := t.trees.blob(name)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	if obj.Size() > maxBlobBytes {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("%d bytes, larger than the limit of %d", obj.Size(), maxBlobBytes)}
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// Lstat implements fs.ReadLinkFS. It does not follow symlinks (nor does
// Stat), and it reports files without their size, which needs the blob
// read: the sandbox calls it for every component of every path, and bounds
// what it reads itself.
func (t *treeFS) Lstat(name string) (fs.FileInfo, error) {
	e, dir, err := t.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	if dir != nil {
		return t.info(path.Base(name), filemode.Dir, 0), nil
	}
	return t.info(e.Name, e.Mode, 0), nil
}

// ReadLink implements fs.ReadLinkFS: a symlink's target is its blob.
func (t *treeFS) ReadLink(name string) (string, error) {
	e, dir, err := t.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if dir != nil || e.Mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	obj, err := t.trees.blob(name)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	if obj.Size() > 4096 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.New("symlink target longer than 4096 bytes")}
	}
	data, err := t.blob(name)
	return string(data), err
}

func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	_, dir, err := t.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if dir == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return t.entries(dir, name)
}

func (t *treeFS) Stat(name string) (fs.FileInfo, error) {
	e, dir, err := t.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	if dir != nil {
		return t.info(path.Base(name), filemode.Dir, 0), nil
	}
	var size int64
	if obj, err := t.trees.blob(name); err == nil {
		size = obj.Size()
	}
	return t.info(e.Name, e.Mode, size), nil
}

// entries lists a directory. The entries' sizes are not filled in (Stat
// has them): a size needs the blob read, and listing a directory of a large
// repository must not read every file in it.
func (t *treeFS) entries(dir *treeNode, name string) ([]fs.DirEntry, error) {
	out := make([]fs.DirEntry, 0, len(dir.entries))
	for _, e := range dir.entries {
		info := t.info(e.Name, e.Mode, 0)
		info.hash = e.Hash
		out = append(out, fs.FileInfoToDirEntry(info))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (t *treeFS) info(name string, mode filemode.FileMode, size int64) fileInfo {
	return fileInfo{name: name, mode: mode, size: size, when: t.when}
}

type fileInfo struct {
	name string
	mode filemode.FileMode
	size int64
	when time.Time
	// hash is the entry's object ID, when listed from its tree.
	hash plumbing.Hash
}

// BlobID is the Git object ID of a listed entry ("" when unknown): for a
// file, the ID of its content, which identifies the content without
// reading it (render fingerprints a build's inputs with it).
func (i fileInfo) BlobID() string {
	if i.hash.IsZero() {
		return ""
	}
	return i.hash.String()
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) ModTime() time.Time { return i.when }
func (i fileInfo) IsDir() bool        { return i.mode == filemode.Dir }
func (i fileInfo) Sys() any           { return nil }
func (i fileInfo) Mode() fs.FileMode {
	switch i.mode {
	case filemode.Dir:
		return fs.ModeDir | 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o444
	case filemode.Executable:
		return 0o555
	case filemode.Submodule:
		return fs.ModeIrregular
	}
	return 0o444
}

type treeFile struct {
	info fileInfo
	r    *bytes.Reader
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *treeFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *treeFile) Close() error               { return nil }

type treeDir struct {
	info    fileInfo
	entries []fs.DirEntry
	off     int
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}
func (d *treeDir) Close() error { return nil }
func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	if n > len(rest) {
		n = len(rest)
	}
	d.off += n
	return rest[:n], nil
}
