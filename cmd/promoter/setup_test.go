package main

import (
	"os"
	"strings"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// A setup error (a flag or the environment) is an error with a hint and
// exit 1 in every command that opens the repository, never a panic, and it
// leaves no clone behind.
func TestSetupErrorsAreErrorsAndLeaveNoClone(t *testing.T) {
	srv := gittest.NewServer(t)
	seedExample(t, srv, "auto-merge")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("PROMETHEUS_URL", "")
	commands := [][]string{
		{"run"}, {"watch", "--interval", "1h"}, {"start", "myapp", "--image", "myapp:v2"},
		{"rollback", "myapp", "--reason", "r"}, {"promote", "myapp"}, {"status"}, {"gates", "myapp"},
	}
	setups := []struct {
		name  string
		flags []string
		want  string
	}{
		{"github without a token", []string{"--forge", "github"}, "set GITHUB_TOKEN"},
		{"unknown forge", []string{"--forge", "nope"}, "use --forge local or --forge github"},
		{"unparseable prometheus", []string{"--prometheus", "http://[::1"}, "check --prometheus"},
		{"missing prometheus CA", []string{"--prometheus", "https://127.0.0.1:1", "--prometheus-ca", tmp + "-missing.pem"}, "check --prometheus"},
	}
	for _, s := range setups {
		for _, c := range commands {
			args := append(append([]string{"--repo", srv.RepoURL("repo")}, s.flags...), c...)
			code, out, errs := run(args...)
			// Commands that write nothing (status, gates) need no forge.
			readOnly := c[0] == "status" || c[0] == "gates"
			if readOnly && strings.Contains(s.name, "forge") || readOnly && s.name == "github without a token" {
				continue
			}
			if code != exitError {
				t.Errorf("%s: %v: exit %d, want 1\n%s%s", s.name, c, code, out, errs)
				continue
			}
			if !strings.Contains(errs, "promoter: hint: ") || !strings.Contains(errs, s.want) {
				t.Errorf("%s: %v: no hint %q:\n%s", s.name, c, s.want, errs)
			}
			if strings.Contains(errs, "panic") || strings.Contains(errs, "goroutine") {
				t.Errorf("%s: %v panicked:\n%s", s.name, c, errs)
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range left {
				t.Errorf("%s: %v left %s in TMPDIR", s.name, c, e.Name())
				os.RemoveAll(tmp + "/" + e.Name())
			}
		}
	}
}

// An unparseable --repo URL is printed with its password masked.
func TestUnparseableRepoURLIsRedacted(t *testing.T) {
	for _, repo := range []string{
		"http://user:SECRETPW@127.0.0.1:abc/x.git",
		"http://user:SECRETPW@127.0.0.1/x%zz.git",
		"http://user:SECRETPW@127.0.0.1/x\x01.git",
		"https://SECRETPW@127.0.0.1:abc/x.git",
	} {
		code, out, errs := run("--repo", repo, "status")
		if code != exitError {
			t.Errorf("%q: exit %d", repo, code)
		}
		if strings.Contains(out+errs, "SECRETPW") {
			t.Errorf("%q: the password is printed:\n%s%s", repo, out, errs)
		}
	}
}

// Prometheus flags without --prometheus are an error, not silently
// ignored.
func TestPrometheusFlagsNeedPrometheus(t *testing.T) {
	t.Setenv("PROMETHEUS_URL", "")
	srv := gittest.NewServer(t)
	seedExample(t, srv, "auto-merge")
	code, out, errs := run("--repo", srv.RepoURL("repo"), "--prometheus-header", "X-Scope-OrgID=t", "status")
	if code != exitError || !strings.Contains(errs, "need --prometheus") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

// A remote whose HEAD names a missing branch gets a hint.
func TestDanglingRemoteHEADHasAHint(t *testing.T) {
	srv := gittest.NewServer(t)
	bare := seedExample(t, srv, "auto-merge")
	gittest.Git(t, bare, "symbolic-ref", "HEAD", "refs/heads/gone")
	t.Setenv("TMPDIR", t.TempDir())
	code, out, errs := run("--repo", srv.RepoURL("repo"), "status")
	if code != exitError || !strings.Contains(errs, "promoter: hint: ") || !strings.Contains(errs, "--branch") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}
