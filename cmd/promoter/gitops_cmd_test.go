package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/github/githubtest"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
	"github.com/promoter-dev/promoter/internal/render"
)

// run executes promoter in-process and returns its exit code and output.
func run(args ...string) (code int, stdout, stderr string) {
	return runEnv(nil, args...)
}

// runEnv is run with env's variables over the process's environment, so
// that a test which sets them can run in parallel (t.Setenv cannot).
func runEnv(env map[string]string, args ...string) (code int, stdout, stderr string) {
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	var out, errb bytes.Buffer
	code = executeEnv(context.Background(), args, getenv, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// seedExample pushes examples/repo, with the canary's pull-request mode set
// to mode, to a new repository on srv and returns its bare directory.
func seedExample(t *testing.T, srv *gittest.Server, mode string) string {
	t.Helper()
	return seedExampleWith(t, srv, mode, nil)
}

// seedExampleWith seeds examples/repo with myapp's pull-request mode set and
// the given replacements made in its canary spec.
func seedExampleWith(t *testing.T, srv *gittest.Server, mode string, edits map[string]string) string {
	t.Helper()
	src := t.TempDir()
	if err := os.CopyFS(src, os.DirFS("../../examples/repo")); err != nil {
		t.Fatal(err)
	}
	specFile := filepath.Join(src, "apps/myapp/canary.yaml")
	data, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("mode: auto-merge"), []byte("mode: "+mode), 1)
	for from, to := range edits {
		if !bytes.Contains(data, []byte(from)) {
			t.Fatalf("the example's canary spec has no %q", from)
		}
		data = bytes.Replace(data, []byte(from), []byte(to), 1)
	}
	if err := os.WriteFile(specFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.SeedDir(t, "repo", "main", src)
}

// virtualService builds the overlay at the tip of main and returns the
// annotations and the weights of canary-route (stable, canary).
func virtualService(t *testing.T, url string) (map[string]string, [2]int) {
	t.Helper()
	ctx := context.Background()
	r, err := gitops.Open(ctx, gitops.Options{Source: url, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	snap, err := r.Tip(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.Build(snap.FS(), "apps/myapp/overlays/production", nil)
	if err != nil {
		t.Fatalf("overlay does not build at %s: %v", snap.Commit.Short(), err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var vs struct {
			Kind     string
			Metadata struct{ Annotations map[string]string }
			Spec     struct {
				HTTP []struct {
					Name  string
					Route []struct {
						Destination struct{ Subset string }
						Weight      int
					}
				} `yaml:"http"`
			}
		}
		if err := dec.Decode(&vs); err != nil {
			t.Fatalf("no VirtualService in the build: %v", err)
		}
		if vs.Kind != "VirtualService" {
			continue
		}
		var w [2]int
		for _, h := range vs.Spec.HTTP {
			if h.Name != "canary-route" {
				continue
			}
			for _, d := range h.Route {
				if d.Destination.Subset == "stable" {
					w[0] = d.Weight
				} else {
					w[1] = d.Weight
				}
			}
		}
		return vs.Metadata.Annotations, w
	}
}

func TestStartThenRollback(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"direct", "auto-merge"} {
		t.Run(mode, func(t *testing.T) {
			srv := gittest.NewServer(t)
			bare := seedExample(t, srv, mode)
			url := srv.RepoURL("repo")
			if code, out, errs := run("--repo", url, "start", "myapp", "--image", "myapp:v2.0.0", "--now", "2026-03-01T10:00:00Z"); code != 0 {
				t.Fatalf("start: exit %d\n%s%s", code, out, errs)
			}
			if code, out, errs := run("--repo", url, "--dry-run", "rollback", "myapp", "--reason", "p99 too high"); code != 0 || !strings.Contains(out, "would roll back") {
				t.Fatalf("rollback --dry-run: exit %d\n%s%s", code, out, errs)
			}
			before := gittest.Git(t, bare, "rev-parse", "main")
			code, out, errs := run("--repo", url, "rollback", "myapp", "--reason", "p99 too high", "--now", "2026-03-01T11:00:00Z")
			if code != 0 {
				t.Fatalf("rollback: exit %d\n%s%s", code, out, errs)
			}
			if gittest.Git(t, bare, "rev-parse", "main") == before {
				t.Fatal("rollback did not move main")
			}
			msg := gittest.Git(t, bare, "log", "-1", "--format=%B", "main")
			for _, want := range []string{`Revert "canary(myapp): 0% -> 0%"`, "This reverts commit ", "p99 too high", "Promoter-Action: rollback"} {
				if !strings.Contains(msg, want) {
					t.Errorf("rollback message lacks %q:\n%s", want, msg)
				}
			}
			if got := gittest.Git(t, bare, "log", "-1", "--format=%aI %cI", "main"); got != "2026-03-01T11:00:00+00:00 2026-03-01T11:00:00+00:00" {
				t.Errorf("rollback dated %s, want the --now time", got)
			}
			ann, w := virtualService(t, url)
			if w != [2]int{100, 0} {
				t.Errorf("weights stable/canary = %v, want 100/0", w)
			}
			for k, v := range map[string]string{
				render.AnnotationRolledBackRevision: "myapp:v2.0.0",
				render.AnnotationRollbackReason:     "p99 too high",
				render.AnnotationRollbackAt:         "2026-03-01T11:00:00Z",
				render.AnnotationWeight:             "0",
			} {
				if ann[k] != v {
					t.Errorf("annotation %s = %q, want %q", k, ann[k], v)
				}
			}
			tip := gittest.Git(t, bare, "rev-parse", "main")
			code, out, errs = run("--repo", url, "rollback", "myapp", "--reason", "again")
			if code != 0 || !strings.Contains(out, "already rolled back") {
				t.Errorf("second rollback: exit %d\n%s%s", code, out, errs)
			}
			if gittest.Git(t, bare, "rev-parse", "main") != tip {
				t.Error("second rollback moved main")
			}
			// The revision is held until the image changes; a new image starts again.
			if code, out, errs := run("--repo", url, "start", "myapp", "--image", "myapp:v2.0.1"); code != 0 {
				t.Errorf("start of a new image after a rollback: exit %d\n%s%s", code, out, errs)
			}
		})
	}
}

func TestStartReviewModeOpensOnePullRequest(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	bare := seedExample(t, srv, "review")
	url := srv.RepoURL("repo")
	main := gittest.Git(t, bare, "rev-parse", "main")
	for range 2 { // a rerun adopts the branch
		if code, out, errs := run("--repo", url, "start", "myapp", "--image", "myapp:v2.0.0"); code != 0 || !strings.Contains(out, "pull request") {
			t.Fatalf("start: exit %d\n%s%s", code, out, errs)
		}
	}
	if gittest.Git(t, bare, "rev-parse", "main") != main {
		t.Error("review mode pushed to main")
	}
	branches := gittest.Git(t, bare, "branch", "--list", "promoter/*")
	if strings.TrimSpace(branches) != "promoter/myapp/step-0" {
		t.Errorf("branches = %q, want one pull request branch", branches)
	}
}

// Four rollbacks (eight with PROMOTER_TEST_FULL=1, make test-full) race
// on one HTTP remote: one revert lands, the others find it done, none
// fails.
func TestConcurrentRollbacks(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	bare := seedExample(t, srv, "direct")
	url := srv.RepoURL("repo")
	if code, out, errs := run("--repo", url, "start", "myapp", "--image", "myapp:v2.0.0"); code != 0 {
		t.Fatalf("start: exit %d\n%s%s", code, out, errs)
	}
	n := repetitions(4, 8)
	type result struct {
		code     int
		out, err string
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out, errs := run("--repo", url, "rollback", "myapp", "--reason", fmt.Sprintf("runner %d", i))
			results[i] = result{code, out, errs}
		}()
	}
	wg.Wait()
	rolled, already := 0, 0
	for i, r := range results {
		switch {
		case r.code != 0:
			t.Errorf("rollback %d: exit %d\n%s%s", i, r.code, r.out, r.err)
		case strings.Contains(r.out, "rolled back: Revert"):
			rolled++
		case strings.Contains(r.out, "already rolled back"):
			already++
		default:
			t.Errorf("rollback %d said %q", i, r.out)
		}
	}
	if rolled != 1 || already != n-1 {
		t.Errorf("%d rolled back and %d found it done; want 1 and %d", rolled, already, n-1)
	}
	reverts := gittest.Git(t, bare, "log", "--format=%H", "--grep=Promoter-Action: rollback", "main")
	if got := len(strings.Fields(reverts)); got != 1 {
		t.Errorf("%d revert commits on main, want exactly 1", got)
	}
	if got := gittest.Git(t, bare, "log", "-2", "--format=%s", "main"); !strings.Contains(got, "0% -> 0%") {
		t.Errorf("start commit lost from history:\n%s", got)
	}
}

// Tokens travel in the Authorization header only: never in output, logs,
// commit messages or a checkout's .git/config.
func TestTokenNeverLeaks(t *testing.T) {
	t.Parallel()
	const token = "tok-5ecret-9f8e7d"
	srv := gittest.NewServer(t, gittest.WithToken(token))
	bare := seedExample(t, srv, "auto-merge")
	env := map[string]string{"GIT_TOKEN": token}
	work := t.TempDir()
	// A CI checkout made with a credential helper-free URL.
	gittest.Git(t, "", "-c", "http.extraHeader=Authorization: Basic "+basic("x", token), "clone", "-q", srv.RepoURL("repo"), work)
	var all strings.Builder
	for _, args := range [][]string{
		{"--repo", work, "--log-format", "json", "start", "myapp", "--image", "myapp:v2.0.0"},
		{"--repo", srv.RepoURL("repo"), "rollback", "myapp", "--reason", "p99 too high"},
		{"--repo", strings.Replace(srv.RepoURL("repo"), "http://", "http://x:"+token+"@", 1), "rollback", "myapp", "--reason", "again"},
	} {
		code, out, errs := runEnv(env, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
		all.WriteString(out + errs)
	}
	all.WriteString(gittest.Git(t, bare, "log", "--all", "--format=%B"))
	cfg, err := os.ReadFile(filepath.Join(work, ".git", "config"))
	if err != nil {
		t.Fatal(err)
	}
	all.Write(cfg)
	if strings.Contains(all.String(), token) {
		t.Errorf("token leaked:\n%s", all.String())
	}
	authed := 0
	for _, r := range srv.Requests() {
		if r.Authorization != "" {
			authed++
		}
		if strings.Contains(r.Path+r.Query, token) {
			t.Errorf("token in a request URL: %s?%s", r.Path, r.Query)
		}
	}
	if authed == 0 {
		t.Error("no request carried credentials; the test proves nothing")
	}
}

func basic(user, pass string) string {
	return base64Encode(user + ":" + pass)
}

func base64Encode(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// The GitHub forge end to end: start and rollback through pull requests on
// the fake API, whose merges move the real repository.
func TestStartRollbackThroughGitHub(t *testing.T) {
	t.Parallel()
	srv, bare, gh, env := githubServe(t, "ghs_cmd_token")
	url := srv.RepoURL("repo")
	for _, args := range [][]string{
		{"--repo", url, "--forge", "github", "start", "myapp", "--image", "myapp:v2.0.0"},
		{"--repo", url, "--forge", "github", "rollback", "myapp", "--reason", "p99 too high"},
	} {
		code, out, errs := runEnv(env, args...)
		if code != 0 || !strings.Contains(out, "/pull/") {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
	pulls := gh.Pulls()
	if len(pulls) != 2 || !pulls[0].Merged || !pulls[1].Merged || strings.Join(pulls[1].Labels, ",") != "canary" {
		t.Errorf("pull requests = %+v", pulls)
	}
	if msg := gittest.Git(t, bare, "log", "-1", "--format=%B", "main"); !strings.Contains(msg, "This reverts commit") || !strings.Contains(msg, "p99 too high") {
		t.Errorf("merged rollback message:\n%s", msg)
	}
	if _, w := virtualService(t, url); w != [2]int{100, 0} {
		t.Errorf("weights = %v, want 100/0", w)
	}
	if left := gittest.Git(t, bare, "branch", "--list", "promoter/*"); left != "" {
		t.Errorf("merged branches left behind: %s", left)
	}
}

// githubServe serves examples/repo (auto-merge mode) over smart HTTP with
// the GitHub API fake over the same repository, and returns promoter's
// environment pointing at it, for runEnv (it sets none: its tests run in
// parallel).
func githubServe(t *testing.T, token string) (*gittest.Server, string, *githubtest.Server, map[string]string) {
	t.Helper()
	return githubServeWith(t, token, nil)
}

// githubServeWith is githubServe with edits made to myapp's canary spec
// (see seedExampleWith).
func githubServeWith(t *testing.T, token string, edits map[string]string) (*gittest.Server, string, *githubtest.Server, map[string]string) {
	t.Helper()
	srv := gittest.NewServer(t)
	bare := seedExampleWith(t, srv, "auto-merge", edits)
	gh := githubtest.New(t, bare, "acme", "gitops", token)
	return srv, bare, gh, githubEnv(gh, token)
}
