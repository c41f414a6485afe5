package promote

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// exampleFiles returns examples/repo with the app copied under each name
// (myapp's names replaced), and the spec's pull-request mode set.
func exampleFiles(t *testing.T, mode string, names ...string) map[string]string {
	t.Helper()
	root := "../../examples/repo"
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		for _, name := range names {
			content := strings.ReplaceAll(string(data), "myapp", name)
			content = strings.ReplaceAll(content, "canary-demo", "ns-"+name)
			content = strings.Replace(content, "mode: auto-merge", "mode: "+mode, 1)
			out[strings.ReplaceAll(rel, "myapp", name)] = content
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// harness is a promoter against a smart-HTTP remote, with a clock the
// test moves.
type harness struct {
	t       *testing.T
	srv     *gittest.Server
	url     string
	bare    string
	now     time.Time
	querier gates.Querier
	// env is what the promoter's Getenv sees; log receives its logs.
	env map[string]string
	log *bytes.Buffer
	// logw is the one writer every promoter of the harness logs through,
	// so that concurrent runs do not write to log at once.
	logw *lockedWriter
}

func newHarness(t *testing.T, files map[string]string) *harness {
	t.Helper()
	srv := gittest.NewServer(t)
	bare := srv.Seed(t, "gitops", "main", files)
	h := &harness{t: t, srv: srv, url: srv.RepoURL("gitops"), bare: bare, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		env: map[string]string{}, log: &bytes.Buffer{}}
	h.logw = &lockedWriter{w: h.log}
	return h
}

// promoter opens a fresh clone, as a new CI job would.
func (h *harness) promoter(ctx context.Context, dryRun bool) (*Promoter, func()) {
	h.t.Helper()
	now := h.now
	clock := func() time.Time { return now }
	r, err := gitops.Open(ctx, gitops.Options{Source: h.url, Branch: "main", Clock: clock, TempDir: h.t.TempDir()})
	if err != nil {
		h.t.Fatal(err)
	}
	p := New(Options{
		Repo: r, Forge: gitops.NewLocalForge(r), Querier: h.querier, Clock: clock,
		Log: slog.New(slog.NewTextHandler(h.logw, nil)), DryRun: dryRun,
		Getenv: func(k string) string { return h.env[k] },
	})
	return p, func() { r.Close() }
}

// run makes one pass at the harness's time.
func (h *harness) run(ctx context.Context) *Pass {
	h.t.Helper()
	p, done := h.promoter(ctx, false)
	defer done()
	pass, err := p.Run(ctx, Selection{})
	if err != nil {
		h.t.Fatal(err)
	}
	return pass
}

// subjects lists the first-parent commit subjects of main, newest first.
func (h *harness) subjects() []string {
	out := gittest.Git(h.t, h.bare, "log", "--first-parent", "--format=%s", "main")
	return strings.Split(strings.TrimSpace(out), "\n")
}

// lockedWriter serialises writes from concurrent goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
