package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
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
// the cost does not grow with the repository. Plugins are disabled, remote
// resources are refused, files are loaded only from inside each
// kustomization root, and a panic inside kustomize becomes an error.
func Build(repo fs.FS, overlay string, overrides Files) (out []byte, err error) {
	mem := filesys.MakeFsInMemory()
	if err := copyRoots(repo, mem, overlay, overrides); err != nil {
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
		return nil, &BuildError{Overlay: overlay, Err: err}
	}
	out, err = m.AsYaml()
	if err != nil {
		return nil, &BuildError{Overlay: overlay, Err: err}
	}
	return out, nil
}

// copyRoots copies into mem every kustomization root reachable from dir
// (the root's whole subtree), following resources, components and bases
// that name directories. Overrides are consulted first so that a component
// being rendered is followed as it will be.
func copyRoots(repo fs.FS, mem filesys.FileSystem, dir string, overrides Files) error {
	seen := map[string]bool{}
	var copied []string
	var visit func(dir string, chain []string) error
	visit = func(dir string, chain []string) error {
		dir = path.Clean(dir)
		if !inside(dir) {
			return fmt.Errorf("%s: leaves the repository", dir)
		}
		if seen[dir] {
			return nil
		}
		seen[dir] = true
		// A kustomization nested in a tree copied already is not copied
		// again, but its references are followed: they may leave it.
		nested := slices.ContainsFunc(copied, func(root string) bool { return within(dir, root) })
		if !nested {
			if err := copyTree(repo, mem, dir, overrides); err != nil {
				return err
			}
			copied = append(copied, dir)
		}
		k, file, err := readKustomization(repo, dir, overrides)
		if err != nil {
			return err
		}
		refs := slices.Concat(k.Resources, k.Components, k.Bases) //nolint:staticcheck // bases are still accepted by kustomize
		for _, ref := range refs {
			if isRemote(ref) {
				return fmt.Errorf("%s: remote resource %q is not supported: vendor it into the repository", file, ref)
			}
			target := path.Join(dir, ref)
			if !inside(target) {
				return fmt.Errorf("%s: %q leaves the repository", file, ref)
			}
			if isDir(repo, target, overrides) {
				if err := visit(target, append(chain, dir)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return visit(dir, nil)
}

// readKustomization parses the kustomization file of dir.
func readKustomization(repo fs.FS, dir string, overrides Files) (*types.Kustomization, string, error) {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		p := path.Join(dir, name)
		data, err := readFile(repo, p, overrides)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, p, err
		}
		var k types.Kustomization
		if err := yaml.Unmarshal(data, &k); err != nil {
			return nil, p, fmt.Errorf("%s: %w", p, err)
		}
		return &k, p, nil
	}
	return nil, dir, fmt.Errorf("%s: no kustomization.yaml", dir)
}

func readFile(repo fs.FS, p string, overrides Files) ([]byte, error) {
	if data, ok := overrides[p]; ok {
		if data == nil {
			return nil, fs.ErrNotExist
		}
		return data, nil
	}
	return fs.ReadFile(repo, p)
}

func isDir(repo fs.FS, p string, overrides Files) bool {
	for o := range overrides {
		if strings.HasPrefix(o, p+"/") {
			return true
		}
	}
	info, err := fs.Stat(repo, p)
	return err == nil && info.IsDir()
}

// copyTree copies the files under dir (but no .git directories) into mem.
func copyTree(repo fs.FS, mem filesys.FileSystem, dir string, overrides Files) error {
	err := fs.WalkDir(repo, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return mem.MkdirAll("/" + p)
		}
		if _, ok := overrides[p]; ok {
			return nil
		}
		data, err := fs.ReadFile(repo, p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+p, data)
	})
	if errors.Is(err, fs.ErrNotExist) {
		for o := range overrides {
			if strings.HasPrefix(o, dir+"/") {
				return nil // a directory that exists only in the overrides
			}
		}
		return fmt.Errorf("%s: directory not found in the repository", dir)
	}
	return err
}

// isRemote reports kustomize references that would be fetched over the
// network (git repositories or HTTP URLs).
func isRemote(ref string) bool {
	return strings.Contains(ref, "://") || strings.HasPrefix(ref, "git@") ||
		strings.HasPrefix(ref, "github.com/") || strings.HasPrefix(ref, "gitlab.com/") ||
		strings.HasPrefix(ref, "bitbucket.org/")
}

func inside(p string) bool {
	p = path.Clean(p)
	return p != ".." && !strings.HasPrefix(p, "../") && !path.IsAbs(p)
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return dir == "." || p == dir || strings.HasPrefix(p, dir+"/")
}
