package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/promoter-dev/promoter/internal/lockdown"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		// Both run locked down, as the binary does: the scripts exercise
		// every client promoter has (Git over HTTP, Prometheus, the
		// GitHub API, webhooks) with http.DefaultTransport refusing and
		// no program able to start.
		"promoter": func() {
			lockdown.Apply()
			os.Exit(execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
		// promoter-main is the binary's main: signals handled as in
		// production.
		"promoter-main": main,
	})
}

// TestScripts runs the end-to-end scripts in testdata/*.txtar. Each script
// starts with a copy of examples/repo in $WORK/example. Their `exec
// promoter` is the binary $PROMOTER_TEST_BINARY names when it is set (see
// testBinary), else the test binary's own promoter command.
func TestScripts(t *testing.T) {
	t.Parallel()
	var binDir string
	if bin := testBinary(t); bin != "" {
		binDir = t.TempDir()
		if err := os.Symlink(bin, filepath.Join(binDir, "promoter")); err != nil {
			t.Fatal(err)
		}
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Cmds:                e2eCmds(t),
		Setup: func(env *testscript.Env) error {
			if binDir != "" {
				env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			}
			return copyDir("../../examples/repo", filepath.Join(env.WorkDir, "example"))
		},
	})
}

// testBinary is $PROMOTER_TEST_BINARY, a promoter binary for the tests
// that run promoter as a child process to run instead of the test binary's
// own promoter command, or "" when it is not set. make test builds promoter
// without the race detector for them: a child built with -race spends most
// of its time in the race detector's bookkeeping of kustomize's and the
// PromQL client's work, and the same code runs in-process under -race in
// the other tests (make test-full leaves it unset, so its children are
// built with -race as the test binary is).
func testBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PROMOTER_TEST_BINARY")
	if bin == "" {
		return ""
	}
	if !filepath.IsAbs(bin) {
		t.Fatalf("PROMOTER_TEST_BINARY=%s: give an absolute path", bin)
	}
	if info, err := os.Stat(bin); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		t.Fatalf("PROMOTER_TEST_BINARY=%s is not an executable file (%v): build it with go build -o %s ./cmd/promoter, or unset it", bin, err, bin)
	}
	return bin
}

// promoterBinary is the promoter program to run as a child process: the
// binary testBinary names, else the test binary's promoter command.
func promoterBinary(t *testing.T) string {
	t.Helper()
	if bin := testBinary(t); bin != "" {
		return bin
	}
	bin, err := exec.LookPath("promoter")
	if err != nil {
		t.Fatalf("promoter is not on PATH: %v", err)
	}
	return bin
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
