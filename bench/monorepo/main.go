// Command monorepo generates the GitOps monorepo of the scale benchmark: N
// applications shaped like examples/repo/apps/myapp (app-0001, app-0002, …,
// each in its own namespace, each with a base, a production overlay,
// promoter's component rendered at step 0 and a Canary spec in direct
// mode), filler files up to about -files files, and a history of human
// edits to random applications, written with `git fast-import` into a bare
// repository.
//
// Branches:
//
//   - main: every canary idle (canary image = stable image).
//   - bench/pending-N (for each N of -pending): main plus one human commit
//     per application app-0001…app-N that gives its canary Deployment a new
//     image, so one `promoter run` starts N canaries.
//   - bench/progressing-N (for each N of -progressing): the same, then the
//     commits promoter makes for those canaries (a start commit each, then a
//     promote commit each per step up to -step), so N canaries are at step
//     -step and the next run evaluates their gates.
//
// bench.json in the repository directory records, per branch, what it holds
// and a --now that lies after every commit and past every pause.
//
// The Git CLI is used here to write the repository (bench code only;
// promoter itself never runs git).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/promoter-dev/promoter/bench/benchmeta"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// Meta is bench.json; Branch one scenario branch of it.
type (
	Meta   = benchmeta.Meta
	Branch = benchmeta.Branch
)

type config struct {
	out         string
	apps        int
	files       int
	history     int
	seed        uint64
	pending     []int
	progressing []int
	step        int
}

func main() {
	var cfg config
	var pending, progressing string
	flag.StringVar(&cfg.out, "out", "", "directory of the bare repository to create (must not exist)")
	flag.IntVar(&cfg.apps, "apps", 1000, "number of applications (canaries)")
	flag.IntVar(&cfg.files, "files", 20000, "approximate number of files in the tree")
	flag.IntVar(&cfg.history, "history", 3000, "number of human commits after the applications are added")
	flag.Uint64Var(&cfg.seed, "seed", 1, "random seed")
	flag.StringVar(&pending, "pending", "100", "comma-separated sizes of bench/pending-N branches")
	flag.StringVar(&progressing, "progressing", "10,100,1000", "comma-separated sizes of bench/progressing-N branches")
	flag.IntVar(&cfg.step, "step", 3, "step the progressing canaries are at")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("monorepo: ")
	if cfg.out == "" {
		log.Fatal("-out is required")
	}
	var err error
	if cfg.pending, err = sizes(pending, cfg.apps); err != nil {
		log.Fatal(err)
	}
	if cfg.progressing, err = sizes(progressing, cfg.apps); err != nil {
		log.Fatal(err)
	}
	if cfg.step < 1 || cfg.step > 5 {
		log.Fatal("-step must be 1..5")
	}
	start := time.Now()
	meta, err := generate(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%s: %d apps, %d files, %d commits on main, %d scenario branches in %s",
		cfg.out, meta.Apps, meta.Files, meta.Commits, len(meta.Branches)-1, time.Since(start).Round(time.Millisecond))
}

func sizes(s string, max int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > max {
			return nil, fmt.Errorf("size %q: not 1..%d", f, max)
		}
		out = append(out, n)
	}
	return out, nil
}

// appState is what the history has done to an application's files.
type appState struct {
	app     app
	files   map[string]string
	canary  *spec.Canary
	idle    render.Files // component at step 0, canary idle
	bumped  string       // canary image of the pending scenarios
	stages  []render.Files
	weights []int
}

// The generated history's clock: human commits from t0, one every 2h on
// average; scenario commits after that.
var t0 = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

func generate(ctx context.Context, cfg config) (*Meta, error) {
	shared := sharedFiles()
	perApp := (cfg.files - len(shared) + cfg.apps/2) / cfg.apps
	fillers := max(0, perApp-12)
	rng := rand.New(rand.NewPCG(cfg.seed, 2))

	apps := make([]*appState, cfg.apps)
	for i := range apps {
		a := newApp(i + 1)
		apps[i] = &appState{app: a, files: a.files("v1.0.0", fillers, rng), bumped: a.image("v1.1.0")}
	}
	maxProgressing := 0
	for _, n := range cfg.progressing {
		maxProgressing = max(maxProgressing, n)
	}
	// Promoter's idle components, as its first run writes them when an
	// application is added.
	if err := renderAll(ctx, apps, func(s *appState, _ int) error { return renderIdle(ctx, s) }); err != nil {
		return nil, err
	}

	if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.out); err == nil {
		return nil, fmt.Errorf("%s exists: remove it first", cfg.out)
	}
	if out, err := exec.CommandContext(ctx, "git", "init", "-q", "--bare", "-b", "main", cfg.out).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git init: %v: %s", err, out)
	}
	fi := exec.CommandContext(ctx, "git", "fast-import", "--quiet")
	fi.Env = append(os.Environ(), "GIT_DIR="+cfg.out)
	fi.Stderr = os.Stderr
	stdin, err := fi.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := fi.Start(); err != nil {
		return nil, err
	}
	w := &stream{w: bufio.NewWriterSize(stdin, 1<<20)}

	// main: the platform files, one commit per application, then human edits.
	clock := t0
	tick := func(d time.Duration) time.Time { clock = clock.Add(d); return clock }
	w.commit("refs/heads/main", 0, human(0), tick(time.Hour), "platform: bootstrap the cluster configuration", toFiles(shared))
	for _, s := range apps {
		files := toFiles(s.files)
		for p, data := range s.idle {
			files[p] = data
		}
		w.commit("refs/heads/main", 0, human(rng.IntN(40)), tick(time.Duration(5+rng.IntN(50))*time.Minute),
			fmt.Sprintf("%s: add the application", s.app.name), files)
	}
	for h := 0; h < cfg.history; h++ {
		s := apps[rng.IntN(len(apps))]
		subject, files := humanEdit(s, rng, fillers)
		w.commit("refs/heads/main", 0, human(rng.IntN(40)), tick(time.Duration(30+rng.IntN(180))*time.Minute), subject, files)
	}
	mainTip, mainCommits, mainEnd := w.last, w.count, clock
	// The stages promoter's runs commit on the progressing branches, after
	// the human edits: rendered on the tree those runs see.
	err = renderAll(ctx, apps, func(s *appState, i int) error {
		if i >= maxProgressing {
			return nil
		}
		return renderStages(s, cfg.step)
	})
	if err != nil {
		return nil, err
	}

	meta := &Meta{Apps: cfg.apps, Files: len(shared) + cfg.apps*(12+fillers), Commits: mainCommits, Branches: map[string]Branch{
		"main": {Commits: mainCommits, Now: mainEnd.Add(time.Hour).Format(time.RFC3339)},
	}}
	for _, n := range cfg.pending {
		ref := fmt.Sprintf("refs/heads/bench/pending-%d", n)
		w.count = 0
		end := bumps(w, ref, mainTip, apps[:n], mainEnd, rng)
		meta.Branches[strings.TrimPrefix(ref, "refs/heads/")] = Branch{Pending: n, Commits: mainCommits + w.count, Now: end.Add(time.Hour).Format(time.RFC3339)}
	}
	for _, n := range cfg.progressing {
		ref := fmt.Sprintf("refs/heads/bench/progressing-%d", n)
		w.count = 0
		end := bumps(w, ref, mainTip, apps[:n], mainEnd, rng)
		// What promoter's runs commit: a start commit per canary, then a
		// promote commit per canary per step, each round of runs one pause
		// after the previous.
		pauses := []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 2 * time.Hour}
		at := end.Add(10 * time.Minute)
		for step := 1; step <= cfg.step; step++ {
			for _, s := range apps[:n] {
				msg := promoterMessage(s, step)
				at = at.Add(time.Second)
				w.commitAs(ref, 0, promoterSig, at, msg, s.stages[step-1], render.ComponentDir(s.canary), s.idle)
			}
			at = at.Add(pauses[step-1] + time.Minute)
		}
		now := at.Add(pauses[cfg.step-1])
		meta.Branches[strings.TrimPrefix(ref, "refs/heads/")] = Branch{Progressing: n, Step: cfg.step, Commits: mainCommits + w.count, Now: now.Format(time.RFC3339)}
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	if err := stdin.Close(); err != nil {
		return nil, err
	}
	if err := fi.Wait(); err != nil {
		return nil, fmt.Errorf("git fast-import: %w", err)
	}
	repack := exec.CommandContext(ctx, "git", "repack", "-a", "-d", "-q")
	repack.Env = append(os.Environ(), "GIT_DIR="+cfg.out)
	if out, err := repack.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git repack: %v: %s", err, out)
	}
	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, err
	}
	return meta, os.WriteFile(filepath.Join(cfg.out, "bench.json"), append(data, '\n'), 0o644)
}

// bumps commits, on ref from parent, a new canary image for each of apps
// (a human starting a canary) and returns the time of the last commit.
func bumps(w *stream, ref string, parent int, apps []*appState, at time.Time, rng *rand.Rand) time.Time {
	first := true
	for _, s := range apps {
		at = at.Add(time.Duration(1+rng.IntN(5)) * time.Minute)
		from := 0
		if first {
			from, first = parent, false
		}
		p := s.app.dir + "/base/deployment-canary.yaml"
		w.commit(ref, from, human(rng.IntN(40)), at, fmt.Sprintf("%s: canary of v1.1.0", s.app.name),
			gitops.Files{p: []byte(canaryDeployment(s))})
	}
	return at
}

func canaryDeployment(s *appState) string {
	return deployment(s.app.name, "canary", "v2", 1, s.bumped)
}

func promoterMessage(s *appState, step int) string {
	from := 0
	if step > 1 {
		from = s.weights[step-2]
	}
	action := gitops.ActionStart
	if step > 1 {
		action = gitops.ActionPromote
	}
	return gitops.Message{
		Subject:  gitops.Subject(s.app.name, from, s.weights[step-1]),
		Body:     fmt.Sprintf("Step %d of %d.", step, len(s.weights)),
		Trailers: gitops.Trailers{Canary: s.app.name, Step: step, Action: action},
	}.String()
}

// renderAll calls fn for each app (and its index), concurrently.
func renderAll(ctx context.Context, apps []*appState, fn func(s *appState, i int) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := fn(apps[i], i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range apps {
		work <- i
	}
	close(work)
	wg.Wait()
	return firstErr
}

// renderIdle parses the app's spec and renders promoter's component at
// step 0 with promoter's own renderer, as its first run does.
func renderIdle(ctx context.Context, s *appState) error {
	fsys := mapFS(s.files)
	cs, err := spec.Load(ctx, fsys)
	if err != nil {
		return fmt.Errorf("%s: %w", s.app.name, err)
	}
	s.canary = cs[0]
	res, err := render.Render(s.canary, fsys, render.Stage{})
	if err != nil {
		return fmt.Errorf("%s: %w", s.app.name, err)
	}
	s.idle = res.Files
	for _, st := range s.canary.Spec.Steps {
		s.weights = append(s.weights, st.Weight)
	}
	return nil
}

// renderStages renders what promoter's start and promote commits write
// (see promote.change: the step and its weight, images from the base) on
// the app's files as they are now, after the canary image bump.
func renderStages(s *appState, step int) error {
	fsys := mapFS(s.files)
	fsys[s.app.dir+"/base/deployment-canary.yaml"] = &fstest.MapFile{Data: []byte(canaryDeployment(s)), Mode: 0o644}
	for p, data := range s.idle {
		fsys[p] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	for k := 1; k <= step; k++ {
		res, err := render.Render(s.canary, fsys, render.Stage{Step: k, Weight: s.weights[k-1]})
		if err != nil {
			return fmt.Errorf("%s step %d: %w", s.app.name, k, err)
		}
		s.stages = append(s.stages, res.Files)
		for p, data := range res.Files {
			if data == nil {
				delete(fsys, p)
			} else {
				fsys[p] = &fstest.MapFile{Data: data, Mode: 0o644}
			}
		}
	}
	return nil
}

func mapFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for p, data := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
	}
	return fsys
}

// humanEdit is one human commit to an application: a setting, a runbook,
// or the stable replicas.
func humanEdit(s *appState, rng *rand.Rand, fillers int) (string, gitops.Files) {
	files := gitops.Files{}
	n := s.app.name
	switch k := rng.IntN(10); {
	case k < 5 && fillers > 0:
		c := 1 + 2*rng.IntN((fillers+1)/2)
		p := fmt.Sprintf("%s/base/config-%02d.yaml", s.app.dir, c)
		s.files[p] = configMap(n, c, rng.IntN(1000))
		files[p] = []byte(s.files[p])
		return fmt.Sprintf("%s: tune config-%02d", n, c), files
	case k < 8 && fillers > 1:
		d := 2 + 2*rng.IntN(fillers/2)
		p := fmt.Sprintf("%s/docs/runbook-%02d.md", s.app.dir, d)
		s.files[p] = runbook(n, d, rng.IntN(100))
		files[p] = []byte(s.files[p])
		return fmt.Sprintf("%s: update runbook %d", n, d), files
	default:
		p := s.app.dir + "/base/deployment-stable.yaml"
		s.files[p] = deployment(n, "stable", "v1", 2+rng.IntN(6), s.app.image("v1.0.0"))
		files[p] = []byte(s.files[p])
		return fmt.Sprintf("%s: scale stable", n), files
	}
}

func sharedFiles() map[string]string {
	f := map[string]string{
		"README.md": "# Platform GitOps repository\n\nOne directory per application under apps/. Canary specs are read by promoter.\n",
	}
	for i := 1; i <= 99; i++ {
		f[fmt.Sprintf("platform/policies/policy-%02d.yaml", i)] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: policy-%02d\n  namespace: platform\ndata:\n  rule: \"%d\"\n", i, i)
	}
	return f
}

func toFiles(m map[string]string) gitops.Files {
	out := gitops.Files{}
	for p, data := range m {
		out[p] = []byte(data)
	}
	return out
}

type signature struct{ name, email string }

var promoterSig = signature{"promoter", "promoter@users.noreply.promoter.dev"}

func human(i int) signature {
	return signature{fmt.Sprintf("Developer %02d", i), fmt.Sprintf("dev%02d@example.com", i)}
}

// stream writes a git fast-import stream.
type stream struct {
	w     *bufio.Writer
	mark  int
	last  int // mark of the last commit
	count int // commits written since count was reset
	err   error
}

func (s *stream) printf(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}

func (s *stream) data(b []byte) {
	s.printf("data %d\n", len(b))
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
	s.printf("\n")
}

func (s *stream) commit(ref string, from int, sig signature, at time.Time, msg string, files gitops.Files) {
	s.commitAs(ref, from, sig, at, msg+"\n", files, "", nil)
}

// commitAs writes a commit on ref (from the mark from, when not 0). When
// dir is set, files replace the directory's content: the files of old
// that are not in files are deleted, as promoter's commits do.
func (s *stream) commitAs(ref string, from int, sig signature, at time.Time, msg string, files map[string][]byte, dir string, old map[string][]byte) {
	s.mark++
	s.printf("commit %s\nmark :%d\n", ref, s.mark)
	who := fmt.Sprintf("%s <%s> %d +0000", sig.name, sig.email, at.Unix())
	s.printf("author %s\ncommitter %s\n", who, who)
	s.data([]byte(msg))
	if from != 0 {
		s.printf("from :%d\n", from)
	}
	if dir != "" {
		for p := range old {
			if _, ok := files[p]; !ok {
				s.printf("D %s\n", p)
			}
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if files[p] == nil {
			s.printf("D %s\n", p)
			continue
		}
		s.printf("M 100644 inline %s\n", p)
		s.data(files[p])
	}
	s.printf("\n")
	s.last = s.mark
	s.count++
}

func (s *stream) flush() error {
	if s.err != nil {
		return s.err
	}
	return s.w.Flush()
}
