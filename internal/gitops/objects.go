package gitops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Files are file contents by repository-relative, slash-separated path.
// In a [Change], a nil content deletes the file.
type Files map[string][]byte

// Snapshot is the repository at one commit.
type Snapshot struct {
	Commit Commit
	tree   *object.Tree
	// dirs are the trees its FS decoded, shared by every FS of the
	// snapshot.
	dirs *treeCache
}

// FS is the repository at the snapshot's commit as a read-only [fs.FS]
// (also [fs.ReadFileFS], [fs.ReadDirFS] and [fs.StatFS]). It is safe for
// concurrent use, also while the repository fetches or commits, until the
// Repo is closed.
func (s *Snapshot) FS() fs.FS {
	return &treeFS{trees: s.dirs, when: s.Commit.CommitTime}
}

// ReadDir returns every file under dir (recursively), keyed by
// repository-relative path. A missing dir is an empty result, not an error.
func (s *Snapshot) ReadDir(dir string) (Files, error) { return readDir(s.tree, dir) }

// DirHash identifies the content of dir at the snapshot: equal hashes mean
// equal content. A missing dir has the empty hash "".
func (s *Snapshot) DirHash(dir string) string { return dirHash(s.tree, dir) }

func dirHash(tree *object.Tree, dir string) string {
	dir = strings.Trim(path.Clean(dir), "/")
	if dir == "." || dir == "" {
		return tree.Hash.String()
	}
	e, err := tree.FindEntry(dir)
	if err != nil {
		return ""
	}
	return e.Hash.String()
}

func readDir(tree *object.Tree, dir string) (Files, error) {
	dir = strings.Trim(path.Clean(dir), "/")
	out := Files{}
	sub := tree
	if dir != "." && dir != "" {
		var err error
		if sub, err = tree.Tree(dir); err != nil {
			if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
				return out, nil
			}
			return nil, fmt.Errorf("read %s: %w", dir, err)
		}
	} else {
		dir = ""
	}
	err := sub.Files().ForEach(func(f *object.File) error {
		if f.Size > maxBlobBytes {
			return fmt.Errorf("%s: %d bytes, larger than the limit of %d", path.Join(dir, f.Name), f.Size, maxBlobBytes)
		}
		content, err := f.Contents()
		if err != nil {
			return err
		}
		out[path.Join(dir, f.Name)] = []byte(content)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return out, nil
}

// Tip is the target branch as last fetched (see [Repo.Fetch]).
func (r *Repo) Tip(ctx context.Context) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := r.tip(r.branch)
	if err != nil {
		return nil, err
	}
	return r.snapshot(c)
}

// At is the repository at commit rev (a full or abbreviated hash, or a
// reference name). Errors: [ErrNotFound].
func (r *Repo) At(ctx context.Context, rev string) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := r.git.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, fmt.Errorf("revision %s: %w", rev, ErrNotFound)
	}
	c, err := r.commit(*h)
	if err != nil {
		return nil, err
	}
	return r.snapshot(c)
}

func (r *Repo) snapshot(c Commit) (*Snapshot, error) {
	obj, err := r.git.CommitObject(plumbing.NewHash(c.Hash))
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.Short(), err)
	}
	tree, err := obj.Tree()
	if err != nil {
		return nil, fmt.Errorf("tree of %s: %w", c.Short(), err)
	}
	return &Snapshot{Commit: c, tree: tree, dirs: newTreeCache(r.objects, tree)}, nil
}

func (r *Repo) commit(h plumbing.Hash) (Commit, error) {
	obj, err := r.git.CommitObject(h)
	if err != nil {
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return Commit{}, fmt.Errorf("commit %s: %w", h, ErrNotFound)
		}
		return Commit{}, fmt.Errorf("commit %s: %w", h, err)
	}
	return toCommit(obj), nil
}

func toCommit(obj *object.Commit) Commit {
	c := Commit{
		Hash:       obj.Hash.String(),
		Message:    ParseMessage(obj.Message),
		Author:     Signature{Name: obj.Author.Name, Email: obj.Author.Email},
		AuthorTime: obj.Author.When,
		CommitTime: obj.Committer.When,
	}
	for _, p := range obj.ParentHashes {
		c.Parents = append(c.Parents, p.String())
	}
	return c
}

// Change is what promoter commits.
type Change struct {
	// Dir, when set, is a directory promoter owns: after the change it holds
	// exactly the Files under it, and any other file in it is deleted.
	Dir string
	// Files are the files to write (nil content deletes).
	Files   Files
	Message Message
}

// Commit makes a commit of ch on parent without touching any worktree or
// reference, and returns it. It is dated by the Repo's clock and signed by
// its author. Errors: [ErrNothingToCommit] when the tree would not change
// (success for callers: the repository already says what they wanted).
func (r *Repo) Commit(ctx context.Context, parent string, ch Change) (Commit, error) {
	if err := ctx.Err(); err != nil {
		return Commit{}, err
	}
	base, err := r.snapshot(Commit{Hash: parent})
	if err != nil {
		return Commit{}, err
	}
	edits := Files{}
	if ch.Dir != "" {
		old, err := readDir(base.tree, ch.Dir)
		if err != nil {
			return Commit{}, err
		}
		for p := range old {
			edits[p] = nil
		}
	}
	for p, content := range ch.Files {
		p = strings.Trim(path.Clean(p), "/")
		if !fs.ValidPath(p) || p == "." {
			return Commit{}, fmt.Errorf("invalid path %q", p)
		}
		edits[p] = content
	}
	tree, err := r.writeTree(base.tree.Hash, edits)
	if err != nil {
		return Commit{}, err
	}
	if tree == base.tree.Hash {
		return Commit{}, ErrNothingToCommit
	}
	return r.writeCommit(tree, ch.Message, plumbing.NewHash(parent))
}

func (r *Repo) writeCommit(tree plumbing.Hash, msg Message, parents ...plumbing.Hash) (Commit, error) {
	now := r.clock()
	sig := object.Signature{Name: r.author.Name, Email: r.author.Email, When: now}
	obj := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      msg.String(),
		TreeHash:     tree,
		ParentHashes: parents,
	}
	enc := r.git.Storer.NewEncodedObject()
	if err := obj.Encode(enc); err != nil {
		return Commit{}, err
	}
	h, err := r.git.Storer.SetEncodedObject(enc)
	if err != nil {
		return Commit{}, fmt.Errorf("store commit: %w", err)
	}
	r.remember(h)
	return r.commit(h)
}

// writeTree returns the tree that is base with edits applied (nil content
// deletes; directories left empty disappear).
func (r *Repo) writeTree(base plumbing.Hash, edits Files) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !base.IsZero() {
		t, err := r.git.TreeObject(base)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("tree %s: %w", base, err)
		}
		entries = append(entries, t.Entries...)
	}
	// Group the edits by their first path element.
	here := map[string][]byte{}
	below := map[string]Files{}
	for p, content := range edits {
		first, rest, nested := strings.Cut(p, "/")
		if !nested {
			here[first] = content
			continue
		}
		if below[first] == nil {
			below[first] = Files{}
		}
		below[first][rest] = content
	}
	index := map[string]int{}
	for i, e := range entries {
		index[e.Name] = i
	}
	set := func(e object.TreeEntry) {
		if i, ok := index[e.Name]; ok {
			entries[i] = e
			return
		}
		index[e.Name] = len(entries)
		entries = append(entries, e)
	}
	for name, content := range here {
		if content == nil {
			if i, ok := index[name]; ok && entries[i].Mode != filemode.Dir {
				entries[i].Name = "" // dropped below
			}
			continue
		}
		h, err := r.writeBlob(content)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		mode := filemode.Regular
		if i, ok := index[name]; ok && entries[i].Mode == filemode.Executable {
			mode = filemode.Executable
		}
		set(object.TreeEntry{Name: name, Mode: mode, Hash: h})
	}
	for name, sub := range below {
		var subBase plumbing.Hash
		if i, ok := index[name]; ok && entries[i].Mode == filemode.Dir {
			subBase = entries[i].Hash
		}
		h, err := r.writeTree(subBase, sub)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if h.IsZero() {
			if i, ok := index[name]; ok {
				entries[i].Name = ""
			}
			continue
		}
		set(object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
	}
	kept := entries[:0]
	for _, e := range entries {
		if e.Name != "" {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		return plumbing.ZeroHash, nil
	}
	// Git orders entries by name, comparing a directory as if its name
	// ended in "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(kept, func(i, j int) bool { return key(kept[i]) < key(kept[j]) })
	t := &object.Tree{Entries: kept}
	enc := r.git.Storer.NewEncodedObject()
	if err := t.Encode(enc); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.store(enc)
}

func (r *Repo) writeBlob(content []byte) (plumbing.Hash, error) {
	enc := r.git.Storer.NewEncodedObject()
	enc.SetType(plumbing.BlobObject)
	enc.SetSize(int64(len(content)))
	w, err := enc.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.store(enc)
}

// store writes an object and remembers it as promoter's, to be pushed.
func (r *Repo) store(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h, err := r.git.Storer.SetEncodedObject(obj)
	if err == nil {
		r.remember(h)
	}
	return h, err
}
