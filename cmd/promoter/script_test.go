package main

import (
	"context"
	"os"
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
// starts with a copy of examples/repo in $WORK/example.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Cmds:                e2eCmds(t),
		Setup: func(env *testscript.Env) error {
			return copyDir("../../examples/repo", filepath.Join(env.WorkDir, "example"))
		},
	})
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
