package gitops

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// errReadersClosed is the error of a read after [Repo.Close].
var errReadersClosed = errors.New("repository is closed")

// objectReaders read objects for the file systems of snapshots
// ([Snapshot.FS]), apart from the storage that fetches, commits and
// pushes.
//
// Each reader is a read-only storage over the same directory that keeps
// its packfiles open (up to maxOpenPacks, the most recently opened): the
// repository's own storage opens (and resolves the path of) the packfile
// again for every object it reads, which dominates a pass that reads
// thousands of small files. Readers are not safe for concurrent use, so
// the pool hands each read a reader of its own, up to one per CPU (at most
// maxReaders); they share one object cache (safe for concurrent use).
//
// A reader only reads: it never writes, and the repository's storage
// never sees its state. Objects written after a reader was opened are
// found all the same: loose objects are opened by name, and on a miss a
// reader whose packfiles changed since (a fetch added one) reads their
// indexes again before it says the object does not exist.
type objectReaders struct {
	fs    billy.Filesystem
	cache cache.Object
	// slots bounds the readers in use.
	slots chan struct{}

	mu   sync.Mutex
	idle []*objectReader
	// live counts the readers opened and not closed.
	live   int
	closed bool
}

// Bounds on the files readers hold open: a long-lived Repo that fetched
// many times has many packfiles, and a large machine many CPUs.
const (
	maxReaders   = 8
	maxOpenPacks = 16
)

// newObjectReaders reads the repository whose .git directory (or bare
// repository) is fs, with at most n readers at a time (n <= 0: one per
// CPU, at most maxReaders).
func newObjectReaders(fs billy.Filesystem, n int) *objectReaders {
	if n <= 0 {
		n = min(runtime.GOMAXPROCS(0), maxReaders)
	}
	return &objectReaders{fs: fs, cache: cache.NewObjectLRUDefault(), slots: make(chan struct{}, n)}
}

// object reads the object h of type t (plumbing.AnyObject: any type).
// Errors: plumbing.ErrObjectNotFound, or the storage's.
func (p *objectReaders) object(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	var obj plumbing.EncodedObject
	err := p.with(func(r *objectReader) error {
		var err error
		obj, err = r.object(t, h)
		return err
	})
	return obj, err
}

// with runs fn with a reader of its own.
func (p *objectReaders) with(fn func(r *objectReader) error) error {
	if p == nil {
		return errReadersClosed
	}
	p.slots <- struct{}{}
	defer func() { <-p.slots }()
	r, err := p.take()
	if err != nil {
		return err
	}
	defer p.put(r)
	return fn(r)
}

// objectReader is one reader of the pool.
type objectReader struct {
	st *filesystem.Storage
	// packs are the packfiles as last listed after a miss (nil: never).
	packs []plumbing.Hash
}

// object reads an object; on a miss it reads the packfiles' indexes again
// if a packfile was added since (a fetch), and tries once more.
func (r *objectReader) object(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := r.st.EncodedObject(t, h)
	if !errors.Is(err, plumbing.ErrObjectNotFound) || !r.packsChanged() {
		return obj, err
	}
	r.st.Reindex()
	return r.st.EncodedObject(t, h)
}

// packsChanged lists the packfiles and reports whether they differ from
// the last listing (always on the first).
func (r *objectReader) packsChanged() bool {
	packs, err := r.st.ObjectPacks()
	if err != nil {
		return true // reading the indexes again reports it
	}
	changed := r.packs == nil || !slices.Equal(packs, r.packs)
	r.packs = packs
	return changed
}

func (p *objectReaders) take() (*objectReader, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errReadersClosed
	}
	if n := len(p.idle); n > 0 {
		s := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return s, nil
	}
	st := filesystem.NewStorageWithOptions(p.fs, p.cache, filesystem.Options{MaxOpenDescriptors: maxOpenPacks})
	p.live++
	return &objectReader{st: st}, nil
}

func (p *objectReaders) put(r *objectReader) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = r.st.Close()
		p.live--
		return
	}
	p.idle = append(p.idle, r)
}

// open reports how many readers are open (for tests).
func (p *objectReaders) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}

// Close closes the readers' packfiles; a reader in use is closed when its
// read ends. Reads after Close fail. Closing twice, or a nil pool, does
// nothing.
func (p *objectReaders) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for _, r := range p.idle {
		if err := r.st.Close(); err != nil {
			errs = append(errs, err)
		}
		p.live--
	}
	p.idle = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing object readers: %w", err)
	}
	return nil
}
