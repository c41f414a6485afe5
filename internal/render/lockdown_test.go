package render

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/promoter-dev/promoter/internal/lockdown"
)

// buildChildEnv makes the test binary a child that builds remoteForms
// with the textual rule of checkRef bypassed (see buildChild).
const buildChildEnv = "PROMOTER_RENDER_BUILD_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(buildChildEnv); mode != "" {
		os.Exit(buildChild(mode))
	}
	os.Exit(m.Run())
}

// childResult is one build of a child.
type childResult struct {
	Kustomization string
	Err           string // "" when the build succeeded
}

// buildChild locks itself down as mode says, then builds every
// remoteForms kustomization against URL with refuseRemote off, and prints
// the results as JSON. FAKEBIN is the directory of the fake git.
//
//	full     lockdown.Apply with PATH at FAKEBIN beforehand: what the binary does
//	seccomp  the seccomp filter and the refusing default transport, PATH set
//	         to FAKEBIN afterwards: seccomp alone keeps git from running
//	path     PATH at FAKEBIN beforehand, then emptied, and the refusing
//	         default transport, no seccomp: what promoter has off Linux
//	none     no lockdown, PATH at FAKEBIN
func buildChild(mode string) int {
	bin, u := os.Getenv("FAKEBIN"), os.Getenv("URL")
	os.Setenv("PATH", bin)
	switch mode {
	case "full":
		if st := lockdown.Apply(); st.Exec != nil && runtime.GOOS == "linux" {
			fmt.Fprintln(os.Stderr, st.Exec)
			return 3
		}
	case "seccomp":
		if err := lockdown.ForbidExec(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		lockdown.ForbidDefaultHTTP()
		os.Setenv("PATH", bin)
	case "path":
		lockdown.EmptyPath()
		lockdown.ForbidDefaultHTTP()
	case "none":
	default:
		return 2
	}
	var results []childResult
	for _, k := range remoteForms(u) {
		r := childResult{Kustomization: k}
		if _, err := build(remoteRepo(k, u), "base", nil, false); err != nil {
			r.Err = err.Error()
		}
		results = append(results, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		return 1
	}
	return 0
}

// buildWorld is what a child can reach: a fake git that logs its calls and
// a listening HTTP server that counts its requests and answers every one
// with a ConfigMap.
type buildWorld struct {
	bin, calls string
	hits       *atomic.Int64
	url        string
	tmp        string // the TMPDIR of the last child
}

func newBuildWorld(t *testing.T) *buildWorld {
	t.Helper()
	w := &buildWorld{hits: new(atomic.Int64)}
	w.bin, w.calls = fakeGit(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.hits.Add(1)
		fmt.Fprint(rw, cm)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

// run runs a child in mode with its own TMPDIR and returns its results,
// the git calls logged and what it left in TMPDIR.
func (w *buildWorld) run(t *testing.T, mode string) (results []childResult, calls string, left []string) {
	t.Helper()
	tmp := t.TempDir()
	w.tmp = tmp
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), buildChildEnv+"="+mode, "FAKEBIN="+w.bin, "URL="+w.url, "TMPDIR="+tmp)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, stderr.String())
	}
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("child %s printed %q: %v", mode, out, err)
	}
	if data, err := os.ReadFile(w.calls); err == nil {
		calls = string(data)
		if err := os.Remove(w.calls); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	return results, calls, left
}

// With the textual rule bypassed, what keeps a build from running git and
// from the network is the process lockdown: every remote form fails to
// build, the fake git on PATH never runs, the HTTP server gets no request
// and nothing is left in TMPDIR, whether PATH pointed at the fake git
// before the lockdown (then emptied) or after it (seccomp alone), and
// with PATH emptied but no seccomp (as off Linux).
func TestLockdownKeepsBuildsFromGitAndNetwork(t *testing.T) {
	modes := []string{"full", "path"}
	if runtime.GOOS == "linux" {
		modes = append(modes, "seccomp")
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			w := newBuildWorld(t)
			results, calls, left := w.run(t, mode)
			if len(results) != len(remoteForms(w.url)) {
				t.Fatalf("%d results, want %d", len(results), len(remoteForms(w.url)))
			}
			for _, r := range results {
				if r.Err == "" {
					t.Errorf("%q built", r.Kustomization)
				}
				if testing.Verbose() {
					t.Logf("%q: %s", r.Kustomization, r.Err)
				}
			}
			if calls != "" {
				t.Errorf("git ran:\n%s", calls)
			}
			if n := w.hits.Load(); n != 0 {
				t.Errorf("the HTTP server got %d requests", n)
			}
			if mode == "seccomp" {
				// kustomize makes its clone directory before running
				// git and, when git fails, removes it from the build's
				// in-memory filesystem rather than the disk: with PATH
				// holding a git, the refused execve leaves it, empty.
				// (The binary empties PATH, so kustomize finds no git
				// and makes no directory: "full" leaves nothing.)
				left = slices.DeleteFunc(left, func(name string) bool {
					entries, err := os.ReadDir(filepath.Join(w.tmp, name))
					return strings.HasPrefix(name, "kustomize-") && err == nil && len(entries) == 0
				})
			}
			if len(left) > 0 {
				t.Errorf("left in TMPDIR: %v", left)
			}
		})
	}
}

// The test above can fail: the same child without the lockdown (and
// without the textual rule) runs the fake git and fetches from the
// server.
func TestWithoutLockdownBuildsRunGitAndFetch(t *testing.T) {
	w := newBuildWorld(t)
	results, calls, _ := w.run(t, "none")
	if calls == "" {
		t.Error("git never ran")
	}
	if w.hits.Load() == 0 {
		t.Error("the HTTP server got no request")
	}
	var built []string
	for _, r := range results {
		if r.Err == "" {
			built = append(built, r.Kustomization)
		}
	}
	if len(built) == 0 {
		t.Error("no remote form built: the server's answer was never used")
	}
}
