package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// The binary (the test binary's promoter-main: main, lockdown included),
// given a repository whose base references a listening HTTP server and Git
// repositories in kustomize's remote forms, with PATH holding a fake git:
// `validate` and `render --build` fail naming file, line and field, git
// never runs, the server gets no request and TMPDIR stays empty. Its
// debug log says the lockdown is in place.
func TestBinaryBuildsRecordNoCalls(t *testing.T) {
	bin, err := exec.LookPath("promoter-main")
	if err != nil {
		t.Fatalf("the test binary's promoter-main is not on PATH: %v", err)
	}
	fakeBin := t.TempDir()
	calls := filepath.Join(fakeBin, "calls")
	if err := os.WriteFile(filepath.Join(fakeBin, "git"), []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n")
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, extra := range []string{
		"  - deploy@" + host + ":org/repo.git\n",
		"  - git::" + srv.URL + "/org/repo\n",
		"  - github.com/org/repo\n",
		"  - " + srv.URL + "/cm.yaml\n",
		"patches:\n  - path: " + srv.URL + "/patch.yaml\n",
		"configMapGenerator:\n  - name: fetched\n    files:\n      - " + srv.URL + "/f\n",
		"openapi:\n  path: " + srv.URL + "/schema.json\n",
	} {
		dir := exampleEdited(t, "apps/myapp/base/kustomization.yaml", func(data []byte) []byte {
			return append(data, extra...)
		})
		for _, args := range [][]string{{"validate"}, {"render", "myapp", "--build"}} {
			tmp := t.TempDir()
			cmd := exec.Command(bin, append([]string{"--repo", dir, "-v"}, args...)...)
			cmd.Env = append(os.Environ(), "PATH="+fakeBin, "TMPDIR="+tmp, "GITHUB_REPOSITORY=")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitError {
				t.Errorf("%q %v: %v, want exit 1\n%s", extra, args, err, out)
			}
			if !strings.Contains(string(out), "apps/myapp/base/kustomization.yaml:") {
				t.Errorf("%q %v: the error does not name the file and line:\n%s", extra, args, out)
			}
			want := "lockdown: programs cannot start (seccomp refuses execve)"
			if runtime.GOOS != "linux" {
				want = "lockdown:"
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("%q %v: the debug log does not say %q:\n%s", extra, args, want, out)
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("%q %v: left in TMPDIR: %v", extra, args, left)
			}
		}
	}
	if data, err := os.ReadFile(calls); err == nil {
		t.Errorf("git ran:\n%s", data)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the HTTP server got %d requests", n)
	}
}
