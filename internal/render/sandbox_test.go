package render

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/fstest"
)

const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: b\n"

// onDisk writes files into a new directory; values starting with "-> "
// are symlinks.
func onDisk(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "-> "); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A symlink that leaves the repository is never read, whichever field
// reaches it: the environment of the process (and its tokens) stays out
// of the build.
func TestBuildRefusesSymlinksThatLeaveTheRepository(t *testing.T) {
	t.Setenv("PROMOTER_TEST_SECRET", "tok-SANDBOX-LEAK")
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "cm.yaml"), []byte(cm), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"environ through a generator", map[string]string{
			"base/kustomization.yaml": "configMapGenerator:\n- name: leak\n  files:\n  - env\n",
			"base/env":                "-> /proc/self/environ",
		}},
		{"passwd as a resource", map[string]string{
			"base/kustomization.yaml": "resources:\n- passwd\n",
			"base/passwd":             "-> /etc/passwd",
		}},
		{"relative escape", map[string]string{
			"base/kustomization.yaml": "resources:\n- cm.yaml\n",
			"base/cm.yaml":            "-> ../../" + filepath.Base(outside) + "/cm.yaml",
		}},
		{"directory outside", map[string]string{
			"base/kustomization.yaml": "resources:\n- ext/cm.yaml\n",
			"base/ext":                "-> " + outside,
		}},
		{"base through a symlinked directory", map[string]string{
			"base/kustomization.yaml": "resources:\n- ../ext\n",
			"ext":                     "-> " + outside,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := onDisk(t, tt.files)
			out, err := Build(os.DirFS(dir), "base", nil)
			if err == nil {
				t.Fatalf("built:\n%s", out)
			}
			if strings.Contains(err.Error(), "tok-SANDBOX-LEAK") || strings.Contains(err.Error(), "root:") {
				t.Fatalf("the error shows what it read: %v", err)
			}
			if !strings.Contains(err.Error(), "leaves the repository") {
				t.Errorf("the error does not say why: %v", err)
			}
		})
	}
}

// Entries the build does not reach do not block it, whatever they are; an
// entry the build reaches is reported as what it is.
func TestBuildIgnoresUnreferencedOddEntries(t *testing.T) {
	dir := onDisk(t, map[string]string{
		"base/kustomization.yaml": "resources:\n- cm.yaml\n",
		"base/cm.yaml":            cm,
		"base/zero":               "-> /dev/zero",
		"base/gone":               "-> nowhere.yaml",
		"base/environ":            "-> /proc/self/environ",
		"base/inside":             "-> cm.yaml",
		"base/laughs.yaml":        billionLaughs,
	})
	if err := syscall.Mkfifo(filepath.Join(dir, "base", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Build(os.DirFS(dir), "base", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("name: plain")) {
		t.Errorf("unexpected output:\n%s", out)
	}
	for ref, want := range map[string]string{
		"gone":        "a dangling symlink (base/gone -> nowhere.yaml)",
		"zero":        "leaves the repository",
		"fifo":        "named pipe",
		"laughs.yaml": "aliases",
	} {
		k := "resources:\n- " + ref + "\n"
		if ref == "fifo" {
			k = "configMapGenerator:\n- name: x\n  files:\n  - fifo\n"
		}
		_, err := Build(os.DirFS(dir), "base", Files{"base/kustomization.yaml": []byte(k)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error saying %q", ref, err, want)
		}
	}
	// A symlink inside the repository is followed, as kustomize does.
	out, err = Build(os.DirFS(dir), "base", Files{"base/kustomization.yaml": []byte("resources:\n- inside\n")})
	if err != nil || !bytes.Contains(out, []byte("name: plain")) {
		t.Errorf("symlink inside the repository: %v\n%s", err, out)
	}
}

// The same holds for a committed tree: a symlink blob that is not reached
// does not block the build, a dangling one that is reached is named.
func TestBuildOnATreeWithSymlinks(t *testing.T) {
	repo := fstest.MapFS{
		"base/kustomization.yaml": {Data: []byte("resources:\n- cm.yaml\n")},
		"base/cm.yaml":            {Data: []byte(cm)},
		"base/zero":               {Data: []byte("/dev/zero"), Mode: os.ModeSymlink},
		"base/gone":               {Data: []byte("nowhere.yaml"), Mode: os.ModeSymlink},
	}
	if _, err := Build(repo, "base", nil); err != nil {
		t.Fatal(err)
	}
	_, err := Build(repo, "base", Files{"base/kustomization.yaml": []byte("resources:\n- gone\n")})
	if err == nil || !strings.Contains(err.Error(), "dangling symlink") {
		t.Errorf("got %v, want the dangling symlink named", err)
	}
}

// billionLaughs is about 600 bytes that expand to 9^9 strings.
const billionLaughs = `apiVersion: v1
kind: ConfigMap
metadata: {name: lol}
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

// A file over the size limit is refused when reached.
func TestBuildRefusesLargeFiles(t *testing.T) {
	big := bytes.Repeat([]byte("# padding\n"), 1<<20) // 10 MiB
	repo := fstest.MapFS{
		"base/kustomization.yaml": {Data: []byte("resources:\n- big.yaml\n")},
		"base/big.yaml":           {Data: big},
	}
	_, err := Build(repo, "base", nil)
	if err == nil || !strings.Contains(err.Error(), "larger than the limit") {
		t.Errorf("got %v, want the size limit named", err)
	}
}

// Every remote form kustomize accepts, in every field it loads from, is
// refused before kustomize sees it: a fake git on PATH and a listening
// HTTP server record no call, and no clone directory is left behind.
func TestBuildNeverFetches(t *testing.T) {
	var hits atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, cm)
	})}}
	srv.Start()
	defer srv.Close()
	u := srv.URL
	bin, gitLog := fakeGit(t)
	t.Setenv("PATH", bin)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, k := range remoteForms(u) {
		repo := remoteRepo(k, u)
		if _, err := Build(repo, "base", nil); !errors.Is(err, ErrBuild) {
			t.Errorf("%q: got %v, want a build error", k, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the HTTP server got %d requests", n)
	}
	if calls, err := os.ReadFile(gitLog); err == nil {
		t.Errorf("git ran:\n%s", calls)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
}

// A kustomization nested in an overlay whose resources reach out of the
// nested root (still inside the repository) builds, and as the kustomize
// CLI builds it.
func TestNestedKustomizationReachingOutBuildsAsTheCLI(t *testing.T) {
	files := map[string]string{
		"base/kustomization.yaml":                 "resources:\n- cm.yaml\n",
		"base/cm.yaml":                            cm,
		"envs/prod/overlay/kustomization.yml":     "resources:\n- app\nnamePrefix: prod-\n",
		"envs/prod/overlay/app/kustomization.yml": "resources:\n- ../../../../base\n- extra.yaml\nlabels:\n- pairs: {tier: app}\n",
		"envs/prod/overlay/app/extra.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
		"envs/prod/overlay/app/broken-link":       "-> /dev/zero",
	}
	dir := onDisk(t, files)
	got, err := Build(os.DirFS(dir), "envs/prod/overlay", nil)
	if err != nil {
		t.Fatal(err)
	}
	bin := kustomizeCLI(t)
	cmd := exec.Command(bin, "build", filepath.Join(dir, "envs/prod/overlay"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build: %v\n%s", err, stderr.String())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("kustomize CLI and promoter disagree:\n--- CLI\n%s\n--- promoter\n%s", want, got)
	}
}

// remoteForms are kustomization files (of base/, see remoteRepo) that
// reference u, the URL of a listening server, in every remote form
// kustomize accepts and every field it loads from.
func remoteForms(u string) []string {
	host := strings.TrimPrefix(u, "http://")
	return []string{
		"resources:\n- deploy@" + host + ":org/repo.git\n",
		"resources:\n- git::git@" + host + ":org/repo\n",
		"resources:\n- git::" + u + "/org/repo\n",
		"resources:\n- github.com:org/repo\n",
		"resources:\n- github.com/org/repo\n",
		"resources:\n- GITHUB.COM/org/repo/base\n",
		"resources:\n- ssh://git@" + host + "/org/repo\n",
		"resources:\n- " + u + "/cm.yaml\n",
		"resources:\n- file:///etc/\n",
		"components:\n- " + u + "/org/repo//component?ref=v1\n",
		"bases:\n- " + u + "/org/repo\n",
		"resources:\n- cm.yaml\npatches:\n- path: " + u + "/patch.yaml\n",
		"resources:\n- cm.yaml\npatchesStrategicMerge:\n- " + u + "/patch.yaml\n",
		"resources:\n- cm.yaml\npatchesJson6902:\n- target: {kind: ConfigMap, name: plain}\n  path: " + u + "/p.json\n",
		"configMapGenerator:\n- name: x\n  files:\n  - k=" + u + "/f\n",
		"configMapGenerator:\n- name: x\n  envs:\n  - " + u + "/env\n",
		"resources:\n- cm.yaml\nopenapi:\n  path: " + u + "/schema.json\n",
		"resources:\n- cm.yaml\ncrds:\n- " + u + "/crd.json\n",
		"resources:\n- cm.yaml\nconfigurations:\n- " + u + "/conf.yaml\n",
		"resources:\n- cm.yaml\nreplacements:\n- path: " + u + "/r.yaml\n",
		"generators:\n- |-\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata: {name: g}\n  files:\n  - " + u + "/f\n",
		"generators:\n- gen.yaml\n",
		"transformers:\n- " + u + "/t.yaml\n",
		"helmCharts:\n- name: x\n  repo: " + u + "\n",
	}
}

// remoteRepo is a repository whose base/ has kustomization k.
func remoteRepo(k, u string) fstest.MapFS {
	return fstest.MapFS{
		"base/kustomization.yaml": {Data: []byte(k)},
		"base/cm.yaml":            {Data: []byte(cm)},
		"base/gen.yaml":           {Data: []byte("apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: " + u + "/patch.yaml\n")},
	}
}

// fakeGit writes a git into a new directory that logs its arguments to
// the returned file and fails, and returns the directory and the log.
func fakeGit(t *testing.T) (bin, calls string) {
	t.Helper()
	bin = t.TempDir()
	calls = filepath.Join(bin, "calls")
	fake := "#!/bin/sh\necho \"$@\" >> " + calls + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, calls
}
