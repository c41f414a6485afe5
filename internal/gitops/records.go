package gitops

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// # Build records beside the target branch
//
// A component records what its overlay's build found, and a hash of the
// build's inputs, when promoter writes it. When a human edits one of those
// inputs later, the next run builds the overlay again; what that build
// found holds for as long as the new inputs do, but promoter writes the
// target branch only to change a stage. So it keeps such findings on a ref
// of its own, refs/promoter/builds/<branch>: one commit, without parents,
// whose tree holds one file, records, with a line per canary
// ("<name> <record>", the record in the form of the promoter.dev/build
// annotation). The ref is fetched with the target branch and replaced, by
// compare-and-swap on the remote, when a run's findings differ from it.
// It changes nothing Argo CD or Flux apply, and needs no pull request.
//
// The records only save builds: a record is taken only when its hash is
// the hash of the inputs at the tip, which binds everything the build
// reads. A missing, unreadable or malformed ref means building, never a
// different decision, and deleting the ref is always safe.

// RecordsRefPrefix is where the refs of build records live; the target
// branch's is RecordsRefPrefix + branch.
const RecordsRefPrefix = "refs/promoter/builds/"

// recordsFile is the file of a records commit's tree.
const recordsFile = "records"

// maxRecordsBytes bounds the records file promoter reads: about 30,000
// canaries' lines. A larger file is ignored, as a malformed one is.
const maxRecordsBytes = 8 << 20

// Records are the build records of the target branch, by canary name.
type Records struct {
	// Entries maps a canary's name to its record.
	Entries map[string]string
	// at is the commit the ref pointed at when read (zero: no ref), the
	// old value of the compare-and-swap that replaces it.
	at plumbing.Hash
}

func (r *Repo) recordsRef() plumbing.ReferenceName {
	return plumbing.ReferenceName(RecordsRefPrefix + r.branch)
}

// Records reads the build records as last fetched with the target branch
// (see [Repo.Fetch]). Absent records are empty, not an error. An error
// says why the ref cannot be read (it comes with empty records, which are
// safe to use: they make every changed canary build).
func (r *Repo) Records() (*Records, error) {
	out := &Records{Entries: map[string]string{}}
	ref, err := r.git.Reference(r.recordsRef(), true)
	if err != nil {
		return out, nil
	}
	out.at = ref.Hash()
	entries, err := r.readRecords(ref.Hash())
	if err != nil {
		return out, fmt.Errorf("build records %s at %.12s: %w", r.recordsRef(), ref.Hash(), err)
	}
	out.Entries = entries
	return out, nil
}

func (r *Repo) readRecords(h plumbing.Hash) (map[string]string, error) {
	c, err := r.git.CommitObject(h)
	if err != nil {
		return nil, err
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	e, err := tree.FindEntry(recordsFile)
	if err != nil {
		return nil, fmt.Errorf("no %s file: %w", recordsFile, err)
	}
	if e.Mode != filemode.Regular {
		return nil, fmt.Errorf("%s is not a regular file", recordsFile)
	}
	blob, err := r.git.BlobObject(e.Hash)
	if err != nil {
		return nil, err
	}
	if blob.Size > maxRecordsBytes {
		return nil, fmt.Errorf("%s: %d bytes, larger than the limit of %d", recordsFile, blob.Size, maxRecordsBytes)
	}
	rd, err := blob.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return parseRecords(rd)
}

// parseRecords reads a records file: "<name> <record>" lines, and lines
// starting with # as comments.
func parseRecords(rd io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rec, ok := strings.Cut(line, " ")
		rec = strings.TrimSpace(rec)
		if !ok || name == "" || rec == "" {
			return nil, fmt.Errorf("%s:%d: want \"<canary> <record>\"", recordsFile, n)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s:%d: canary %s recorded twice", recordsFile, n, name)
		}
		out[name] = rec
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", recordsFile, err)
	}
	return out, nil
}

// formatRecords is the records file for entries, sorted by name.
func formatRecords(branch string, entries map[string]string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Build records of branch %s, written by promoter: what a build of each\n", branch)
	b.WriteString("# canary's overlay found for inputs changed since promoter wrote its component.\n")
	b.WriteString("# A record is used only while its hash matches the inputs; deleting this ref is safe.\n")
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		fmt.Fprintf(&b, "%s %s\n", name, entries[name])
	}
	return b.Bytes()
}

// SaveRecords replaces the build records read as old with entries. The
// remote's ref must still be where old found it: when another run
// replaced it since, SaveRecords returns [ErrNonFastForward] and the
// caller fetches, merges and tries again. Saving the records old already
// holds does nothing. A ref name is checked like a branch name, so a
// branch whose ref cannot exist saves nothing.
func (r *Repo) SaveRecords(ctx context.Context, old *Records, entries map[string]string) error {
	if old == nil {
		old = &Records{}
	}
	if maps.Equal(old.Entries, entries) {
		return nil
	}
	if err := r.recordsRef().Validate(); err != nil {
		return fmt.Errorf("build records of branch %s: %w", r.branch, err)
	}
	blob, err := r.writeBlob(formatRecords(r.branch, entries))
	if err != nil {
		return err
	}
	t := &object.Tree{Entries: []object.TreeEntry{{Name: recordsFile, Mode: filemode.Regular, Hash: blob}}}
	enc := r.git.Storer.NewEncodedObject()
	if err := t.Encode(enc); err != nil {
		return err
	}
	tree, err := r.store(enc)
	if err != nil {
		return err
	}
	msg := Message{Subject: fmt.Sprintf("promoter: build records of %s", r.branch),
		Body: fmt.Sprintf("%d canaries whose inputs changed since promoter wrote their component.", len(entries))}
	c, err := r.writeCommit(tree, msg)
	if err != nil {
		return err
	}
	h := plumbing.NewHash(c.Hash)
	r.log.Debug("saving build records", "ref", r.recordsRef(), "canaries", len(entries), "remote", r.remote.clean)
	sctx, cancel := bounded(ctx)
	err = r.sendPack(sctx, h, r.recordsRef(), old.at, false)
	cancel()
	var rejected errRejected
	switch {
	case err == nil:
	case errors.As(err, &rejected):
		return fmt.Errorf("build records %s: the remote refused the update: %s", r.recordsRef(), rejected.reason)
	default:
		return fmt.Errorf("build records %s: %w", r.recordsRef(), err)
	}
	// The local ref follows, as a fetch would set it.
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.git.Storer.SetReference(plumbing.NewHashReference(r.recordsRef(), h)); err != nil {
		return err
	}
	old.Entries, old.at = maps.Clone(entries), h
	return nil
}
