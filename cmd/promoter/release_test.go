package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// action is the part of action.yml the tests read.
type action struct {
	Runs struct {
		Steps []struct {
			Name string            `json:"name"`
			Run  string            `json:"run"`
			Env  map[string]string `json:"env"`
		} `json:"steps"`
	} `json:"runs"`
}

func actionStep(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a action
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	for _, s := range a.Runs.Steps {
		if s.Name == name {
			return s.Run
		}
	}
	t.Fatalf("action.yml has no step %q", name)
	return ""
}

// The action's args input is split into words as a shell splits them,
// with quoted values kept whole, and nothing in it is expanded or run.
func TestActionSplitsArgsLikeAShell(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	script := actionStep(t, "promoter")
	tests := []struct {
		args string
		want []string
	}{
		{``, nil},
		{`--branch main myapp`, []string{"--branch", "main", "myapp"}},
		{`--author "Release Bot <bot@example.com>" myapp`, []string{"--author", "Release Bot <bot@example.com>", "myapp"}},
		{`--reason 'p99 is "too" high'  --dry-run`, []string{"--reason", `p99 is "too" high`, "--dry-run"}},
		{`--reason $(touch pwned) $HOME *`, []string{"--reason", "$(touch", "pwned)", "$HOME", "*"}},
		{"--branch\tmain\n myapp", []string{"--branch", "main", "myapp"}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			dir := t.TempDir()
			// A stand-in promoter that prints its arguments one per line.
			fake := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n"
			if err := os.WriteFile(filepath.Join(dir, "promoter"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "RUNNER_TEMP=" + dir, "HOME=" + dir,
				"PROMOTER_COMMAND=run", "PROMOTER_REPO=https://github.com/acme/gitops.git", "PROMOTER_ARGS=" + tt.args}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			want := append([]string{"run", "--repo", "https://github.com/acme/gitops.git"}, tt.want...)
			if !slices.Equal(got, want) {
				t.Errorf("arguments\n%q\nwant\n%q", got, want)
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Error("a command substitution in args was run")
			}
		})
	}
	// Unbalanced quotes fail the step instead of running promoter.
	dir := t.TempDir()
	cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "RUNNER_TEMP=" + dir, "PROMOTER_COMMAND=run", "PROMOTER_REPO=.", `PROMOTER_ARGS=--author "A B`}
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("unbalanced quotes: the step succeeded\n%s", out)
	}
}

// The source image builds with go.mod's Go version, not whatever
// golang:1.26 points at today.
func TestDockerfileGoVersionIsGoMods(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	from := regexp.MustCompile(`(?m)^FROM golang:(\S+)`).FindSubmatch(df)
	if from == nil {
		t.Fatal("Dockerfile has no FROM golang:")
	}
	if string(from[1]) != string(m[1]) {
		t.Errorf("Dockerfile builds with golang:%s, go.mod says go %s", from[1], m[1])
	}
	if !strings.Contains(string(df), "GOTOOLCHAIN=local") {
		t.Error("Dockerfile does not pin GOTOOLCHAIN=local")
	}
}
