package render

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/promoter-dev/promoter/internal/sandbox"
	"github.com/promoter-dev/promoter/internal/spec"
)

// The record of a build's inputs.
//
// Every component promoter writes records, in the promoter.dev/build
// annotation of its state file, what it read from the base and a content
// hash of everything the build of the overlay depends on. A later run
// that computes the same hash knows that the overlay builds exactly as it
// did when promoter checked it, and can take the base's facts from the
// record instead of building (see [InputsHash]). A run that computes any
// other hash builds, as if nothing were recorded.
//
// What the hash covers. A build runs on the in-memory copy the copier
// makes (sandbox.go): the whole subtree of every kustomization root the
// overlay reaches, with the files promoter writes laid over it. kustomize
// reads nothing else, and the copier decides which roots to copy from
// what it reads itself: the kustomization files of those roots, the
// plugin configurations they name, and the existence of the paths they
// reference. So the hash covers, sorted by path:
//
//   - every directory of every copied subtree (so a new or removed
//     directory, or a new or removed file, changes the listing);
//   - the path and content of every file of those subtrees, and every
//     entry the sandbox left out with the reason why;
//   - every other file the copier read, and every path whose existence
//     it tested, with what it found.
//
// The roots reached, and therefore the set above, depend on the content:
// a kustomization that lists a new root is itself a file of a copied
// subtree, so its change changes the hash, and the next run that
// computes the hash follows the new reference. Computing the hash is the
// copier's walk without kustomize: it reads what the build would copy and
// no more.
//
// The hash also covers promoter's own component directory, the output,
// as committed (with the hash itself replaced by a placeholder), so that
// a hand edit of promoter's files is noticed as drift; the Canary spec's
// file; the kustomize API version; and [RenderVersion], which changes
// whenever promoter renders or inspects differently.
//
// Only the copier's decisions are hashed: a file of a copied subtree that
// no kustomization names still counts (kustomize could be told to read it
// by an edit, which would change a kustomization and hence the hash
// anyway, so this is conservative, never wrong).
const AnnotationBuild = "promoter.dev/build"

// RenderVersion names how promoter inspects and renders. It is part of
// every recorded hash: change it whenever Inspect, Component or the build
// sandbox would give a different result for the same files, so that
// components recorded by an older promoter are built again.
const RenderVersion = "1"

// hashPrefix starts the hash in the annotation; hashPlaceholder stands
// for it while the hash is computed.
const hashPrefix = "sha256:"

var hashPlaceholder = hashPrefix + strings.Repeat("0", 64)

// Recorded is what the build annotation records: the base's facts derive
// needs when it does not build, and the hash they hold for.
type Recorded struct {
	// StableImage and CanaryImage are the images of the base's revision
	// containers (Base.Stable.Image, Base.Canary.Image).
	StableImage, CanaryImage string
	// StableVersion and CanaryVersion are the version labels the
	// DestinationRule's subsets select (Base.StableVersion and
	// Base.CanaryVersion).
	StableVersion, CanaryVersion string
	// Hash is the hash of the build's inputs (see AnnotationBuild).
	Hash string
}

// recordOf is the record of b with hash h.
func recordOf(b *Base, h string) string {
	return fmt.Sprintf("stable=%s canary=%s versions=%s,%s %s", b.Stable.Image, b.Canary.Image, b.StableVersion, b.CanaryVersion, h)
}

// parseRecord parses the build annotation's value.
func parseRecord(v string) (*Recorded, error) {
	fields := strings.Fields(v)
	if len(fields) != 4 {
		return nil, fmt.Errorf("want 4 fields, found %d", len(fields))
	}
	r := &Recorded{}
	var ok [3]bool
	r.StableImage, ok[0] = strings.CutPrefix(fields[0], "stable=")
	r.CanaryImage, ok[1] = strings.CutPrefix(fields[1], "canary=")
	var versions string
	versions, ok[2] = strings.CutPrefix(fields[2], "versions=")
	if ok != [3]bool{true, true, true} {
		return nil, errors.New("want stable=IMAGE canary=IMAGE versions=STABLE,CANARY sha256:HASH")
	}
	r.StableVersion, r.CanaryVersion, ok[0] = strings.Cut(versions, ",")
	r.Hash = fields[3]
	if !ok[0] || !strings.HasPrefix(r.Hash, hashPrefix) || len(r.Hash) != len(hashPlaceholder) {
		return nil, errors.New("want stable=IMAGE canary=IMAGE versions=STABLE,CANARY sha256:HASH")
	}
	return r, nil
}

// InputsHash is the hash of the inputs of the build of c's overlay on
// repo, with the component as committed: the hash a record must hold to
// be taken (see [Holds]): the build recorded then still holds, because
// nothing it reads changed. The committed component's own recorded hash,
// if it records one, is left out of it (see AnnotationBuild). A record
// kept elsewhere for the same inputs is taken on this hash too. An error
// means the record or the inputs could not be read: the caller builds,
// and the build reports what is wrong.
func InputsHash(c *spec.Canary, repo fs.FS, committed *Committed) (string, error) {
	recorded := ""
	if committed != nil && committed.Build != "" {
		r, err := parseRecord(committed.Build)
		if err != nil {
			return "", fmt.Errorf("%s: annotation %s: %w", StateFile(c), AnnotationBuild, err)
		}
		recorded = r.Hash
	}
	return inputsHash(c, repo, nil, recorded)
}

// Record is the record of a build of base whose inputs hash to hash (see
// [InputsHash]), in the form of the build annotation.
func Record(base *Base, hash string) string { return recordOf(base, hash) }

// Holds parses record and returns it when it holds for inputs whose hash
// is hash; nil when it is for other inputs; an error when it is not a
// record.
func Holds(record, hash string) (*Recorded, error) {
	r, err := parseRecord(record)
	if err != nil {
		return nil, err
	}
	if r.Hash != hash {
		return nil, nil
	}
	return r, nil
}

// inputsHash hashes the inputs of the build of c's overlay on repo with
// files laid over it (nil: repo as it is). In the component directory's
// files, the recorded hash is replaced by the placeholder first.
func inputsHash(c *spec.Canary, repo fs.FS, files Files, recorded string) (string, error) {
	dir := ComponentDir(c)
	rec := &inputRecorder{exclude: dir}
	cp := &copier{repo: sandbox.New(repo), overrides: Files{}, refused: map[string]error{}, rec: rec}
	for p, data := range files {
		cp.overrides[p] = data
	}
	// The component is walked as one that changes nothing: it is the
	// output, hashed below as it is committed.
	cp.overrides[path.Join(dir, fileKustomization)] = emptyComponent
	if err := cp.copyRoots(c.Spec.Overlay); err != nil {
		return "", err
	}
	// The files laid over the tree, and the directories they create (the
	// first commit creates promoter's directory).
	for p, data := range cp.overrides {
		root := slices.IndexFunc(cp.copied, func(d string) bool { return within(p, d) })
		if data == nil || root < 0 {
			continue
		}
		rec.file(p, data)
		for d := path.Dir(p); d != "." && within(d, cp.copied[root]); d = path.Dir(d) {
			rec.dir(d)
		}
	}

	// The component as committed: its own files, not its subdirectories.
	component := map[string][]byte{}
	if entries, err := fs.ReadDir(repo, dir); err == nil {
		for _, e := range entries {
			if !e.IsDir() {
				p := path.Join(dir, e.Name())
				data, err := fs.ReadFile(repo, p)
				if err != nil {
					return "", err
				}
				component[p] = data
			}
		}
	}
	for p, data := range files {
		if path.Dir(p) == dir {
			if data == nil {
				delete(component, p)
			} else {
				component[p] = data
			}
		}
	}

	specData, err := fs.ReadFile(repo, c.Source.File)
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.Source.File, err)
	}
	sum := sha256.New()
	fmt.Fprintf(sum, "promoter build inputs\nrender %s\nkustomize %s\nspec %q %x\n", RenderVersion, kustomizeVersion(), c.Source.File, sha256.Sum256(specData))
	slices.Sort(rec.lines)
	for _, l := range slices.Compact(rec.lines) {
		sum.Write([]byte(l))
	}
	for _, p := range slices.Sorted(mapsKeys(component)) {
		data := string(component[p])
		if recorded != "" {
			data = strings.ReplaceAll(data, recorded, hashPlaceholder)
		}
		fmt.Fprintf(sum, "component %q %x\n", p, sha256.Sum256([]byte(data)))
	}
	return hashPrefix + hex.EncodeToString(sum.Sum(nil)), nil
}

func mapsKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// inputRecorder collects what the copier observes, outside exclude.
type inputRecorder struct {
	exclude string
	mu      sync.Mutex
	lines   []string
}

func (r *inputRecorder) add(kind, p, detail string) {
	if r == nil || within(p, r.exclude) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf("%s %q %s\n", kind, p, detail))
}

func (r *inputRecorder) dir(p string) { r.add("dir", p, "") }

// file records a file by its content's Git blob ID: the ID a Git tree
// lists for it (see blobIDOf), so that a file the walk only lists and one
// it reads count the same.
func (r *inputRecorder) file(p string, data []byte) {
	if r != nil {
		r.add("file", p, blobID(data))
	}
}

// blobID is Git's object ID of a blob with content data (SHA-1).
func blobID(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// blobIDOf is the blob ID a directory listing gives for a regular file
// (a Git tree's entries do, see gitops), or "" when it gives none.
func blobIDOf(d fs.DirEntry) string {
	info, err := d.Info()
	if err != nil {
		return ""
	}
	b, ok := info.(interface{ BlobID() string })
	if !ok {
		return ""
	}
	if id := b.BlobID(); len(id) == 2*sha1.Size {
		return id
	}
	return "" // another object format: the content is read and hashed
}

// result records the outcome of a read or a test: ok, absent, the
// sandbox's reason for a refusal, or another error. Only the class of a
// missing path is recorded, not its message, which differs between
// filesystems (a checkout, a Git tree, the in-memory trees of tests)
// holding the same files.
func (r *inputRecorder) result(kind, p string, err error) {
	if r == nil {
		return
	}
	var refused *sandbox.RefusedError
	switch {
	case err == nil:
		r.add(kind, p, "ok")
	case errors.Is(err, fs.ErrNotExist):
		r.add(kind, p, "absent")
	case errors.As(err, &refused):
		r.add(kind, p, "refused "+refused.Reason)
	default:
		r.add(kind, p, "error "+err.Error())
	}
}

// kustomizeAPI is the kustomize API module promoter builds with, as go.sum
// records it (a test holds it to go.mod and go.sum). It is a constant, not
// read from the binary's build information, so that every build of
// promoter (tests included, which carry no dependency list) hashes alike.
const kustomizeAPI = "v0.21.2 h1:MRyw+zLnFBP+G40gZJoKZErAuRiOPEPao+ddS9L6xt4="

func kustomizeVersion() string { return kustomizeAPI }

// builds counts kustomize builds (see BuildCount).
var builds atomic.Uint64

// BuildCount is the number of kustomize builds this process has run: what
// tests and benchmarks use to see which runs built.
func BuildCount() uint64 { return builds.Load() }
