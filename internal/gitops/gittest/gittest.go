// Package gittest serves real Git repositories over the smart HTTP protocol
// from inside a test process, for tests of code that clones, fetches and
// pushes.
//
// # Server
//
// [NewServer] starts an [httptest.Server] that runs `git http-backend` (the
// Git CLI's own smart-HTTP implementation) through [net/http/cgi] over a
// directory of bare repositories. It can require a token (HTTP basic auth,
// any user name, the token as password) and records every request's
// method, path and whether it carried credentials, so tests can check what
// a client sent and what it must not have sent.
//
// # Helpers
//
// Tests may use the Git CLI for the server side and for assertions, so the
// helpers here do: [Git] runs a command, [Seed] creates a bare repository
// from a directory of files, [CommitFiles] pushes a "human" commit.
package gittest

import (
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Request is what the server recorded about one HTTP request.
type Request struct {
	Method string
	Path   string
	Query  string
	// Authorization is the raw Authorization header (tests assert tokens
	// travel only there).
	Authorization string
}

// Server serves the bare repositories under Root at URL/<name>.git.
type Server struct {
	URL  string
	Root string

	token string

	mu       sync.Mutex
	requests []Request
}

// Option configures a [Server].
type Option func(*Server)

// WithToken makes the server reject requests whose basic-auth password is
// not token (401 with a WWW-Authenticate challenge, as real forges do).
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// NewServer starts a smart-HTTP Git server for the test; it stops when the
// test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git CLI not available for the test server")
	}
	s := &Server{Root: t.TempDir()}
	for _, o := range opts {
		o(s)
	}
	backend := &cgi.Handler{
		Path:   gitPath,
		Args:   []string{"http-backend"},
		Stderr: io.Discard,
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"HOME=" + s.Root,
			"GIT_CONFIG_NOSYSTEM=1",
		},
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		if s.token != "" {
			_, pass, ok := r.BasicAuth()
			if !ok || pass != s.token {
				w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

func (s *Server) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{
		Method:        r.Method,
		Path:          r.URL.Path,
		Query:         r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"),
	})
}

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RepoURL is the clone URL of the repository name.
func (s *Server) RepoURL(name string) string { return s.URL + "/" + name + ".git" }

// RepoPath is the directory of the bare repository name.
func (s *Server) RepoPath(name string) string { return filepath.Join(s.Root, name+".git") }

// Seed creates the bare repository name with one commit on branch holding
// files (path → content), and returns its directory.
func (s *Server) Seed(t testing.TB, name, branch string, files map[string]string) string {
	t.Helper()
	return Seed(t, s.RepoPath(name), branch, files)
}

// SeedDir is [Server.Seed] with the content of a directory.
func (s *Server) SeedDir(t testing.TB, name, branch, dir string) string {
	t.Helper()
	return SeedDir(t, s.RepoPath(name), branch, dir)
}

// Seed creates a bare repository at bare with one commit on branch holding
// files, configured to accept pushes over HTTP.
func Seed(t testing.TB, bare, branch string, files map[string]string) string {
	t.Helper()
	work := t.TempDir()
	for p, content := range files {
		writeFile(t, filepath.Join(work, p), content)
	}
	return seedFrom(t, bare, branch, work)
}

// SeedDir is [Seed] with the content of the directory src.
func SeedDir(t testing.TB, bare, branch, src string) string {
	t.Helper()
	work := t.TempDir()
	Git(t, "", "init", "-q", work)
	if err := os.CopyFS(work, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	return seedFrom(t, bare, branch, work)
}

func seedFrom(t testing.TB, bare, branch, work string) string {
	t.Helper()
	Git(t, "", "init", "-q", "--bare", "--initial-branch="+branch, bare)
	Git(t, bare, "config", "http.receivepack", "true")
	Git(t, work, "init", "-q", "--initial-branch="+branch)
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "-q", "--allow-empty", "-m", "Initial commit")
	Git(t, work, "push", "-q", bare, "HEAD:refs/heads/"+branch)
	return bare
}

// CommitFiles commits files (path → content; "" deletes) as a human would,
// on branch of the bare repository at bare, and returns the new commit's
// hash. It fails the test if the push does not land.
func CommitFiles(t testing.TB, bare, branch, message string, files map[string]string) string {
	t.Helper()
	work := t.TempDir()
	Git(t, "", "clone", "-q", "--branch", branch, bare, work)
	for p, content := range files {
		full := filepath.Join(work, p)
		if content == "" {
			if err := os.Remove(full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		writeFile(t, full, content)
	}
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "-q", "-m", message)
	Git(t, work, "push", "-q", "origin", "HEAD:refs/heads/"+branch)
	return Git(t, work, "rev-parse", "HEAD")
}

// PushRef makes ref of the bare repository at bare point at a new commit
// without parents whose tree holds files (path → content), forced, as a
// human with the Git CLI would, and returns the commit's hash.
func PushRef(t testing.TB, bare, ref string, files map[string]string) string {
	t.Helper()
	work := t.TempDir()
	Git(t, work, "init", "-q", "-b", "pushed")
	for p, content := range files {
		writeFile(t, filepath.Join(work, p), content)
	}
	Git(t, work, "add", "-A")
	Git(t, work, "commit", "-q", "-m", "pushed by hand")
	Git(t, work, "push", "-q", "-f", bare, "pushed:"+ref)
	return Git(t, work, "rev-parse", "HEAD")
}

// Git runs the Git CLI in dir ("" for the current directory) with a fixed
// identity and returns its trimmed standard output; it fails the test on a
// non-zero exit.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := GitErr(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// GitErr is [Git] returning the error instead of failing the test.
func GitErr(dir string, args ...string) (string, error) {
	return GitEnv(dir, nil, args...)
}

// GitEnv is GitErr with extra environment variables (such as
// GIT_COMMITTER_DATE), which take precedence.
func GitEnv(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Human", "GIT_AUTHOR_EMAIL=human@example.com",
		"GIT_COMMITTER_NAME=Human", "GIT_COMMITTER_EMAIL=human@example.com",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
	)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
