package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// validate renders custom query templates against the spec's values: one
// that cannot run is reported with file, line and field.
func TestValidateRendersCustomQueries(t *testing.T) {
	gate := "      - {name: regression, type: sequential, alpha: 0.05}\n"
	dir := exampleEdited(t, "apps/myapp/canary.yaml", func(data []byte) []byte {
		if !bytes.Contains(data, []byte(gate)) {
			t.Fatal("the example has changed")
		}
		return bytes.Replace(data, []byte(gate), []byte(gate+
			"      - {name: typo, type: custom, max: 1, query: 'sum(up{namespace=\"{{ .Nmespace }}\"})'}\n"+
			"      - {name: loop, type: custom, max: 1, query: '{{ range 100000000000 }}x{{ end }}'}\n"+
			"      - {name: file, type: custom, max: 1, query: '{{ readFile \"/etc/passwd\" }}'}\n"), 1)
	})
	code, out, errs := run("--repo", dir, "validate")
	if code != exitError {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"apps/myapp/canary.yaml:32: spec.analysis.gates[4].query: query template: line 1: {{ .Nmespace }} is not a field",
		"apps/myapp/canary.yaml:33: spec.analysis.gates[5].query: query template: ",
		`apps/myapp/canary.yaml:34: spec.analysis.gates[6].query: query template: template: query:1: function "readFile" not defined`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s%s", want, out, errs)
		}
	}
}

// SIGTERM ends a pass stuck on a Git server that stopped answering within
// the grace period: exit 1 and a message naming where it was stuck.
func TestSIGTERMEndsAStuckPass(t *testing.T) {
	bin, err := exec.LookPath("promoter-main")
	if err != nil {
		t.Fatalf("the test binary's promoter-main is not on PATH: %v", err)
	}
	release := make(chan struct{})
	// arrived gets a value when a clone reaches the server.
	arrived := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	for _, args := range [][]string{{"watch", "--interval", "1h"}, {"run"}} {
		for len(arrived) > 0 { // what the previous command's requests left
			<-arrived
		}
		cmd := exec.Command(bin, append([]string{"--repo", srv.URL + "/repo.git"}, args...)...)
		cmd.Env = append(os.Environ(), "PROMOTER_SHUTDOWN_GRACE=2s", "TMPDIR="+t.TempDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The clone is under way, and stuck (however long a loaded
		// machine takes to get there).
		select {
		case <-arrived:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			t.Fatalf("%v: the clone did not reach the server in 2m", args)
		}
		start := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: still running 30s after SIGTERM", args)
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitError {
			t.Errorf("%v: %v after SIGTERM, want exit 1\n%s", args, err, stderr.String())
		}
		if args[0] == "watch" && !strings.Contains(stderr.String(), "Stuck in: internal/gitops.") {
			t.Errorf("%v: the message does not name what hung:\n%s", args, stderr.String())
		}
		t.Logf("%v ended %s after SIGTERM:\n%s", args, time.Since(start).Round(time.Millisecond), stderr.String())
	}
}

// An image that is not an image reference is refused before anything is
// committed.
func TestStartRefusesInvalidImages(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	bare := seedExample(t, srv, "direct")
	before := gittest.Git(t, bare, "rev-parse", "main")
	for _, image := range []string{" ", "myapp v3", "myapp:v3\nevil: true", "MyApp:v3", "myapp:", "@sha256:abc"} {
		code, out, errs := run("--repo", srv.RepoURL("repo"), "start", "myapp", "--image", image)
		if code != exitError || !strings.Contains(errs, "not a valid image reference") {
			t.Errorf("--image %q: exit %d\n%s%s", image, code, out, errs)
		}
	}
	if after := gittest.Git(t, bare, "rev-parse", "main"); after != before {
		t.Errorf("main moved from %s to %s", before, after)
	}
	if code, out, errs := run("--repo", srv.RepoURL("repo"), "start", "myapp", "--image", "ghcr.io/org/myapp:v3@sha256:"+strings.Repeat("a", 64)); code != 0 {
		t.Errorf("a valid reference: exit %d\n%s%s", code, out, errs)
	}
}

// A base symlink to the process's environment, listed by a generator,
// fails `render --build` and `validate` without printing the token.
func TestRenderBuildDoesNotLeakTheEnvironment(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", "ghs_ENVIRON_LEAK_CHECK")
	t.Setenv("GITHUB_REPOSITORY", "") // no repository to check merge methods against: stay offline
	dir := exampleEdited(t, "apps/myapp/base/kustomization.yaml", func(data []byte) []byte {
		return append(data, "configMapGenerator:\n  - name: leak\n    files:\n      - env\n"...)
	})
	if err := os.Symlink("/proc/self/environ", filepath.Join(dir, "apps/myapp/base/env")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"render", "myapp", "--build"}, {"validate"}} {
		code, out, errs := run(append([]string{"--repo", dir}, args...)...)
		if code != exitError {
			t.Errorf("%v: exit %d", args, code)
		}
		if strings.Contains(out+errs, "ENVIRON_LEAK_CHECK") {
			t.Fatalf("%v printed the environment:\n%s%s", args, out, errs)
		}
		if !strings.Contains(out+errs, "/proc/self/environ) that leaves the repository") {
			t.Errorf("%v: the error does not say why:\n%s%s", args, out, errs)
		}
	}
}

// Unreferenced committed symlinks in a base (one to /dev/zero, one
// dangling) do not block run, as they do not block kustomize.
func TestRunIgnoresUnreferencedCommittedSymlinks(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	src := t.TempDir()
	if err := os.CopyFS(src, os.DirFS("../../examples/repo")); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"zero": "/dev/zero", "gone": "nowhere.yaml"} {
		if err := os.Symlink(target, filepath.Join(src, "apps/myapp/base", name)); err != nil {
			t.Fatal(err)
		}
	}
	bare := srv.SeedDir(t, "repo", "main", src)
	if got := gittest.Git(t, bare, "ls-tree", "main", "apps/myapp/base/zero"); !strings.HasPrefix(got, "120000") {
		t.Fatalf("the symlink was not committed as one: %q", got)
	}
	code, out, errs := run("--repo", srv.RepoURL("repo"), "--now", "2026-03-02T09:00:00Z", "run")
	if code != 0 || !strings.Contains(out, "myapp: start 0% -> 5%") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

// exampleEdited copies examples/repo into a temporary directory, rewrites
// the file at rel (slash-separated, relative to the repository) with edit,
// and returns the directory.
func exampleEdited(t *testing.T, rel string, edit func([]byte) []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../examples/repo")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, filepath.FromSlash(rel))
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, edit(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
