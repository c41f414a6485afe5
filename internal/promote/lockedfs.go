package promote

import (
	"io/fs"
	"sync"

	"github.com/promoter-dev/promoter/internal/gitops"
)

// snapshot is the repository at one commit as derive reads it.
type snapshot interface {
	FS() fs.FS
	ReadDir(dir string) (gitops.Files, error)
}

// lockedSnapshot serialises the reads of a snapshot shared by the canaries
// of a pass that go through the repository's storage (go-git's storage is
// not safe for concurrent use). Its file system needs no lock: it reads
// through readers of its own and is safe for concurrent use (see
// gitops.Snapshot.FS), so the canaries read their files in parallel.
type lockedSnapshot struct {
	snap *gitops.Snapshot
	mu   *sync.Mutex
}

func (s lockedSnapshot) FS() fs.FS { return s.snap.FS() }

func (s lockedSnapshot) ReadDir(dir string) (gitops.Files, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap.ReadDir(dir)
}
