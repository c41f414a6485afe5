package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
	"github.com/promoter-dev/promoter/internal/kustomizetest"
	"github.com/promoter-dev/promoter/internal/mesh"
	"github.com/promoter-dev/promoter/internal/mesh/meshtest"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/render/schema"
	"github.com/promoter-dev/promoter/internal/spec"
)

// adoptFixture is a GitOps repository under testdata/adopt built from
// third-party manifests (see testdata/adopt/README.md) with a Canary spec
// added, and the traffic its service gets in the simulated mesh.
type adoptFixture struct {
	dir, canary string
	// namespace and service are the destination service's labels;
	// stable and canary the versions' destination_version and
	// destination_workload.
	namespace, service string
	stable, canaryV    mesh.Version
	// adds is the overlay file validate says the first commit adds the
	// components entry to ("" when it lists it already).
	adds string
	// firstRunCommits is how many commits the first run lands (0: one;
	// two when the step's pull request is merged).
	firstRunCommits int
	// reporter is the reporter label of the service's series ("":
	// destination); waypoint for the Gateway API routes of ambient mode.
	reporter string
}

var adoptFixtures = []adoptFixture{
	{
		dir: "bookinfo", canary: "reviews", namespace: "bookinfo", service: "reviews",
		stable:  mesh.Version{Name: "v2", Workload: "reviews-v2"},
		canaryV: mesh.Version{Name: "v3", Workload: "reviews-v3"},
		adds:    "apps/reviews/overlays/production/kustomization.yml",
	},
	{
		dir: "flagger-podinfo", canary: "podinfo", namespace: "test", service: "podinfo",
		stable:  mesh.Version{Name: "primary", Workload: "prod-podinfo"},
		canaryV: mesh.Version{Name: "canary", Workload: "prod-podinfo-canary"},
		adds:    "apps/podinfo/overlays/prod/kustomization.yaml",
	},
	{
		dir: "guestbook", canary: "guestbook", namespace: "guestbook", service: "kustomize-guestbook-ui",
		stable:  mesh.Version{Name: "stable", Workload: "kustomize-guestbook-ui"},
		canaryV: mesh.Version{Name: "canary", Workload: "kustomize-guestbook-ui-canary"},
		adds:    "guestbook/overlays/prod/Kustomization",
	},
	{
		dir: "argo-rollouts-subset", canary: "istio-subset-split", namespace: "rollouts-demo", service: "istio-subset-split",
		// No analysis.versions: the subsets (stable, canary) select the
		// pods by version labels v1 and v2.
		stable:  mesh.Version{Name: "v1", Workload: "istio-subset-split-stable"},
		canaryV: mesh.Version{Name: "v2", Workload: "istio-subset-split-canary"},
		adds:    "apps/istio-subset-split/overlays/production/kustomization.yaml",
	},
	{
		// A split by host: each version is its own Service, and Istio's
		// metrics tell them apart by destination_service_name.
		dir: "argo-rollouts-host", canary: "istio-host-split", namespace: "rollouts-demo", service: "istio-host-split",
		stable:  mesh.Version{Name: "v1", Workload: "istio-host-split-stable", Service: "istio-host-split-stable"},
		canaryV: mesh.Version{Name: "v1", Workload: "istio-host-split-canary", Service: "istio-host-split-canary"},
		adds:    "apps/istio-host-split/overlays/production/kustomization.yaml",
	},
	{
		dir: "podinfo-backend", canary: "backend", namespace: "podinfo", service: "backend",
		stable:  mesh.Version{Name: "stable", Workload: "backend"},
		canaryV: mesh.Version{Name: "canary", Workload: "backend-canary"},
	},
	{
		dir: "bookinfo-delegate", canary: "reviews", namespace: "bookinfo", service: "reviews",
		stable:  mesh.Version{Name: "v2", Workload: "reviews-v2"},
		canaryV: mesh.Version{Name: "v3", Workload: "reviews-v3"},
		adds:    "bookinfo/overlays/prod/kustomization.yaml",
	},
	{
		// Ambient mode: Istio's HTTPRoute of Bookinfo's reviews, applied by
		// a waypoint that reports the requests of each backend Service.
		dir: "bookinfo-ambient", canary: "reviews", namespace: "bookinfo", service: "reviews", reporter: "waypoint",
		stable:  mesh.Version{Name: "v1", Workload: "reviews-v1", Service: "reviews-v1"},
		canaryV: mesh.Version{Name: "v2", Workload: "reviews-v2", Service: "reviews-v2"},
		adds:    "apps/reviews/overlays/production/kustomization.yaml",
	},
	{
		dir: "gateway-api-http", canary: "bar", namespace: "bar", service: "bar-svc", reporter: "waypoint",
		stable:  mesh.Version{Name: "v1", Workload: "bar-svc", Service: "bar-svc"},
		canaryV: mesh.Version{Name: "v1", Workload: "bar-svc-canary", Service: "bar-svc-canary"},
		adds:    "apps/bar/overlays/prod/kustomization.yaml",
	},
	{
		dir: "gateway-api-grpc", canary: "bar", namespace: "grpc", service: "bar-svc", reporter: "waypoint",
		stable:  mesh.Version{Name: "v1", Workload: "bar-svc", Service: "bar-svc"},
		canaryV: mesh.Version{Name: "v1", Workload: "bar-svc-canary", Service: "bar-svc-canary"},
	},
}

// promoterCmd runs promoter and returns its standard output and exit
// code; its log goes to the test log. It runs in-process, or as the
// binary $PROMOTER_TEST_BINARY names when that is set (make test: see
// testBinary), so that the adoption and init tests, which drive promoter
// through whole schedules, do not run kustomize and the PromQL client
// under the race detector there; the GitHub and watch end-to-end tests
// still run promoter in-process under -race.
func promoterCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, log bytes.Buffer
	var code int
	if bin := testBinary(t); bin != "" {
		cmd := exec.Command(bin, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &out, &log
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			code = exit.ExitCode()
		case err != nil:
			t.Fatalf("promoter %s: %v", args[0], err)
		}
	} else {
		code = execute(context.Background(), args, strings.NewReader(""), &out, &log)
	}
	if log.Len() > 0 {
		t.Logf("promoter %s:\n%s", args[0], log.String())
	}
	return out.String(), code
}

// adoptStart is when the simulated traffic starts.
var adoptStart = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// adoptRepo copies a fixture, validates it and serves it as a remote.
func adoptRepo(t *testing.T, fx adoptFixture) (remote, bare string) {
	t.Helper()
	return adoptRepoSteps(t, fx, false)
}

// middleStep is the step between the fixtures' first (10%) and the
// promotion.
const middleStep = "    - {weight: 50, pause: 5m}\n"

// adoptRepoSteps is adoptRepo with the middle step dropped from the
// fixture's Canary spec when dropMiddle is set: the canary goes from its
// first step straight to promotion.
func adoptRepoSteps(t *testing.T, fx adoptFixture, dropMiddle bool) (remote, bare string) {
	t.Helper()
	work := t.TempDir()
	if err := copyDir(filepath.Join("testdata/adopt", fx.dir), work); err != nil {
		t.Fatal(err)
	}
	if dropMiddle {
		dropped := 0
		err := filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if !bytes.Contains(data, []byte("\nkind: Canary\n")) || !bytes.Contains(data, []byte(middleStep)) {
				return nil
			}
			dropped++
			return os.WriteFile(p, bytes.Replace(data, []byte(middleStep), nil, 1), 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
		if dropped != 1 {
			t.Fatalf("test bug: %d Canary specs in %s have the step %q, want 1", dropped, fx.dir, strings.TrimSpace(middleStep))
		}
	}
	out, code := promoterCmd(t, "validate", "--repo", work)
	if code != 0 {
		t.Fatalf("validate exited %d:\n%s", code, out)
	}
	if want := fmt.Sprintf("the first commit adds promoter/%s to the components of %s", fx.canary, fx.adds); fx.adds != "" && !strings.Contains(out, want) {
		t.Errorf("validate does not say %q:\n%s", want, out)
	}
	srv := gittest.NewServer(t)
	bare = srv.SeedDir(t, "gitops", "main", work)
	return srv.RepoURL("gitops"), bare
}

func adoptMesh(t *testing.T, fx adoptFixture, health string) *testMesh {
	t.Helper()
	h, rps, err := canaryHealth(health)
	if err != nil {
		t.Fatal(err)
	}
	m := &testMesh{now: adoptStart, canary: fx.canary}
	stable, canary := fx.stable, fx.canaryV
	stable.Health, canary.Health = healthyVersion, h
	m.Env = meshtest.Start(t, mesh.Options{
		Start: adoptStart, Seed: 11, ScrapeInterval: 30 * time.Second,
		Services: []mesh.Service{{
			Namespace: fx.namespace, Name: fx.service, RPS: rps, Stable: stable, Canary: canary, Reporter: fx.reporter,
			Weight: func(time.Time) int { m.mu.Lock(); defer m.mu.Unlock(); return m.weight },
		}},
	}, m.clock)
	return m
}

// TestAdoptPromotes takes each fixture from validate through runs every 5
// simulated minutes over a healthy canary to promotion, and checks every
// commit promoter pushes.
//
// It runs reduced by default: each fixture's spec loses its middle step
// (50%), so the canary goes through what differs from fixture to fixture
// (adoption, the first step's commit, which also adds the component to
// the overlay, and the promotion) and skips a second weight change like
// the first. With PROMOTER_TEST_FULL=1 (make test-full) every fixture
// runs every step.
func TestAdoptPromotes(t *testing.T) {
	t.Parallel()
	full := os.Getenv("PROMOTER_TEST_FULL") != ""
	for _, fx := range adoptFixtures {
		t.Run(fx.dir, func(t *testing.T) {
			t.Parallel()
			remote, bare := adoptRepoSteps(t, fx, !full)
			v := newCommitVerifier(t, bare, fx)
			m := adoptMesh(t, fx, "healthy")
			adoptUntilPromoted(t, fx, remote, bare, m, v, 5*time.Minute)
		})
	}
}

// adoptUntilPromoted runs promoter every cadence of simulated time over a
// healthy canary until it is promoted, checking every commit it pushes.
func adoptUntilPromoted(t *testing.T, fx adoptFixture, remote, bare string, m *testMesh, v *commitVerifier, cadence time.Duration) {
	t.Helper()
	adoptUntilPromotedAt(t, fx, remote, bare, m, v, func(int) time.Duration { return cadence })
}

// pausesOf runs promoter when each pause of sched is over: one run per
// step, as a run between them holds and writes nothing.
func pausesOf(sched schedule) func(i int) time.Duration {
	return func(i int) time.Duration {
		if i+1 < len(sched) {
			return sched[i+1].after
		}
		return 30 * time.Minute
	}
}

// initSchedule edits the Canary spec that init wrote at p to the steps of
// testSchedule and returns its schedule and the weights its commits go
// through, as the feature flag's rollout_percentage shows them.
func initSchedule(t *testing.T, p string) (schedule, string) {
	t.Helper()
	edits, sched := testSchedule()
	if edits == nil {
		return sched, "5 10 25 50 75 100"
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for from, to := range edits {
		if !bytes.Contains(data, []byte(from)) {
			t.Fatalf("init's canary spec has no %q:\n%s", from, data)
		}
		data = bytes.Replace(data, []byte(from), []byte(to), 1)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return sched, "5 75 100"
}

// adoptUntilPromotedAt is adoptUntilPromoted with the run after run i
// coming after(i) later.
func adoptUntilPromotedAt(t *testing.T, fx adoptFixture, remote, bare string, m *testMesh, v *commitVerifier, after func(i int) time.Duration) {
	t.Helper()
	at := adoptStart.Add(time.Hour)
	for i := 0; ; i++ {
		if _, err := m.advance(bare, at); err != nil {
			t.Fatal(err)
		}
		out, code := promoterCmd(t, "run", "--repo", remote, "--prometheus", m.URL, "--now", at.Format(time.RFC3339))
		if code != 0 {
			t.Fatalf("run at %s exited %d:\n%s", at.Format(time.RFC3339), code, out)
		}
		if i == 0 && !strings.HasPrefix(out, fmt.Sprintf("%s: start 0%% -> ", fx.canary)) {
			t.Fatalf("first run did not start the canary:\n%s", out)
		}
		commits := v.verifyNew()
		if want := max(fx.firstRunCommits, 1); i == 0 && commits != want {
			t.Fatalf("first run landed %d commits, want %d", commits, want)
		}
		if strings.Contains(out, "[Succeeded]") {
			t.Logf("promoted by run %d", i+1)
			break
		}
		if i > 40 {
			t.Fatalf("not promoted after %d runs:\n%s", i, out)
		}
		at = at.Add(after(i))
	}
	if v.last.Weight != 0 || v.last.StableImage == "" {
		t.Errorf("promoted stage is %+v, want weight 0 and the stable image pinned", v.last.Stage)
	}
}

// TestAdoptRollsBack drives each fixture over a bad canary to a revert:
// exit 3, 100% stable.
//
// It runs reduced by default: one fixture of each way to split traffic
// (a VirtualService's subsets, its hosts, an HTTPRoute through a waypoint,
// a GRPCRoute), as a revert differs by route and not by the manifests
// around it; TestAdoptPromotes adopts every fixture. With
// PROMOTER_TEST_FULL=1 (make test-full) every fixture rolls back.
func TestAdoptRollsBack(t *testing.T) {
	t.Parallel()
	full := os.Getenv("PROMOTER_TEST_FULL") != ""
	oneOfEach := []string{"bookinfo", "argo-rollouts-host", "bookinfo-ambient", "gateway-api-grpc"}
	for _, fx := range adoptFixtures {
		if !full && !slices.Contains(oneOfEach, fx.dir) {
			continue
		}
		t.Run(fx.dir, func(t *testing.T) {
			t.Parallel()
			remote, bare := adoptRepo(t, fx)
			v := newCommitVerifier(t, bare, fx)
			m := adoptMesh(t, fx, "bad")
			adoptUntilRollback(t, fx, remote, bare, m, v, "", nil)
		})
	}
}

// adoptUntilRollback runs promoter every 5 simulated minutes until it
// rolls back, calling after(i) after each run that did not.
// A run that exits 1 saying tolerate ("" for none) is not a failure.
func adoptUntilRollback(t *testing.T, fx adoptFixture, remote, bare string, m *testMesh, v *commitVerifier, tolerate string, after func(int)) string {
	t.Helper()
	at := adoptStart.Add(time.Hour)
	for i := 0; ; i++ {
		if _, err := m.advance(bare, at); err != nil {
			t.Fatal(err)
		}
		out, code := promoterCmd(t, "run", "--repo", remote, "--prometheus", m.URL, "--now", at.Format(time.RFC3339))
		v.verifyNew()
		if code == 3 {
			if !strings.Contains(out, fmt.Sprintf("%s: rollback ", fx.canary)) || !strings.Contains(out, "[RolledBack]") {
				t.Fatalf("exit 3 without a rollback:\n%s", out)
			}
			if v.last.Weight != 0 || v.last.Rollback == nil {
				t.Fatalf("rolled-back stage is %+v", v.last.Stage)
			}
			msg := gittest.Git(t, bare, "log", "-1", "--format=%B", "main")
			if !strings.HasPrefix(msg, "Revert ") {
				t.Errorf("the rollback is not a revert:\n%s", msg)
			}
			t.Logf("rolled back by run %d", i+1)
			return out
		}
		if code != 0 && !(code == 1 && tolerate != "" && strings.Contains(out, tolerate)) {
			t.Fatalf("run at %s exited %d:\n%s", at.Format(time.RFC3339), code, out)
		}
		if i > 40 {
			t.Fatalf("not rolled back after %d runs:\n%s", i, out)
		}
		if after != nil {
			after(i)
		}
		at = at.Add(5 * time.Minute)
	}
}

// commitVerifier checks each commit that lands on main: its tree builds
// byte-identically with the kustomize CLI and in-process; the split route
// has the committed weights; and nothing but the weights, promoter's
// annotations and the two Deployments' images and replicas differs from
// the repository as the humans committed it.
type commitVerifier struct {
	t       *testing.T
	bare    string
	fx      adoptFixture
	cli     string
	seen    string
	base    *render.Base
	c       *spec.Canary
	initial []any
	last    *render.Committed
	// flags is the tied feature flag's rollout_percentage in each
	// verified commit's build, in order (with spec.featureFlag).
	flags []string
	// authoredFlag is the flag's rollout_percentage as the humans wrote it.
	authoredFlag string
	// trees are the trees verified already: a pull request's merge
	// commit has its head's tree, which builds the same.
	trees map[string]bool
}

func newCommitVerifier(t *testing.T, bare string, fx adoptFixture) *commitVerifier {
	t.Helper()
	v := &commitVerifier{t: t, bare: bare, fx: fx, cli: kustomizetest.CLI(t), trees: map[string]bool{}}
	v.seen = gittest.Git(t, bare, "rev-parse", "main")
	dir := v.export(v.seen)
	cs, err := spec.Load(context.Background(), os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Metadata.Name == fx.canary {
			v.c = c
		}
	}
	if v.c == nil {
		t.Fatalf("no canary %s", fx.canary)
	}
	if v.base, err = render.Inspect(v.c, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	// An overlay that lists promoter's component before it exists builds,
	// as the humans meant it, with an empty one.
	if comp := filepath.Join(dir, render.ComponentDir(v.c)); !exists(comp) {
		empty := "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: []\n"
		if err := os.MkdirAll(comp, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(comp, "kustomization.yaml"), []byte(empty), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	initial := v.cliBuild(dir)
	v.initial = v.normalize(initial)
	if v.c.Spec.FeatureFlag != nil {
		v.authoredFlag = v.flagPercentage(decodeDocs(t, initial))
	}
	return v
}

// flagPercentage is the tied flag's rollout_percentage in built docs (its
// JSON text), failing the test when the ConfigMap or the flag is missing.
func (v *commitVerifier) flagPercentage(docs []any) string {
	v.t.Helper()
	ff := v.c.Spec.FeatureFlag
	for _, d := range docs {
		m := d.(map[string]any)
		if m["kind"] != "ConfigMap" || m["metadata"].(map[string]any)["name"] != ff.ConfigMap {
			continue
		}
		flags := decodeJSON(v.t, m["data"].(map[string]any)[ff.Key].(string))
		flag, ok := flags[ff.Name].(map[string]any)
		if !ok {
			v.t.Fatalf("built ConfigMap %s has no flag %s", ff.ConfigMap, ff.Name)
		}
		return fmt.Sprint(flag["rollout_percentage"])
	}
	v.t.Fatalf("no ConfigMap %s built", ff.ConfigMap)
	return ""
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var out map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return out
}

func (v *commitVerifier) export(rev string) string {
	v.t.Helper()
	dir := v.t.TempDir()
	cmd := exec.Command("sh", "-c", fmt.Sprintf("git --git-dir=%q archive %s | tar -x -C %q", v.bare, rev, dir))
	if out, err := cmd.CombinedOutput(); err != nil {
		v.t.Fatalf("export %s: %v\n%s", rev, err, out)
	}
	return dir
}

func (v *commitVerifier) cliBuild(dir string) []byte {
	v.t.Helper()
	cmd := exec.Command(v.cli, "build", filepath.Join(dir, v.c.Spec.Overlay))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		v.t.Fatalf("kustomize build: %v\n%s", err, stderr.String())
	}
	return out
}

// verifyNew checks the commits landed since the last call and returns
// how many there were.
func (v *commitVerifier) verifyNew() int {
	v.t.Helper()
	tip := gittest.Git(v.t, v.bare, "rev-parse", "main")
	if tip == v.seen {
		return 0
	}
	revs := strings.Fields(gittest.Git(v.t, v.bare, "rev-list", "--reverse", v.seen+".."+tip))
	for _, rev := range revs {
		tree := gittest.Git(v.t, v.bare, "rev-parse", rev+"^{tree}")
		if v.trees[tree] {
			continue
		}
		v.trees[tree] = true
		v.verify(rev)
	}
	v.seen = tip
	return len(revs)
}

func (v *commitVerifier) verify(rev string) {
	t := v.t
	t.Helper()
	dir := v.export(rev)
	fsys := os.DirFS(dir)
	cli := v.cliBuild(dir)
	own, err := render.Build(fsys, v.c.Spec.Overlay, nil)
	if err != nil {
		t.Fatalf("commit %.12s does not build in-process: %v", rev, err)
	}
	if !bytes.Equal(cli, own) {
		t.Fatalf("commit %.12s: kustomize CLI and promoter build differently:\n--- CLI\n%s\n--- promoter\n%s", rev, cli, own)
	}
	st, err := render.ReadStage(v.c, fsys)
	if err != nil {
		t.Fatalf("commit %.12s: %v", rev, err)
	}
	v.last = st
	// The split route has the committed weights.
	docs := decodeDocs(t, cli)
	b := v.base
	var vs map[string]any
	for _, d := range docs {
		m := d.(map[string]any)
		md := m["metadata"].(map[string]any)
		if m["kind"] == routeKind(b) && md["name"] == b.VSName {
			vs = m
		}
	}
	if vs == nil {
		t.Fatalf("commit %.12s: %s %s not built", rev, routeKind(b), b.VSName)
	}
	route := splitDests(vs, b)
	weight := func(i int) any { return route[i].(map[string]any)["weight"] }
	if got, want := weight(b.StableDest), 100-st.Weight; got != want {
		t.Errorf("commit %.12s: stable weight %v, want %d", rev, got, want)
	}
	if got, want := weight(b.CanaryDest), st.Weight; got != want {
		t.Errorf("commit %.12s: canary weight %v, want %d", rev, got, want)
	}
	// Every Gateway API resource validates against the CRDs of the
	// gateway-api module, as the API server would check it.
	for _, d := range docs {
		m := d.(map[string]any)
		if api, _ := m["apiVersion"].(string); !strings.HasPrefix(api, "gateway.networking.k8s.io/") {
			continue
		}
		set, err := schema.GatewayAPI()
		if err != nil {
			t.Fatal(err)
		}
		problems, err := set.Validate(jsonRoundTrip(t, m))
		if err != nil || len(problems) > 0 {
			t.Errorf("commit %.12s: %s %v does not validate against the Gateway API CRDs: %v %v", rev, m["kind"], m["metadata"].(map[string]any)["name"], err, problems)
		}
	}
	// The tied feature flag follows the weight (100 once promoted) and
	// is as written before the first step and after a rollback.
	if v.c.Spec.FeatureFlag != nil {
		got := v.flagPercentage(docs)
		want := v.authoredFlag
		if p, ok := render.FlagPercentage(v.c, st.Stage); ok {
			want = strconv.Itoa(p)
		}
		if got != want {
			t.Errorf("commit %.12s: flag %s has rollout_percentage %s, want %s", rev, v.c.Spec.FeatureFlag.Name, got, want)
		}
		v.flags = append(v.flags, got)
	}
	if got := v.normalize(cli); !reflect.DeepEqual(got, v.initial) {
		a, _ := yaml.Marshal(v.initial)
		g, _ := yaml.Marshal(got)
		t.Errorf("commit %.12s changes more than the weights, images and replicas:\n--- before\n%s\n--- after\n%s", rev, a, g)
	}
}

func decodeDocs(t *testing.T, data []byte) []any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []any
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			break
		}
		out = append(out, d)
	}
	return out
}

// normalize drops what promoter may change from built manifests.
func (v *commitVerifier) normalize(data []byte) []any {
	docs := decodeDocs(v.t, data)
	b := v.base
	for _, d := range docs {
		m := d.(map[string]any)
		md := m["metadata"].(map[string]any)
		switch {
		case m["kind"] == routeKind(b) && md["name"] == b.VSName:
			if a, ok := md["annotations"].(map[string]any); ok {
				for k := range a {
					if strings.HasPrefix(k, "promoter.dev/") {
						delete(a, k)
					}
				}
				if len(a) == 0 {
					delete(md, "annotations")
				}
			}
			route := splitDests(m, b)
			for _, i := range []int{b.StableDest, b.CanaryDest} {
				delete(route[i].(map[string]any), "weight")
			}
		case m["kind"] == "ConfigMap" && b.Flag != nil && md["name"] == b.Flag.Name:
			// The flag's rollout_percentage; every other byte of the
			// JSON is compared as data.
			data := m["data"].(map[string]any)
			flags := decodeJSON(v.t, data[b.Flag.Key].(string))
			if flag, ok := flags[v.c.Spec.FeatureFlag.Name].(map[string]any); ok {
				delete(flag, "rollout_percentage")
			}
			data[b.Flag.Key] = flags
		case m["kind"] == "Deployment" && (md["name"] == b.Canary.Name || md["name"] == b.Stable.Name):
			s := m["spec"].(map[string]any)
			delete(s, "replicas")
			cs := s["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)
			delete(cs[b.Canary.Container].(map[string]any), "image")
		}
	}
	return docs
}

// routeKind is the kind of the split route.
func routeKind(b *render.Base) string {
	if b.Kind == "" {
		return "VirtualService"
	}
	return b.Kind
}

// splitDests is the destinations (a Gateway API rule's backendRefs) of the
// split route of the built route m.
func splitDests(m map[string]any, b *render.Base) []any {
	rules, dests := "http", "route"
	if routeKind(b) != "VirtualService" {
		rules, dests = "rules", "backendRefs"
	}
	return m["spec"].(map[string]any)[rules].([]any)[b.Route].(map[string]any)[dests].([]any)
}

// jsonRoundTrip gives a decoded YAML document the types of decoded JSON,
// as the schema validator expects.
func jsonRoundTrip(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func fixture(t *testing.T, dir string) adoptFixture {
	t.Helper()
	for _, fx := range adoptFixtures {
		if fx.dir == dir {
			return fx
		}
	}
	t.Fatalf("no fixture %s", dir)
	return adoptFixture{}
}

// Overlay fields that kustomize applies after promoter's component and
// that undo what it sets are refused by validate, before the first
// commit, with the field's file:line and what to change.
func TestAdoptRefusesOverrides(t *testing.T) {
	t.Parallel()
	const file = "apps/backend/overlays/production/kustomization.yaml"
	head := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: podinfo\nresources:\n  - ../../base\n"
	tests := []struct {
		name, fields, want string
		// noCanaryDest drops the canary's destination from the base.
		noCanaryDest bool
	}{
		{
			name:   "images entry of the canary's image",
			fields: "images:\n  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.1.3\n",
			want: file + ":7: images[0]: sets the image of container backend of Deployment backend-canary (to ghcr.io/stefanprodan/podinfo:6.1.3) after promoter's component, " +
				"so promoter cannot set the canary's image; images: sets every container of that image, stable and canary alike: " +
				"remove the entry and pin the stable image with a patch on Deployment backend instead",
		},
		{
			name:   "replicas entry of the canary",
			fields: "replicas:\n  - name: backend-canary\n    count: 2\n",
			want: file + ":7: replicas[0] (name: backend-canary): pins the replicas of Deployment backend-canary (to 2) after promoter's component, " +
				"so promoter cannot scale the canary (to 0 on rollback and promotion); remove it and set the replicas in the base, or spec.deployments.canaryReplicas in the Canary spec",
		},
		{
			name:   "replicas entry that kustomize also matches against the canary's original name",
			fields: "replicas:\n  - name: backend\n    count: 3\n",
			want:   file + ":7: replicas[0] (name: backend): pins the replicas of Deployment backend-canary (to 3) after promoter's component",
		},
		{
			name:   "patch on the canary's replicas",
			fields: "patches:\n  - target: {kind: Deployment, name: backend-canary}\n    patch: |-\n      - {op: replace, path: /spec/replicas, value: 1}\n",
			want:   file + ":7: patches[0]: pins the replicas of Deployment backend-canary (to 1) after promoter's component",
		},
		{
			name:   "patch on the split route's weights",
			fields: "patches:\n  - target: {kind: VirtualService, name: backend}\n    patch: |-\n      - {op: replace, path: /spec/http/1/route/0/weight, value: 90}\n",
			want: file + ":7: patches[0]: changes route http of VirtualService backend after promoter's component sets its weights; " +
				"move the route's destinations into the base's VirtualService (or a component listed before promoter/backend) and leave the weights to promoter",
		},
		{
			name:         "patch that adds the canary's destination",
			noCanaryDest: true,
			fields:       "patches:\n  - target: {kind: VirtualService, name: backend}\n    patch: |-\n      - {op: add, path: /spec/http/1/route/-, value: {destination: {host: backend, subset: canary}, weight: 0}}\n",
			want: "apps/backend/canary.yaml:9: spec.subsets.canary: route http of VirtualService backend has no destination with host backend and subset canary (destinations: backend subset stable) when promoter's component runs; " +
				file + ":7: patches[0] changes the VirtualService after it (kustomize applies an overlay's own patches after its components): put the destination in the base's VirtualService, or in a component listed before promoter/backend",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			if err := copyDir("testdata/adopt/podinfo-backend", work); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(work, file), []byte(head+tt.fields), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.noCanaryDest {
				p := filepath.Join(work, "apps/backend/base/istio.yaml")
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				cut := strings.Replace(string(data), "        - destination: {host: backend, subset: canary}\n          weight: 0\n", "", 1)
				if cut == string(data) {
					t.Fatal("the base has no canary destination to drop")
				}
				if err := os.WriteFile(p, []byte(cut), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, code := promoterCmd(t, "validate", "--repo", work)
			if code != 1 || !strings.Contains(out, tt.want) {
				t.Fatalf("validate exited %d, want 1 saying\n%s\ngot:\n%s", code, tt.want, out)
			}
		})
	}
}

// An overlay that pins the canary's replicas after the canary started
// does not block its rollback: the revert lands 100% stable, says the
// replicas stay as pinned, and the run exits 3.
func TestAdoptPinnedReplicasRollBack(t *testing.T) {
	t.Parallel()
	fx := fixture(t, "podinfo-backend")
	remote, bare := adoptRepo(t, fx)
	v := newCommitVerifier(t, bare, fx)
	m := adoptMesh(t, fx, "bad")
	const file = "apps/backend/overlays/production/kustomization.yaml"
	pinned := false
	out := adoptUntilRollback(t, fx, remote, bare, m, v, "pins the replicas of Deployment backend-canary", func(i int) {
		if i == 0 {
			gittest.CommitFiles(t, bare, "main", "Pin the canary's replicas", map[string]string{
				file: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: podinfo\nresources:\n  - ../../base\n" +
					"replicas:\n  - name: backend-canary\n    count: 2\ncomponents:\n  - promoter/backend\n",
			})
			pinned = true
		}
	})
	if !pinned {
		t.Fatal("rolled back before the replicas were pinned")
	}
	if !strings.Contains(out, "warning: the canary Deployment backend-canary keeps 2 replicas as the overlay pins them ("+file+":7: replicas[0]") {
		t.Errorf("the run does not warn about the pinned replicas:\n%s", out)
	}
	msg := gittest.Git(t, bare, "log", "-1", "--format=%B", "main")
	for _, want := range []string{"canary weight 0, canary replicas stay 2 as the overlay pins them.", "Warning: the canary Deployment backend-canary keeps 2 replicas"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the revert's message does not say %q:\n%s", want, msg)
		}
	}
}

// TestInitHostSplitPromotes scaffolds an application whose weighted route
// splits by host (init --split host), validates it, and runs it over a
// healthy canary to promotion; every commit builds as the kustomize CLI
// builds it and changes only the route's weights, images and replicas.
// make test cuts the scaffold's steps to 5% and 75% (see testSchedule),
// make test-full runs them all.
func TestInitHostSplitPromotes(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	out, code := promoterCmd(t, "init", "--name", "shop", "--namespace", "shop", "--split", "host", "--runners", "none", "--dir", work)
	if code != 0 {
		t.Fatalf("init exited %d:\n%s", code, out)
	}
	sched, weights := initSchedule(t, filepath.Join(work, "apps/shop/canary.yaml"))
	vs, err := os.ReadFile(filepath.Join(work, "apps/shop/base/virtualservice.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"host: shop-stable\n", "host: shop-canary\n"} {
		if !strings.Contains(string(vs), want) {
			t.Errorf("the VirtualService has no destination %q:\n%s", want, vs)
		}
	}
	if strings.Contains(string(vs), "subset:") {
		t.Errorf("the VirtualService of a split by host names subsets:\n%s", vs)
	}
	out, code = promoterCmd(t, "validate", "--repo", work)
	if code != 0 || !strings.Contains(out, "ok    shop (apps/shop/canary.yaml)") {
		t.Fatalf("validate exited %d:\n%s", code, out)
	}
	srv := gittest.NewServer(t)
	bare := srv.SeedDir(t, "gitops", "main", work)
	fx := adoptFixture{
		canary: "shop", namespace: "shop", service: "shop",
		stable:  mesh.Version{Name: "v1", Workload: "shop-stable", Service: "shop-stable"},
		canaryV: mesh.Version{Name: "v2", Workload: "shop-canary", Service: "shop-canary"},
		// The scaffold merges each step's pull request.
		firstRunCommits: 2,
	}
	v := newCommitVerifier(t, bare, fx)
	m := adoptMesh(t, fx, "healthy")
	adoptUntilPromotedAt(t, fx, srv.RepoURL("gitops"), bare, m, v, pausesOf(sched))
	// The scaffold ties its feature flag to the canary: in the built
	// ConfigMap of every commit (krusty and the kustomize CLI alike) its
	// rollout_percentage was the weight, then 100.
	if got, want := strings.Join(slices.Compact(v.flags), " "), weights; got != want {
		t.Errorf("the feature flag's rollout_percentage went %s over the commits, want %s", got, want)
	}
}

// TestInitFeatureFlagRollsBack scaffolds an application whose feature
// flag is written at 3%, runs a bad canary until it is rolled back, and
// checks that the flag followed the weight and then returned to 3 in the
// built ConfigMap.
func TestInitFeatureFlagRollsBack(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	out, code := promoterCmd(t, "init", "--name", "shop", "--namespace", "shop", "--runners", "none", "--dir", work)
	if code != 0 {
		t.Fatalf("init exited %d:\n%s", code, out)
	}
	p := filepath.Join(work, "apps/shop/base/feature-flags.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"rollout_percentage": 0,`) {
		t.Fatalf("init's flag is not at 0%%:\n%s", data)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), `"rollout_percentage": 0,`, `"rollout_percentage": 3,`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := gittest.NewServer(t)
	bare := srv.SeedDir(t, "gitops", "main", work)
	fx := adoptFixture{
		canary: "shop", namespace: "shop", service: "shop",
		stable:  mesh.Version{Name: "v1", Workload: "shop-stable"},
		canaryV: mesh.Version{Name: "v2", Workload: "shop-canary"},
	}
	v := newCommitVerifier(t, bare, fx)
	m := adoptMesh(t, fx, "bad")
	adoptUntilRollback(t, fx, srv.RepoURL("gitops"), bare, m, v, "", nil)
	if got, want := strings.Join(slices.Compact(v.flags), " "), "5 3"; got != want {
		t.Errorf("the feature flag's rollout_percentage went %s over the commits, want %s (the weight, then as written)", got, want)
	}
	if v.authoredFlag != "3" {
		t.Errorf("authored rollout_percentage %s, want 3", v.authoredFlag)
	}
}

// TestInitHTTPRoutePromotes scaffolds the ambient shape (init --route
// httproute), validates it, and runs it over a healthy canary, whose
// metrics only the waypoint reports, to promotion; every commit builds as
// the kustomize CLI builds it, validates against the Gateway API CRDs and
// changes only the rule's weights, images and replicas. make test cuts
// the scaffold's steps to 5% and 75% (see testSchedule), make test-full
// runs them all.
func TestInitHTTPRoutePromotes(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	out, code := promoterCmd(t, "init", "--name", "shop", "--namespace", "shop", "--route", "httproute", "--runners", "none", "--dir", work)
	if code != 0 {
		t.Fatalf("init exited %d:\n%s", code, out)
	}
	sched, _ := initSchedule(t, filepath.Join(work, "apps/shop/canary.yaml"))
	out, code = promoterCmd(t, "validate", "--repo", work)
	if code != 0 || !strings.Contains(out, "ok    shop (apps/shop/canary.yaml)") {
		t.Fatalf("validate exited %d:\n%s", code, out)
	}
	srv := gittest.NewServer(t)
	bare := srv.SeedDir(t, "gitops", "main", work)
	fx := adoptFixture{
		canary: "shop", namespace: "shop", service: "shop", reporter: "waypoint",
		stable:  mesh.Version{Name: "v1", Workload: "shop-stable", Service: "shop-stable"},
		canaryV: mesh.Version{Name: "v2", Workload: "shop-canary", Service: "shop-canary"},
		// The scaffold merges each step's pull request.
		firstRunCommits: 2,
	}
	v := newCommitVerifier(t, bare, fx)
	m := adoptMesh(t, fx, "healthy")
	adoptUntilPromotedAt(t, fx, srv.RepoURL("gitops"), bare, m, v, pausesOf(sched))
}

// A canary whose version label matches no series holds, and the run says
// which values the service reports and what to change.
func TestRunNamesReportedVersions(t *testing.T) {
	t.Parallel()
	fx := fixture(t, "argo-rollouts-subset")
	// analysis.versions defaults to v1 and v2 (the subsets' labels), but
	// the canary's pods report v3.
	fx.canaryV.Name = "v3"
	remote, bare := adoptRepo(t, fx)
	m := adoptMesh(t, fx, "healthy")
	at := adoptStart.Add(time.Hour)
	for i := 0; i < 2; i++ {
		if _, err := m.advance(bare, at); err != nil {
			t.Fatal(err)
		}
		out, code := promoterCmd(t, "run", "--repo", remote, "--prometheus", m.URL, "--now", at.Format(time.RFC3339))
		if code != 0 {
			t.Fatalf("run at %s exited %d:\n%s", at.Format(time.RFC3339), code, out)
		}
		if i == 0 {
			if !strings.HasPrefix(out, fx.canary+": start 0% -> ") {
				t.Fatalf("first run did not start the canary:\n%s", out)
			}
			at = at.Add(30 * time.Minute)
			continue
		}
		want := `no series with destination_version="v2"; this service reports destination_version v1, v3: set spec.analysis.versions`
		if !strings.Contains(out, fx.canary+": hold at ") || !strings.Contains(out, want) {
			t.Fatalf("the run does not hold saying %q:\n%s", want, out)
		}
	}
}

// A rule moved in the base while the canary runs: the committed component
// no longer builds (its test op of the rule's name fails), and the next
// run re-renders it for the rule's new position, at the same stage.
func TestAdoptGatewayMovedRule(t *testing.T) {
	t.Parallel()
	fx := fixture(t, "gateway-api-http")
	remote, bare := adoptRepo(t, fx)
	v := newCommitVerifier(t, bare, fx)
	m := adoptMesh(t, fx, "healthy")
	at := adoptStart.Add(time.Hour)
	if _, err := m.advance(bare, at); err != nil {
		t.Fatal(err)
	}
	out, code := promoterCmd(t, "run", "--repo", remote, "--prometheus", m.URL, "--now", at.Format(time.RFC3339))
	if code != 0 || !strings.HasPrefix(out, "bar: start 0% -> 10%") {
		t.Fatalf("first run exited %d:\n%s", code, out)
	}
	v.verifyNew()

	// A human adds a rule before the split rule.
	const base = "apps/bar/base/kustomization.yaml"
	data, err := os.ReadFile(filepath.Join("testdata/adopt/gateway-api-http", base))
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(string(data), "      - op: add\n        path: /spec/rules/3/name\n        value: default\n      - op: add\n        path: /spec/rules/3/backendRefs/-",
		"      - op: add\n        path: /spec/rules/3\n        value: {name: health, matches: [{path: {type: Exact, value: /healthz}}], backendRefs: [{name: bar-svc, port: 8080}]}\n"+
			"      - op: add\n        path: /spec/rules/4/name\n        value: default\n      - op: add\n        path: /spec/rules/4/backendRefs/-", 1)
	if moved == string(data) {
		t.Fatal("test bug: the base's patch did not change")
	}
	gittest.CommitFiles(t, bare, "main", "Add a health rule", map[string]string{base: moved})
	human := gittest.Git(t, bare, "rev-parse", "main")
	dir := v.export(human)
	if _, err := render.Build(os.DirFS(dir), "apps/bar/overlays/prod", nil); err == nil || !strings.Contains(err.Error(), "testing value /spec/rules/3/name failed") {
		t.Fatalf("the moved rule does not fail the committed component loudly: %v", err)
	}
	v.seen = human

	at = at.Add(5 * time.Minute)
	if _, err := m.advance(bare, at); err != nil {
		t.Fatal(err)
	}
	out, code = promoterCmd(t, "run", "--repo", remote, "--prometheus", m.URL, "--now", at.Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("the run after the move exited %d:\n%s", code, out)
	}
	tip := gittest.Git(t, bare, "rev-parse", "main")
	if tip == human {
		t.Fatalf("the run did not re-render the component:\n%s", out)
	}
	dir = v.export(tip)
	cli := v.cliBuild(dir)
	own, err := render.Build(os.DirFS(dir), "apps/bar/overlays/prod", nil)
	if err != nil || !bytes.Equal(cli, own) {
		t.Fatalf("the re-rendered commit builds differently with the kustomize CLI (%v)", err)
	}
	if !strings.Contains(string(cli), "    name: health\n  - backendRefs:\n    - name: bar-svc\n      port: 8080\n      weight: 90\n    - name: bar-svc-canary\n      port: 8080\n      weight: 10\n    name: default\n") {
		t.Errorf("the re-rendered commit does not weigh rule default after the new rule:\n%s", cli)
	}
}
