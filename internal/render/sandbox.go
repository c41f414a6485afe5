package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/promoter-dev/promoter/internal/sandbox"
	"github.com/promoter-dev/promoter/internal/spec"
)

// The build sandbox.
//
// kustomize (api v0.21.2) has no option to turn remote loading off: its
// loader fetches any reference it parses as a URL over HTTP (through
// http.DefaultTransport) and clones any reference it parses as a Git
// repository by running git from PATH. What keeps a build off the network
// and from running git is the process lockdown (internal/lockdown, applied
// by main): no program can start and the default transport refuses every
// request. The rule here is the first line, the one that explains itself:
// before the build, every path-valued field of every kustomization file
// and of every generator, transformer and validator configuration the
// build reads is checked, and a value that is not a plain relative path is
// refused with file, line and field. A plain path contains no ':' and no
// '@' and does not start with "github.com/": kustomize's URL and
// repository grammars all need one of those. The build then runs on an
// in-memory filesystem that holds only the kustomization roots the
// overlay reaches, copied through the sandbox view of the repository.
//
// Limits: MaxBuildBytes for everything one build copies, the sandbox's
// MaxFileBytes per file, and spec.MaxExpandedNodes for what any YAML document
// expands to through aliases.
const (
	// MaxBuildBytes bounds the bytes one build copies from the repository.
	MaxBuildBytes = 128 << 20
)

// ErrRemote marks a reference kustomize would fetch from the network.
var ErrRemote = errors.New("remote reference")

// remoteError is a reference a build refuses to fetch.
type remoteError struct {
	file      string
	line      int
	key, item string
}

func (e *remoteError) Error() string {
	return fmt.Sprintf("%s:%d: %s: remote resource %q is not supported: builds never use the network; vendor it into the repository", e.file, e.line, e.key, e.item)
}

func (e *remoteError) Is(target error) bool { return target == ErrRemote }

// copier copies the kustomization roots an overlay reaches into mem.
type copier struct {
	repo      *sandbox.FS
	mem       filesys.FileSystem
	overrides Files
	// copied are the directories whose subtree is in mem.
	copied []string
	// refused are entries left out of mem, and why: reported if the build
	// reaches them, harmless otherwise.
	refused map[string]error
	total   int64
	// allowRemote switches the textual rule of checkRef off (see build);
	// the zero value applies it.
	allowRemote bool
	// rec, when set, records what the copier observes (inputs.go); mem
	// is nil then and nothing is copied.
	rec *inputRecorder
}

// copyRoots copies every kustomization root reachable from dir (the
// root's whole subtree), following resources, components, bases,
// generators, transformers and validators that name directories, nested
// ones included. Overrides are consulted first so that a component being
// rendered is followed as it will be.
func (c *copier) copyRoots(dir string) error {
	seen := map[string]bool{}
	var visit func(dir string) error
	visit = func(dir string) error {
		dir = path.Clean(dir)
		if !inside(dir) {
			return fmt.Errorf("%s: leaves the repository", dir)
		}
		if seen[dir] {
			return nil
		}
		seen[dir] = true
		if !slices.ContainsFunc(c.copied, func(d string) bool { return within(dir, d) }) {
			if err := c.copyTree(dir); err != nil {
				return err
			}
			c.copied = append(c.copied, dir)
		}
		k, file, err := c.readKustomization(dir)
		if err != nil {
			return err
		}
		if !c.allowRemote && (len(k.HelmCharts) > 0 || k.HelmChartInflationGenerator != nil) { //nolint:staticcheck // still accepted by kustomize
			return fmt.Errorf("%s: helmCharts: inflating charts runs helm, which builds here never do: render the chart into the repository", file)
		}
		dirs, err := c.checkReferences(dir, file)
		if err != nil {
			return err
		}
		for _, target := range dirs {
			if err := visit(target); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(dir)
}

// referenceKeys are the kustomization and plugin-configuration fields whose
// values kustomize loads: files (ldr.Load) or roots (ldr.New).
var referenceKeys = map[string]bool{
	"resources": true, "components": true, "bases": true, "crds": true, "configurations": true,
	"generators": true, "transformers": true, "validators": true,
	"patchesStrategicMerge": true, "path": true, "paths": true,
	"files": true, "envs": true, "env": true,
	"valuesFile": true, "additionalValuesFiles": true, "chartHome": true, "repo": true,
}

// rootKeys are the fields whose entries may name a kustomization root.
var rootKeys = map[string]bool{"resources": true, "components": true, "bases": true, "generators": true, "transformers": true, "validators": true}

// inlineKeys are the fields whose entries may be inline YAML rather than
// paths.
var inlineKeys = map[string]bool{"generators": true, "transformers": true, "validators": true}

// checkReferences refuses every reference of dir's kustomization file that
// is not a plain relative path inside the repository, reads the generator,
// transformer and validator configurations it names to check theirs, and
// returns the directories it names as kustomization roots.
func (c *copier) checkReferences(dir, file string) ([]string, error) {
	data, err := c.readFile(file)
	if err != nil {
		return nil, err
	}
	var dirs []string
	err = c.scanDocs(file, data, func(key string, n *yaml.Node, inConfig bool) error {
		ref := n.Value
		if key == "patchesStrategicMerge" && strings.Contains(ref, "\n") {
			return nil // an inline patch, not a reference
		}
		if inlineKeys[key] && strings.Contains(ref, "\n") {
			// An inline configuration: its own references are checked.
			return c.scanDocs(file, []byte(ref), func(key string, n *yaml.Node, _ bool) error {
				return c.checkRef(dir, file, key, n)
			})
		}
		if err := c.checkRef(dir, file, key, n); err != nil {
			return err
		}
		if inConfig {
			return nil
		}
		target := path.Join(dir, refPath(key, ref))
		switch {
		case rootKeys[key] && c.isDir(target):
			dirs = append(dirs, target)
		case (key == "generators" || key == "transformers" || key == "validators") && c.isFile(target):
			cfg, err := c.readFile(target)
			if err != nil {
				return err
			}
			return c.scanDocs(target, cfg, func(key string, n *yaml.Node, _ bool) error {
				return c.checkRef(dir, target, key, n)
			})
		}
		return nil
	})
	return dirs, err
}

// refPath is the path part of a reference: generator file sources may be
// KEY=PATH.
func refPath(key, ref string) string {
	if key == "files" {
		if _, p, ok := strings.Cut(ref, "="); ok {
			return p
		}
	}
	return ref
}

// checkRef refuses a reference kustomize could fetch, or that leaves the
// repository, or that names a file the sandbox refused.
func (c *copier) checkRef(dir, file, key string, n *yaml.Node) error {
	ref := refPath(key, n.Value)
	if !c.allowRemote && (key == "repo" && ref != "" || strings.ContainsAny(ref, ":@") || hasPrefixFold(ref, "github.com/") || hasPrefixFold(ref, "git::")) {
		return &remoteError{file: file, line: n.Line, key: key, item: n.Value}
	}
	if path.IsAbs(ref) || key == "path" && strings.HasPrefix(ref, "/") {
		return fmt.Errorf("%s:%d: %s: %q is an absolute path: give a path relative to %s", file, n.Line, key, n.Value, dir)
	}
	target := path.Join(dir, ref)
	if !inside(target) {
		return fmt.Errorf("%s:%d: %s: %q leaves the repository", file, n.Line, key, n.Value)
	}
	if err, ok := c.refused[target]; ok {
		return fmt.Errorf("%s:%d: %s: %q: %w", file, n.Line, key, n.Value, err)
	}
	if _, ok := c.overrides[target]; !ok {
		_, _, err := c.repo.Resolve(target, true)
		c.rec.result("resolve", target, err)
		if errors.Is(err, sandbox.ErrRefused) {
			return fmt.Errorf("%s:%d: %s: %q: %w", file, n.Line, key, n.Value, err)
		}
	}
	return nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// scanDocs calls fn for every string under a reference key in the YAML
// stream data (a scalar value, or each entry of a sequence). inConfig is
// true below the top level of a document (a patch's path, a generator's
// files).
func (c *copier) scanDocs(file string, data []byte, fn func(key string, n *yaml.Node, inConfig bool) error) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if spec.ExpandedNodes(&doc) > spec.MaxExpandedNodes {
			return fmt.Errorf("%s:%d: the document expands to more than %d nodes through aliases; refusing to read it", file, doc.Line, spec.MaxExpandedNodes)
		}
		if err := scanNode(&doc, 0, fn); err != nil {
			return err
		}
	}
}

func scanNode(n *yaml.Node, depth int, fn func(key string, n *yaml.Node, inConfig bool) error) error {
	if n == nil || depth > 100 {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if err := scanNode(c, depth+1, fn); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if referenceKeys[k.Value] {
				vals := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					vals = v.Content
				}
				if v.Kind == yaml.MappingNode && k.Value == "path" {
					vals = nil
				}
				for _, s := range vals {
					if s.Kind == yaml.ScalarNode && s.Value != "" {
						if err := fn(k.Value, s, depth > 2); err != nil {
							return err
						}
					}
				}
			}
			if v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode {
				if err := scanNode(v, depth+1, fn); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// aliasBomb reports a YAML stream whose documents expand beyond the limit.
// Only streams with both an anchor and an alias are parsed.
func aliasBomb(data []byte) bool {
	if !bytes.Contains(data, []byte("&")) || !bytes.Contains(data, []byte("*")) {
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return false // not YAML, or the end: kustomize reports what is wrong
		}
		if spec.ExpandedNodes(&doc) > spec.MaxExpandedNodes {
			return true
		}
	}
}

// readKustomization parses the kustomization file of dir.
func (c *copier) readKustomization(dir string) (*types.Kustomization, string, error) {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		p := path.Join(dir, name)
		data, err := c.readFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, p, err
		}
		if aliasBomb(data) {
			return nil, p, fmt.Errorf("%s: a document expands to more than %d nodes through aliases; refusing to read it", p, spec.MaxExpandedNodes)
		}
		var k types.Kustomization
		if c.mem == nil {
			// Hashing (inputs.go) needs only the references, which
			// checkReferences reads. What the typed parse refuses here was
			// refused when the record was written, from the same content.
			return &k, p, nil
		}
		if err := k8syaml.Unmarshal(data, &k); err != nil {
			return nil, p, fmt.Errorf("%s: %w", p, err)
		}
		return &k, p, nil
	}
	_, _, err := c.repo.Resolve(dir, true)
	c.rec.result("resolve", dir, err)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, dir, err
	}
	return nil, dir, fmt.Errorf("%s: no kustomization.yaml", dir)
}

func (c *copier) readFile(p string) ([]byte, error) {
	data, err := c.read(p)
	if err != nil {
		c.rec.result("read", p, err)
	} else {
		c.rec.file(p, data)
	}
	return data, err
}

func (c *copier) read(p string) ([]byte, error) {
	if data, ok := c.overrides[p]; ok {
		if data == nil {
			return nil, fs.ErrNotExist
		}
		return data, nil
	}
	if err, ok := c.refused[p]; ok {
		return nil, err
	}
	return fs.ReadFile(c.repo, p)
}

func (c *copier) isDir(p string) bool {
	is := c.testDir(p)
	c.rec.add("isdir", p, fmt.Sprint(is))
	return is
}

func (c *copier) testDir(p string) bool {
	for o := range c.overrides {
		if strings.HasPrefix(o, p+"/") {
			return true
		}
	}
	info, err := fs.Stat(c.repo, p)
	return err == nil && info.IsDir()
}

func (c *copier) isFile(p string) bool {
	is := c.testFile(p)
	c.rec.add("isfile", p, fmt.Sprint(is))
	return is
}

func (c *copier) testFile(p string) bool {
	if data, ok := c.overrides[p]; ok {
		return data != nil
	}
	info, err := fs.Stat(c.repo, p)
	return err == nil && info.Mode().IsRegular()
}

// copyTree copies the files under dir (but no .git directories) into mem.
// An entry the sandbox refuses (a symlink leaving the repository, a
// dangling one, a device, a file over the size limit, an alias bomb) is
// left out and remembered: it fails the build only if the build reaches
// it, with the reason.
func (c *copier) copyTree(dir string) error {
	_, _, err := c.repo.Resolve(dir, true)
	c.rec.result("resolve", dir, err)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for o := range c.overrides {
			if strings.HasPrefix(o, dir+"/") {
				return nil // a directory that exists only in the overrides
			}
		}
		return fmt.Errorf("%s: directory not found in the repository", dir)
	}
	return fs.WalkDir(c.repo, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			c.refused[p] = err
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			if c.mem == nil {
				c.rec.dir(p)
				return nil
			}
			return c.mem.MkdirAll("/" + p)
		}
		if _, ok := c.overrides[p]; ok {
			return nil
		}
		defer func() {
			if why, ok := c.refused[p]; ok {
				c.rec.result("refused", p, why)
			}
		}()
		if c.mem == nil && d.Type().IsRegular() {
			// Hashing: a regular file counts by its content, which a Git
			// tree identifies without a read. What a build refuses of a
			// file's content (its size, an alias bomb) follows from it.
			if id := blobIDOf(d); id != "" {
				c.rec.add("file", p, id)
				return nil
			}
			data, err := fs.ReadFile(c.repo, p)
			if err != nil {
				c.rec.result("read", p, err)
			} else {
				c.rec.file(p, data)
			}
			return nil
		}
		if t := d.Type(); t&fs.ModeSymlink == 0 && !t.IsRegular() {
			if _, err := fs.Stat(c.repo, p); err != nil {
				c.refused[p] = err // names the kind of file
			} else {
				c.refused[p] = &sandbox.RefusedError{Path: p, Reason: "not a regular file or directory"}
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if info, err := fs.Stat(c.repo, p); err != nil {
				c.refused[p] = err
				return nil
			} else if info.IsDir() {
				c.refused[p] = &sandbox.RefusedError{Path: p, Reason: "a symlink to a directory, which builds do not follow"}
				return nil
			}
		}
		data, err := fs.ReadFile(c.repo, p)
		if err != nil {
			c.refused[p] = err
			return nil
		}
		if aliasBomb(data) {
			c.refused[p] = &sandbox.RefusedError{Path: p, Reason: fmt.Sprintf("a YAML document that expands to more than %d nodes through aliases", spec.MaxExpandedNodes)}
			return nil
		}
		if c.total += int64(len(data)); c.total > MaxBuildBytes {
			return fmt.Errorf("%s: the kustomization roots the overlay reaches hold more than %d bytes", dir, MaxBuildBytes)
		}
		if c.mem == nil {
			c.rec.file(p, data) // a symlink's target
			return nil
		}
		return c.mem.WriteFile("/"+p, data)
	})
}

// explain adds to a kustomize error the reason the sandbox refused an
// entry the error names.
func (c *copier) explain(err error) error {
	msg := err.Error()
	var reasons []string
	for p, why := range c.refused {
		if strings.Contains(msg, "/"+p) {
			reasons = append(reasons, why.Error())
		}
	}
	if len(reasons) == 0 {
		return err
	}
	slices.Sort(reasons)
	return fmt.Errorf("%w\n(%s)", err, strings.Join(reasons, "; "))
}

func inside(p string) bool {
	p = path.Clean(p)
	return p != ".." && !strings.HasPrefix(p, "../") && !path.IsAbs(p)
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return dir == "." || p == dir || strings.HasPrefix(p, dir+"/")
}
