package gitops_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// manyFiles is a tree of n applications with a few files each, nested a
// few directories deep.
func manyFiles(n int, version string) map[string]string {
	files := map[string]string{"README.md": "readme " + version + "\n"}
	for i := range n {
		app := fmt.Sprintf("apps/app-%03d", i)
		files[app+"/canary.yaml"] = fmt.Sprintf("name: app-%03d\nversion: %s\n", i, version)
		files[app+"/base/deploy.yaml"] = fmt.Sprintf("kind: Deployment\nname: app-%03d\n", i)
		files[app+"/base/kustomization.yaml"] = "resources: [deploy.yaml]\n"
	}
	return files
}

// checkFS reads every file of want through fsys, and lists and stats its
// directories, failing on any difference.
func checkFS(t *testing.T, fsys fs.FS, want map[string]string) {
	t.Helper()
	for p, content := range want {
		data, err := fs.ReadFile(fsys, p)
		if err != nil || string(data) != content {
			t.Errorf("ReadFile(%s) = %q, %v; want %q", p, data, err, content)
		}
		info, err := fs.Stat(fsys, p)
		if err != nil || info.Size() != int64(len(content)) || info.IsDir() {
			t.Errorf("Stat(%s) = %v, %v; want a file of %d bytes", p, info, err, len(content))
		}
		dir := filepath.ToSlash(filepath.Dir(p))
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil || !containsName(entries, filepath.Base(p)) {
			t.Errorf("ReadDir(%s) = %v, %v; want it to list %s", dir, entries, err, filepath.Base(p))
		}
	}
	if _, err := fs.Stat(fsys, "apps/no-such-app/canary.yaml"); !errorsIsNotExist(err) {
		t.Errorf("Stat of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func containsName(entries []fs.DirEntry, name string) bool {
	for _, e := range entries {
		if e.Name() == name {
			return true
		}
	}
	return false
}

func errorsIsNotExist(err error) bool { return err != nil && os.IsNotExist(err) }

// A snapshot's file system is read by the canaries of a pass at once; the
// race detector watches the shared trees and readers.
func TestSnapshotFSConcurrentReads(t *testing.T) {
	files := manyFiles(60, "v1")
	bare := gittest.Seed(t, filepath.Join(t.TempDir(), "repo.git"), "main", files)
	r := open(t, bare)
	tip, err := r.Tip(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fsys := tip.FS()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { checkFS(t, fsys, files) })
	}
	// Another FS of the same snapshot shares its trees.
	wg.Go(func() { checkFS(t, tip.FS(), files) })
	wg.Wait()
}

// A fetch adds a packfile after the readers listed the packfiles: the new
// tip reads through the same readers, and the old snapshot still reads
// the old commit.
func TestSnapshotFSAfterFetchAddsPackfile(t *testing.T) {
	ctx := context.Background()
	v1 := manyFiles(5, "v1")
	bare := gittest.Seed(t, filepath.Join(t.TempDir(), "repo.git"), "main", v1)
	r := open(t, bare)
	old, err := r.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkFS(t, old.FS(), v1) // opens readers and reads the packfile list
	packs := func() int {
		m, _ := filepath.Glob(filepath.Join(r.Dir(), "objects", "pack", "*.pack"))
		return len(m)
	}
	before := packs()

	v2 := manyFiles(5, "v2")
	v2["apps/app-new/canary.yaml"] = "name: app-new\n"
	gittest.CommitFiles(t, bare, "main", "edit every app", v2)
	if _, err := r.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if packs() <= before {
		t.Fatalf("the fetch added no packfile (%d before, %d after): the test tests nothing", before, packs())
	}
	tip, err := r.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkFS(t, tip.FS(), v2)
	checkFS(t, old.FS(), v1)
	if _, err := fs.Stat(old.FS(), "apps/app-new/canary.yaml"); !errorsIsNotExist(err) {
		t.Errorf("the old snapshot sees a file of the new commit: %v", err)
	}
}

// A commit promoter made itself is stored as loose objects, which the
// readers find too.
func TestSnapshotFSReadsLooseObjects(t *testing.T) {
	ctx := context.Background()
	bare := gittest.Seed(t, filepath.Join(t.TempDir(), "repo.git"), "main", seed)
	r := open(t, bare)
	tip, err := r.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkFS(t, tip.FS(), seed)
	c, err := r.Commit(ctx, tip.Commit.Hash, *change("apps/myapp/promoter/myapp", "canary(myapp): 0% -> 5%", map[string]string{
		"apps/myapp/promoter/myapp/kustomization.yaml": "kind: Component\n# 5\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.At(ctx, c.Hash)
	if err != nil {
		t.Fatal(err)
	}
	data, err := fs.ReadFile(snap.FS(), "apps/myapp/promoter/myapp/kustomization.yaml")
	if err != nil || string(data) != "kind: Component\n# 5\n" {
		t.Errorf("the new commit's file = %q, %v", data, err)
	}
	if _, err := fs.Stat(snap.FS(), "apps/myapp/promoter/myapp/old.yaml"); !errorsIsNotExist(err) {
		t.Errorf("a file the commit deleted: %v, want fs.ErrNotExist", err)
	}
}

// Close closes the packfiles the readers keep open; reading a snapshot
// afterwards is an error, not a crash.
func TestCloseClosesObjectReaders(t *testing.T) {
	ctx := context.Background()
	files := manyFiles(20, "v1")
	bare := gittest.Seed(t, filepath.Join(t.TempDir(), "repo.git"), "main", files)
	r := open(t, bare)
	tip, err := r.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { checkFS(t, tip.FS(), files) })
	}
	wg.Wait()
	if gitops.OpenObjectReaders(r) == 0 {
		t.Fatal("no object reader was opened")
	}
	packDir, err := filepath.EvalSymlinks(filepath.Join(r.Dir(), "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	if n := openFilesUnder(t, packDir); n == 0 {
		t.Fatalf("no packfile is held open under %s", packDir)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n := gitops.OpenObjectReaders(r); n != 0 {
		t.Errorf("%d object readers open after Close", n)
	}
	if n := openFilesUnder(t, packDir); n != 0 {
		t.Errorf("%d files under %s open after Close", n, packDir)
	}
	if _, err := fs.ReadFile(tip.FS(), "apps/app-001/base/deploy.yaml"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("ReadFile after Close: %v, want an error saying the repository is closed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// openFilesUnder counts the process's open files under dir, a path
// without symbolic links (Linux).
func openFilesUnder(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}

// Every fetch adds a packfile; a Repo that fetched many times reads its
// snapshots with a bounded number of packfiles open.
func TestObjectReadersBoundOpenPackfiles(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{"README.md": "v0\n"}
	bare := gittest.Seed(t, filepath.Join(t.TempDir(), "repo.git"), "main", files)
	r := open(t, bare)
	for i := range 20 {
		p := fmt.Sprintf("apps/app-%02d/canary.yaml", i)
		files[p] = fmt.Sprintf("name: app-%02d\n", i)
		gittest.CommitFiles(t, bare, "main", "add "+p, map[string]string{p: files[p]})
		if _, err := r.Fetch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	packDir, err := filepath.EvalSymlinks(filepath.Join(r.Dir(), "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	if packs, _ := filepath.Glob(filepath.Join(packDir, "*.pack")); len(packs) <= 16 {
		t.Fatalf("%d packfiles: the test needs more than a reader keeps open", len(packs))
	}
	tip, err := r.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkFS(t, tip.FS(), files) // one reader: the reads are sequential
	if n := gitops.OpenObjectReaders(r); n != 1 {
		t.Fatalf("%d readers open after sequential reads, want 1", n)
	}
	if n := openFilesUnder(t, packDir); n > 16 {
		t.Errorf("%d files open under %s, want at most 16", n, packDir)
	}
}
