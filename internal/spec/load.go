package spec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// IsSpecFile reports whether a file name is a spec file's: canary.yaml or
// *.canary.yaml (and the .yml spellings).
func IsSpecFile(name string) bool {
	for _, ext := range []string{".yaml", ".yml"} {
		if name == "canary"+ext || strings.HasSuffix(name, ".canary"+ext) {
			return true
		}
	}
	return false
}

// skipDir reports directories discovery never enters.
func skipDir(name string) bool {
	return name == ".git" || name == "vendor"
}

// FileLister is an fs.FS that can list its files in one pass (a Git tree
// does it without decoding each directory twice). Discover uses it when
// fsys has it.
type FileLister interface {
	// ListFiles returns the slash paths of the files for which keep is
	// true, skipping directories for which skip is true.
	ListFiles(keep func(path string) bool, skip func(dir string) bool) ([]string, error)
}

// Discover returns the slash paths of every spec file in fsys, sorted.
func Discover(ctx context.Context, fsys fs.FS) ([]string, error) {
	if l, ok := fsys.(FileLister); ok {
		files, err := l.ListFiles(func(p string) bool { return IsSpecFile(path.Base(p)) }, func(dir string) bool { return skipDir(path.Base(dir)) })
		if err != nil {
			return nil, fmt.Errorf("finding canary specs: %w", err)
		}
		slices.Sort(files)
		return files, ctx.Err()
	}
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && skipDir(d.Name()) {
				return fs.SkipDir
			}
			return ctx.Err()
		}
		if IsSpecFile(d.Name()) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding canary specs: %w", err)
	}
	slices.Sort(files)
	return files, nil
}

// Load discovers, parses, normalises and validates every Canary in fsys. It
// returns the valid canaries sorted by name, and a *ValidationError listing
// every problem in every file (including duplicate names), or an I/O error.
// It reads the files concurrently, one per CPU at a time (an fs.FS is safe
// for concurrent reads, as os.DirFS and fstest.MapFS are), and reports
// them in the order of their paths all the same.
func Load(ctx context.Context, fsys fs.FS) ([]*Canary, error) {
	files, err := Discover(ctx, fsys)
	if err != nil {
		return nil, err
	}
	type loaded struct {
		cs  []*Canary
		err error
	}
	results := make([]loaded, len(files))
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				results[i].cs, results[i].err = loadFileSafely(fsys, files[i])
			}
		})
	}
	wg.Wait()
	var (
		out  []*Canary
		errs []error
	)
	for _, r := range results {
		out = append(out, r.cs...)
		errs = append(errs, r.err)
	}
	out, err = dedupe(out)
	errs = append(errs, err)
	return out, Join(errs...)
}

// loadFileSafely is LoadFile with a panic (a bug) reported as the file's
// error: it runs on a goroutine of Load's, where no caller could recover it.
func loadFileSafely(fsys fs.FS, file string) (cs []*Canary, err error) {
	defer func() {
		if r := recover(); r != nil {
			cs, err = nil, fmt.Errorf("%s: internal error: %v", file, r)
		}
	}()
	return LoadFile(fsys, file)
}

// LoadFile parses, normalises and validates the canaries of one file,
// including that the overlay stays inside fsys. Only valid canaries are
// returned.
func LoadFile(fsys fs.FS, file string) ([]*Canary, error) {
	f, err := fsys.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading canary spec: %w", err)
	}
	defer f.Close()
	cs, err := Parse(f, file)
	if err != nil {
		return nil, err
	}
	var (
		valid []*Canary
		errs  []error
	)
	for _, c := range cs {
		c.Normalize()
		verr := c.Validate()
		if verr == nil {
			verr = checkOverlay(fsys, c)
		}
		if verr != nil {
			errs = append(errs, verr)
			continue
		}
		valid = append(valid, c)
	}
	return valid, Join(errs...)
}

// dedupe reports canaries that share a name; the first (by file) is kept.
func dedupe(cs []*Canary) ([]*Canary, error) {
	slices.SortStableFunc(cs, func(a, b *Canary) int { return strings.Compare(a.Metadata.Name, b.Metadata.Name) })
	var (
		out      []*Canary
		problems []Problem
	)
	for i, c := range cs {
		if i > 0 && cs[i-1].Metadata.Name == c.Metadata.Name {
			first := out[len(out)-1]
			problems = append(problems, Problem{
				File: c.Source.File, Line: c.Source.LineOf("metadata.name"), Field: "metadata.name",
				Message: fmt.Sprintf("%q is already the name of the canary in %s:%d", c.Metadata.Name, first.Source.File, first.Source.LineOf("metadata.name")),
			})
			continue
		}
		out = append(out, c)
	}
	if len(problems) > 0 {
		return out, &ValidationError{Problems: problems}
	}
	return out, nil
}

// checkOverlay makes sure the overlay directory exists inside fsys and that
// no symbolic link on the way leads out of it.
func checkOverlay(fsys fs.FS, c *Canary) error {
	fail := func(format string, args ...any) error {
		return &ValidationError{Problems: []Problem{{
			File: c.Source.File, Line: c.Source.LineOf("spec.overlay"), Field: "spec.overlay", Message: fmt.Sprintf(format, args...),
		}}}
	}
	resolved, err := resolveInside(fsys, path.Clean(c.Spec.Overlay))
	if err != nil {
		return fail("%q %v", c.Spec.Overlay, err)
	}
	info, err := fs.Stat(fsys, resolved)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail("%q does not exist in the repository", c.Spec.Overlay)
	case err != nil:
		return fail("%q: %v", c.Spec.Overlay, err)
	case !info.IsDir():
		return fail("%q is not a directory", c.Spec.Overlay)
	}
	return nil
}

// resolveInside follows symbolic links along p (when fsys can report them)
// and fails if any leads outside the root.
func resolveInside(fsys fs.FS, p string) (string, error) {
	rl, ok := fsys.(fs.ReadLinkFS)
	if !ok {
		return p, nil
	}
	parts := strings.Split(p, "/")
	cur := "."
	for hops := 0; len(parts) > 0; {
		next := path.Join(cur, parts[0])
		parts = parts[1:]
		info, err := rl.Lstat(next)
		if err != nil || info.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", errors.New("has too many levels of symbolic links")
		}
		target, err := rl.ReadLink(next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			return "", fmt.Errorf("is a symbolic link out of the repository (to %s)", target)
		}
		joined := path.Join(cur, target)
		if !inside(joined) {
			return "", fmt.Errorf("is a symbolic link out of the repository (to %s)", target)
		}
		parts = append(strings.Split(joined, "/"), parts...)
		cur = "."
	}
	return cur, nil
}
