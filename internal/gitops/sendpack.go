package gitops

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// # Pushing only what promoter wrote
//
// go-git's own push finds the objects to send by walking every object
// reachable from the remote's refs, which in a monorepo with thousands of
// commits costs a second or more per push. promoter builds its commits on
// tips it fetched from the remote, so the only objects the remote lacks are
// the ones promoter wrote since: Repo records them (written), and sendPack
// sends exactly those that the new commit reaches.

// remember records an object promoter wrote.
func (r *Repo) remember(h plumbing.Hash) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written == nil {
		r.written = map[plumbing.Hash]bool{}
	}
	r.written[h] = true
}

func (r *Repo) wrote(h plumbing.Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.written[h]
}

// newObjects lists the objects promoter wrote that commit reaches: the
// commit, its trees and blobs, and parents promoter wrote (a merge of
// promoter's branch, a chain of commits).
func (r *Repo) newObjects(commit plumbing.Hash) ([]plumbing.Hash, error) {
	var out []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	var tree func(h plumbing.Hash) error
	tree = func(h plumbing.Hash) error {
		if seen[h] || !r.wrote(h) {
			return nil
		}
		seen[h] = true
		out = append(out, h)
		t, err := r.git.TreeObject(h)
		if err != nil {
			return err
		}
		for _, e := range t.Entries {
			if e.Mode == filemode.Dir {
				if err := tree(e.Hash); err != nil {
					return err
				}
			} else if !seen[e.Hash] && r.wrote(e.Hash) {
				seen[e.Hash] = true
				out = append(out, e.Hash)
			}
		}
		return nil
	}
	stack := []plumbing.Hash{commit}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[h] || !r.wrote(h) {
			continue
		}
		seen[h] = true
		out = append(out, h)
		c, err := r.git.CommitObject(h)
		if err != nil {
			return nil, err
		}
		if err := tree(c.TreeHash); err != nil {
			return nil, err
		}
		stack = append(stack, c.ParentHashes...)
	}
	return out, nil
}

// errRejected is a push the remote refused; the caller classifies it.
type errRejected struct {
	reason string
	// expected is where the push found the ref (the old value of its
	// compare-and-swap; zero for a new ref).
	expected plumbing.Hash
}

func (e errRejected) Error() string { return e.reason }

// sendPack makes ref point at commit on the remote, sending the objects
// promoter wrote that it reaches. Unless force, the remote's ref must still
// be at old (the zero hash for a new ref): the compare-and-swap is the
// remote's (git receive-pack locks the ref and checks the old value).
func (r *Repo) sendPack(ctx context.Context, commit plumbing.Hash, ref plumbing.ReferenceName, old plumbing.Hash, force bool) error {
	ep, err := transport.NewEndpoint(r.remote.clean)
	if err != nil {
		return err
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return err
	}
	sess, err := cl.NewReceivePackSession(ep, r.auth)
	if err != nil {
		return r.classify(err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return r.classify(err)
	}
	refs, err := adv.AllReferences()
	if err != nil {
		return err
	}
	var cur plumbing.Hash
	if rf, ok := refs[ref]; ok {
		cur = rf.Hash()
	}
	switch {
	case cur == commit:
		if force || old == commit {
			return nil // already there
		}
		return fmt.Errorf("push %s: the remote already has %.12s: %w", ref, commit, ErrNonFastForward)
	case !force && cur != old:
		return fmt.Errorf("push %s (remote at %.12s, built on %.12s): %w", ref, cur, old, ErrNonFastForward)
	}
	hashes, err := r.newObjects(commit)
	if err != nil {
		return err
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	req.Commands = []*packp.Command{{Name: ref, Old: cur, New: commit}}
	var pack bytes.Buffer
	if _, err := packfile.NewEncoder(&pack, r.git.Storer, false).Encode(hashes, 0); err != nil {
		return fmt.Errorf("pack for %s: %w", ref, err)
	}
	req.Packfile = io.NopCloser(&pack)
	rs, err := sess.ReceivePack(ctx, req)
	if err != nil {
		return errRejected{reason: r.classify(err).Error(), expected: cur}
	}
	if rs != nil {
		if err := rs.Error(); err != nil {
			return errRejected{reason: err.Error(), expected: cur}
		}
	}
	return nil
}
