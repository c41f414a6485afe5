package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/promoter-dev/promoter/internal/sandbox"
)

// buildMu serialises kustomize builds (see Build).
var buildMu sync.Mutex

// ErrBuild marks an overlay that does not build: the repository is broken
// and promoter reports it rather than guessing a fix.
var ErrBuild = errors.New("overlay does not build")

// BuildError is a failed kustomize build of an overlay.
type BuildError struct {
	Overlay string
	Err     error
}

func (e *BuildError) Error() string {
	msg := fmt.Sprintf("kustomize build %s: %v", e.Overlay, e.Err)
	if strings.Contains(msg, "test failed") && strings.Contains(msg, "/promoter/") {
		msg += "\n(a guarded patch of promoter's component no longer matches: the base changed since the component was rendered; promoter re-renders it on its next run)"
	}
	return msg
}

func (e *BuildError) Unwrap() []error { return []error{ErrBuild, e.Err} }

// Files maps repository-relative slash paths to file contents. A nil
// content means the file is deleted.
type Files map[string][]byte

// Paths returns the paths of f, sorted.
func (f Files) Paths() []string {
	ps := make([]string, 0, len(f))
	for p := range f {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// Build runs kustomize (krusty, in-process) on the overlay directory of
// repo, with overrides written over the repository's files, and returns the
// built manifests as a YAML stream.
//
// Only the kustomization roots the overlay reaches are read from repo, so
// the cost does not grow with the repository. The build runs on an
// in-memory copy of those roots made through the sandbox (see
// internal/sandbox and sandbox.go): no file outside the repository, and
// no remote reference (and, in a process locked down by internal/lockdown
// as the binary is, no network and no subprocess whatever the reference).
// Plugins are disabled, files are loaded only from inside each
// kustomization root, and a panic inside kustomize becomes an error.
func Build(repo fs.FS, overlay string, overrides Files) (out []byte, err error) {
	return build(repo, overlay, overrides, true)
}

// build is Build; with refuseRemote false, references that look remote
// are left to kustomize (for the tests that show the process lockdown,
// not this textual rule, keeps a build off the network and from running
// git).
func build(repo fs.FS, overlay string, overrides Files, refuseRemote bool) (out []byte, err error) {
	builds.Add(1)
	mem := filesys.MakeFsInMemory()
	c := &copier{repo: sandbox.New(repo), mem: mem, overrides: overrides, refused: map[string]error{}, allowRemote: !refuseRemote}
	if err := c.copyRoots(overlay); err != nil {
		return nil, &BuildError{Overlay: overlay, Err: err}
	}
	for _, p := range overrides.Paths() {
		abs := "/" + p
		if overrides[p] == nil {
			_ = mem.RemoveAll(abs)
			continue
		}
		if err := mem.MkdirAll(path.Dir(abs)); err != nil {
			return nil, err
		}
		if err := mem.WriteFile(abs, overrides[p]); err != nil {
			return nil, err
		}
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &BuildError{Overlay: overlay, Err: fmt.Errorf("kustomize panicked: %v", r)}
		}
	}()
	// kustomize keeps global state (kyaml's OpenAPI schema, initialised
	// lazily) that is not safe for concurrent builds: one build at a time.
	buildMu.Lock()
	defer buildMu.Unlock()
	opts := krusty.MakeDefaultOptions()
	opts.PluginConfig = types.DisabledPluginConfig()
	opts.LoadRestrictions = types.LoadRestrictionsRootOnly
	opts.Reorder = krusty.ReorderOptionLegacy // what `kustomize build` does by default
	m, err := krusty.MakeKustomizer(opts).Run(mem, "/"+overlay)
	if err != nil {
		return nil, &BuildError{Overlay: overlay, Err: c.explain(err)}
	}
	out, err = m.AsYaml()
	if err != nil {
		return nil, &BuildError{Overlay: overlay, Err: err}
	}
	return out, nil
}
