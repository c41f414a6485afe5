// Command runner runs the scale benchmark against a repository made by
// bench/monorepo, with a built promoter binary, and writes the results into
// docs/benchmarks.md between <!-- scale:begin --> and <!-- scale:end -->.
//
// Scenarios (each repeated -runs times unless said otherwise; medians are
// reported):
//
//   - idle: `promoter run` on main, where every canary is idle: nothing is
//     due. Wall time and peak RSS of the child process.
//   - advance: `promoter run` on bench/pending-100 (100 canaries to start:
//     100 commits and 100 pushes) against a fresh copy of the repository,
//     then the Git CLI floor (bench/floor.sh) making the same commits and
//     pushes against another fresh copy; the trees must come out equal.
//   - prometheus: `promoter run` on each bench/progressing-N branch against
//     a Prometheus stub that counts requests (-prom-runs times).
//   - rollback: `promoter rollback <canary> --reason bench` on
//     bench/progressing-100, as a command (wall time: an upper bound that
//     includes the clone) and in-process through internal/promote with the
//     repository already open (decision to pushed revert).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/bench/benchmeta"
)

type options struct {
	promoter    string
	repo        string
	runs        int
	advanceRuns int
	promRuns    int
	work        string
	doc         string
	floor       string
	canary      string
	notes       string
	scenarios   map[string]bool
	// checkout runs promoter in a Git checkout of the remote (`--repo
	// DIR`), as a CI job does after its checkout step, instead of letting
	// it clone the file:// remote itself.
	checkout bool
}

func main() {
	var o options
	var scenarios string
	flag.StringVar(&o.promoter, "promoter", "bin/promoter", "the promoter binary to measure")
	flag.StringVar(&o.repo, "repo", "", "bare repository made by bench/monorepo")
	flag.IntVar(&o.runs, "runs", 5, "runs per scenario")
	flag.IntVar(&o.advanceRuns, "advance-runs", 0, "runs of the advance scenario (default -runs)")
	flag.IntVar(&o.promRuns, "prom-runs", 1, "runs per branch of the prometheus scenario (request counts are deterministic)")
	flag.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "promoter-bench-work"), "scratch directory (emptied)")
	flag.StringVar(&o.doc, "doc", "docs/benchmarks.md", "document to write the results into (\"\" prints them)")
	flag.StringVar(&o.floor, "floor", "bench/floor.sh", "the Git CLI floor script")
	flag.StringVar(&o.canary, "rollback-canary", "app-0042", "canary to roll back")
	flag.StringVar(&o.notes, "notes", "bench/scale-notes.md", "hand-written analysis to include in the section (if the file exists)")
	flag.StringVar(&scenarios, "scenarios", "idle,advance,prometheus,rollback", "scenarios to run")
	flag.BoolVar(&o.checkout, "checkout", true, "run promoter in a checkout of the remote (the CI case; the checkout is not timed) instead of on the file:// remote (a full clone)")
	flag.Parse()
	if o.repo == "" {
		fatalf("-repo is required (make one with go run ./bench/monorepo -out DIR)")
	}
	if o.advanceRuns == 0 {
		o.advanceRuns = o.runs
	}
	o.scenarios = map[string]bool{}
	for _, s := range strings.Split(scenarios, ",") {
		o.scenarios[strings.TrimSpace(s)] = true
	}
	var err error
	if o.promoter, err = filepath.Abs(o.promoter); err != nil {
		fatalf("%v", err)
	}
	if o.repo, err = filepath.Abs(o.repo); err != nil {
		fatalf("%v", err)
	}
	if o.floor, err = filepath.Abs(o.floor); err != nil {
		fatalf("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var meta Meta
	data, err := os.ReadFile(filepath.Join(o.repo, "bench.json"))
	if err != nil {
		fatalf("%v (is -repo a repository made by bench/monorepo?)", err)
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		fatalf("bench.json: %v", err)
	}
	if err := os.RemoveAll(o.work); err != nil {
		fatalf("%v", err)
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		fatalf("%v", err)
	}
	prom, err := startPromStub()
	if err != nil {
		fatalf("%v", err)
	}
	res := &results{Meta: meta, Runs: o.runs, Started: time.Now()}
	if o.scenarios["idle"] {
		res.Idle = runIdle(ctx, o, prom)
	}
	if o.scenarios["advance"] {
		res.Advance = runAdvance(ctx, o, meta, prom)
	}
	if o.scenarios["prometheus"] {
		res.Prom = runProm(ctx, o, meta, prom)
	}
	if o.scenarios["rollback"] {
		res.Rollback = runRollback(ctx, o, meta)
	}
	res.Finished = time.Now()
	section := res.markdown(o)
	if o.doc == "" {
		fmt.Print(section)
		return
	}
	if err := writeSection(o.doc, section); err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("runner: results written to %s\n", o.doc)
}

// Meta is bench.json; Branch one scenario branch of it.
type (
	Meta   = benchmeta.Meta
	Branch = benchmeta.Branch
)

// repoArg is what promoter gets as --repo for the bare repository remote:
// with -checkout a fresh checkout of branch in dir (made with the Git CLI,
// like a CI job's checkout step, and not timed), else the file:// URL.
func (o options) repoArg(ctx context.Context, remote, branch, dir string) string {
	if !o.checkout {
		return "file://" + remote
	}
	if err := os.RemoveAll(dir); err != nil {
		fatalf("%v", err)
	}
	must(ctx, "", "git", "clone", "-q", "--no-tags", "--single-branch", "--branch", branch, remote, dir)
	return dir
}

// repoShown is --repo as the documented command shows it.
func (o options) repoShown(remote string) string {
	if o.checkout {
		return "$CHECKOUT (git clone " + remote + ")"
	}
	return "file://" + remote
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runner: "+format+"\n", args...)
}

// runIdle measures `promoter run` with nothing due, on main: first the
// pass right after the generated history, whose human edits changed the
// inputs of many canaries since promoter wrote their components (it
// builds those and saves their build records beside the branch), then
// -runs passes after it, with nothing changed since. The build records
// are deleted before and after, so that every benchmark starts from the
// repository as generated.
func runIdle(ctx context.Context, o options, prom *promStub) *idleResult {
	r := &idleResult{Branch: "main"}
	tip := git(ctx, o.repo, "rev-parse", "main")
	dropRecords := func() {
		if _, err := gitErr(ctx, o.repo, "rev-parse", "--verify", "-q", recordsRef); err == nil {
			git(ctx, o.repo, "update-ref", "-d", recordsRef)
		}
	}
	dropRecords()
	defer dropRecords()
	repoArg := o.repoArg(ctx, o.repo, "main", filepath.Join(o.work, "idle-checkout"))
	if !o.checkout {
		fatalf("the idle scenario's read floor needs -checkout")
	}
	r.Command = fmt.Sprintf("promoter run --repo %s --branch main --prometheus $PROM --log-format json", o.repoShown("$REPO"))
	for i := 0; i <= o.runs; i++ {
		s, err := measure(ctx, o.work, fmt.Sprintf("idle-%d", i), nil, o.promoter,
			"run", "--repo", repoArg, "--branch", "main", "--prometheus", prom.URL, "--log-format", "json")
		if err != nil || s.Code != 0 {
			fatalf("idle run %d: exit %d %v (see %s)", i, s.Code, err, s.Stderr)
		}
		n, _ := prom.take()
		if now := git(ctx, o.repo, "rev-parse", "main"); now != tip {
			fatalf("idle run %d pushed to main", i)
		}
		// The floor right after, from the same checkout: the Git CLI
		// reading every blob of the tree.
		f, err := measure(ctx, o.work, fmt.Sprintf("idle-floor-%d", i), nil, "bash", o.floor, "read", repoArg)
		if err != nil || f.Code != 0 {
			fatalf("read floor %d: exit %d %v (see %s)", i, f.Code, err, f.Stderr)
		}
		if i == 0 {
			r.First, r.FirstFloor, r.Recorded = s, f, countRecords(ctx, o.repo)
			logf("idle, first pass: %s (CPU %s), %d MB, %d canaries' build records saved; read floor %s (CPU %s)", s.Wall.Round(time.Millisecond), s.CPU.Round(time.Millisecond), s.RSS>>20, r.Recorded,
				f.Wall.Round(time.Millisecond), f.CPU.Round(time.Millisecond))
			continue
		}
		logf("idle %d/%d: %s (CPU %s), %d MB, %d Prometheus requests; read floor %s (CPU %s)", i, o.runs, s.Wall.Round(time.Millisecond), s.CPU.Round(time.Millisecond), s.RSS>>20, n,
			f.Wall.Round(time.Millisecond), f.CPU.Round(time.Millisecond))
		r.Samples = append(r.Samples, s)
		r.Floor = append(r.Floor, f)
		r.PromRequests = append(r.PromRequests, n)
	}
	return r
}

// recordsRef is where promoter keeps main's build records.
const recordsRef = "refs/promoter/builds/main"

// countRecords is the number of canaries main's build records hold.
func countRecords(ctx context.Context, repo string) int {
	out, err := gitErr(ctx, repo, "show", recordsRef+":records")
	if err != nil {
		return 0
	}
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// runAdvance measures one run starting 100 canaries, and the Git CLI floor
// of the same commits and pushes.
func runAdvance(ctx context.Context, o options, meta Meta, prom *promStub) *advanceResult {
	branch := ""
	for name, b := range meta.Branches {
		if b.Pending > 0 && (branch == "" || b.Pending == 100) {
			branch = name
		}
	}
	if branch == "" {
		fatalf("no bench/pending-N branch in %s", o.repo)
	}
	b := meta.Branches[branch]
	r := &advanceResult{Branch: branch, Canaries: b.Pending}
	base := git(ctx, o.repo, "rev-parse", branch)
	r.Command = fmt.Sprintf("promoter run --repo %s --branch %s --now %s --prometheus $PROM --log-format json", o.repoShown("$COPY"), branch, b.Now)
	env := []string{"GIT_AUTHOR_NAME=promoter", "GIT_AUTHOR_EMAIL=promoter@users.noreply.promoter.dev",
		"GIT_COMMITTER_NAME=promoter", "GIT_COMMITTER_EMAIL=promoter@users.noreply.promoter.dev"}
	for i := 1; i <= o.advanceRuns; i++ {
		dir := filepath.Join(o.work, fmt.Sprintf("advance-%d", i))
		pcopy, fcopy := filepath.Join(dir, "promoter.git"), filepath.Join(dir, "floor.git")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fatalf("%v", err)
		}
		copyRepo(ctx, o.repo, pcopy)
		copyRepo(ctx, o.repo, fcopy)
		repoArg := o.repoArg(ctx, pcopy, branch, filepath.Join(dir, "promoter-checkout"))
		s, err := measure(ctx, dir, "promoter", nil, o.promoter,
			"run", "--repo", repoArg, "--branch", branch, "--now", b.Now, "--prometheus", prom.URL, "--log-format", "json")
		if err != nil || s.Code != 0 {
			fatalf("advance run %d: exit %d %v (see %s)", i, s.Code, err, s.Stderr)
		}
		n, _ := prom.take()
		changes := filepath.Join(dir, "changes")
		commits := prepareFloor(ctx, pcopy, base, branch, changes)
		if commits != b.Pending {
			fatalf("advance run %d: promoter made %d commits, want %d", i, commits, b.Pending)
		}
		clone, err := measure(ctx, dir, "floor-clone", env, "bash", o.floor, "clone", "file://"+fcopy, branch, filepath.Join(dir, "floor-work"))
		if err != nil || clone.Code != 0 {
			fatalf("floor clone %d: exit %d %v (see %s)", i, clone.Code, err, clone.Stderr)
		}
		push, err := measure(ctx, dir, "floor-commit", env, "bash", o.floor, "commit", filepath.Join(dir, "floor-work"), branch, changes)
		if err != nil || push.Code != 0 {
			fatalf("floor commits %d: exit %d %v (see %s)", i, push.Code, err, push.Stderr)
		}
		ptree := git(ctx, pcopy, "rev-parse", branch+"^{tree}")
		ftree := git(ctx, fcopy, "rev-parse", branch+"^{tree}")
		if ptree != ftree {
			fatalf("advance run %d: the floor's tree %s differs from promoter's %s", i, ftree, ptree)
		}
		if fc := git(ctx, fcopy, "rev-list", "--count", base+".."+branch); fc != fmt.Sprint(commits) {
			fatalf("advance run %d: the floor made %s commits, want %d", i, fc, commits)
		}
		logf("advance %d/%d: promoter %s (%d MB); floor clone %s + %d commits and pushes %s; %d Prometheus requests",
			i, o.advanceRuns, s.Wall.Round(time.Millisecond), s.RSS>>20, clone.Wall.Round(time.Millisecond), commits, push.Wall.Round(time.Millisecond), n)
		r.Promoter = append(r.Promoter, s)
		r.FloorClone = append(r.FloorClone, clone)
		r.FloorCommits = append(r.FloorCommits, push)
		r.PromRequests = append(r.PromRequests, n)
		if err := os.RemoveAll(dir); err != nil {
			fatalf("%v", err)
		}
	}
	return r
}

// runProm counts the Prometheus requests of a run over N progressing
// canaries, for each bench/progressing-N branch.
func runProm(ctx context.Context, o options, meta Meta, prom *promStub) []promResult {
	var out []promResult
	for _, name := range sortedBranches(meta, func(b Branch) bool { return b.Progressing > 0 }) {
		b := meta.Branches[name]
		copyDir := filepath.Join(o.work, "prom.git")
		copyRepo(ctx, o.repo, copyDir)
		tip := git(ctx, copyDir, "rev-parse", name)
		repoArg := o.repoArg(ctx, copyDir, name, filepath.Join(o.work, "prom-checkout"))
		r := promResult{Branch: name, Canaries: b.Progressing, Step: b.Step,
			Command: fmt.Sprintf("promoter run --repo %s --branch %s --now %s --prometheus $PROM --log-format json", o.repoShown("$COPY"), name, b.Now)}
		for i := 1; i <= o.promRuns; i++ {
			s, err := measure(ctx, o.work, fmt.Sprintf("prom-%d-%d", b.Progressing, i), nil, o.promoter,
				"run", "--repo", repoArg, "--branch", name, "--now", b.Now, "--prometheus", prom.URL, "--log-format", "json")
			if err != nil || s.Code != 0 {
				fatalf("prometheus run on %s: exit %d %v (see %s)", name, s.Code, err, s.Stderr)
			}
			n, byPath := prom.take()
			if now := git(ctx, copyDir, "rev-parse", name); now != tip {
				fatalf("prometheus run on %s pushed (the stub's empty answers should hold every canary)", name)
			}
			logf("prometheus %s %d/%d: %s, %d MB, %d requests %v", name, i, o.promRuns, s.Wall.Round(time.Millisecond), s.RSS>>20, n, byPath)
			r.Samples = append(r.Samples, s)
			r.Requests = append(r.Requests, n)
			r.ByPath = byPath
		}
		out = append(out, r)
	}
	return out
}

// runRollback measures `promoter rollback` as a command and in-process.
func runRollback(ctx context.Context, o options, meta Meta) *rollbackResult {
	var index int
	if _, err := fmt.Sscanf(o.canary, "app-%d", &index); err != nil {
		fatalf("-rollback-canary %q: not app-NNNN", o.canary)
	}
	branch := ""
	for _, name := range sortedBranches(meta, func(b Branch) bool { return b.Progressing >= index }) {
		if branch == "" || meta.Branches[name].Progressing == 100 {
			branch = name
		}
	}
	if branch == "" {
		fatalf("no bench/progressing-N branch with N >= %d in %s", index, o.repo)
	}
	r := &rollbackResult{Branch: branch, Canary: o.canary, Step: meta.Branches[branch].Step,
		Command: fmt.Sprintf("promoter rollback %s --reason bench --repo file://$COPY --branch %s --log-format json", o.canary, branch)}
	copyDir := filepath.Join(o.work, "rollback.git")
	for i := 1; i <= o.runs; i++ {
		copyRepo(ctx, o.repo, copyDir)
		s, err := measure(ctx, o.work, fmt.Sprintf("rollback-%d", i), nil, o.promoter,
			"rollback", o.canary, "--reason", "bench", "--repo", "file://"+copyDir, "--branch", branch, "--log-format", "json")
		if err != nil || s.Code != 0 {
			fatalf("rollback %d: exit %d %v (see %s)", i, s.Code, err, s.Stderr)
		}
		pushed := pushedAt(s.Stderr)
		if len(pushed) != 1 {
			fatalf("rollback %d: %d pushes logged, want 1", i, len(pushed))
		}
		copyRepo(ctx, o.repo, copyDir)
		inproc, err := rollbackInProcess(ctx, copyDir, branch, o.canary)
		if err != nil {
			fatalf("rollback %d in-process: %v", i, err)
		}
		logf("rollback %d/%d: command %s (%d MB, pushed %s after start); in-process decision to pushed %s",
			i, o.runs, s.Wall.Round(time.Millisecond), s.RSS>>20, pushed[0].Sub(s.Start).Round(time.Millisecond), inproc.Round(time.Millisecond))
		r.Command_ = append(r.Command_, s)
		r.PushedAfter = append(r.PushedAfter, pushed[0].Sub(s.Start))
		r.InProcess = append(r.InProcess, inproc)
	}
	return r
}
