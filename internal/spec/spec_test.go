package spec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// valid is a complete spec; malformed cases edit one line of it, so every
// expected line number below is a line of this text.
const valid = `apiVersion: promoter.dev/v1alpha1
kind: Canary
metadata:
  name: myapp
spec:
  overlay: apps/myapp/overlays/production
  virtualService:
    name: myapp-routing
    namespace: canary-demo
    route: canary-route
  host: myapp
  subsets: {stable: stable, canary: canary}
  deployments: {stable: myapp-stable, canary: myapp-canary, container: myapp}
  steps:
    - {weight: 5, pause: 30m}
    - {weight: 10, pause: 1h}
    - {weight: 25, pause: 2h}
  analysis:
    interval: 5m
    threshold: 5
    minRequests: 1000
    versions: {stable: v1, canary: v2}
    gates:
      - {name: error-rate, type: error-rate, max: 0.01}
      - {name: p99-latency, type: latency, quantile: 0.99, max: 500ms}
      - {name: p99-vs-stable, type: latency, maxIncrease: 10%}
      - {name: regression, type: sequential, alpha: 0.01}
    rollbackOn:
      - {type: error-rate, max: 0.05}
  webhooks:
    - {name: smoke, type: pre-rollout, url: http://smoke.test/, timeout: 15s}
  pullRequests:
    mode: auto-merge
    labels: [canary]
  notify:
    - {type: slack, urlFrom: env:SLACK_WEBHOOK_URL}
`

// edit replaces the first occurrence of old in the valid spec.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(valid, old) {
		t.Fatalf("test bug: %q is not in the valid spec", old)
	}
	return strings.Replace(valid, old, new, 1)
}

func parseAndValidate(src string) error {
	cs, err := Parse(strings.NewReader(src), "apps/myapp/canary.yaml")
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		c.Normalize()
		errs = append(errs, c.Validate())
	}
	return Join(errs...)
}

func TestValidSpec(t *testing.T) {
	c := validCanary(t, valid, "canary.yaml")
	if got := c.Spec.Steps[1].Pause.Duration; got != time.Hour {
		t.Errorf("steps[1].pause = %v, want 1h", got)
	}
	g := c.Spec.Analysis.Gates[2]
	if g.Quantile != 0.99 {
		t.Errorf("latency gate quantile defaulted to %v, want 0.99", g.Quantile)
	}
	if f, ok := g.MaxIncrease.Number(); !ok || f != 0.1 {
		t.Errorf("maxIncrease 10%% = %v %v, want 0.1", f, ok)
	}
	if d, ok := c.Spec.Analysis.Gates[1].Max.Duration(); !ok || d != 500*time.Millisecond {
		t.Errorf("latency max = %v %v, want 500ms", d, ok)
	}
	if a := c.Spec.Analysis; a.Lag.Duration != DefaultLag || a.Warmup.Duration != 5*time.Minute {
		t.Errorf("lag %v, warmup %v: want the defaults 1m and one interval (5m)", a.Lag.Duration, a.Warmup.Duration)
	}
	if got := c.Spec.Analysis.RollbackOn[0].Name; got != "error-rate" {
		t.Errorf("unnamed rollback trigger got name %q, want its type", got)
	}
	if c.Source.LineOf("spec.steps[2].weight") != 17 {
		t.Errorf("line of spec.steps[2].weight = %d, want 17", c.Source.LineOf("spec.steps[2].weight"))
	}
}

func TestMalformedSpecs(t *testing.T) {
	const f = "apps/myapp/canary.yaml"
	tests := []struct {
		name string
		src  string
		want []string // every line of the error, in order
	}{
		{"weight over 100", edit(t, "{weight: 25, pause: 2h}", "{weight: 120, pause: 2h}"),
			[]string{f + ":17: spec.steps[2].weight: 120 is not under 100 (promotion to 100% follows the last step)"}},
		{"weight zero", edit(t, "{weight: 5, pause: 30m}", "{weight: 0, pause: 30m}"),
			[]string{f + ":15: spec.steps[0].weight: 0 must be above 0"}},
		{"weights not increasing", edit(t, "{weight: 10, pause: 1h}", "{weight: 5, pause: 1h}"),
			[]string{f + ":16: spec.steps[1].weight: 5 does not increase on the previous step's 5"}},
		{"lag not shorter than the interval", edit(t, "interval: 5m\n", "interval: 5m\n    lag: 5m\n"),
			[]string{f + `:20: spec.analysis.lag: "5m" must be shorter than spec.analysis.interval (5m)`}},
		{"negative warmup", edit(t, "interval: 5m\n", "interval: 5m\n    warmup: -1m\n"),
			[]string{f + `:20: spec.analysis.warmup: "-1m" is negative`}},
		{"bad pause", edit(t, "pause: 1h}", "pause: 1hour}"),
			[]string{f + `:16: spec.steps[1].pause: "1hour" is not a duration (use Go durations such as 30s, 5m, 1h30m)`}},
		{"negative interval", edit(t, "interval: 5m", "interval: -5m"),
			[]string{f + `:19: spec.analysis.interval: "-5m" must be positive`}},
		{"unknown field", edit(t, "    threshold: 5", "    treshold: 5"),
			[]string{f + `:20: spec.analysis.treshold: unknown field (did you mean "threshold"?)`}},
		{"unknown gate field", edit(t, "{name: error-rate, type: error-rate, max: 0.01}", "{name: error-rate, type: error-rate, maximum: 0.01}"),
			[]string{
				f + ":24: spec.analysis.gates[0]: a error-rate gate needs max, min or maxIncrease",
				f + `:24: spec.analysis.gates[0].maximum: unknown field (did you mean "max"?)`,
			}},
		{"type error", edit(t, "minRequests: 1000", "minRequests: lots"),
			[]string{f + ":21: spec.analysis.minRequests: `lots` is not an integer"}},
		{"alpha too big", edit(t, "alpha: 0.01", "alpha: 0.7"),
			[]string{f + ":27: spec.analysis.gates[3].alpha: 0.7 is outside (0, 0.5]"}},
		{"alpha negative", edit(t, "alpha: 0.01", "alpha: -0.1"),
			[]string{f + ":27: spec.analysis.gates[3].alpha: -0.1 is outside (0, 0.5]"}},
		{"overlay leaves repo", edit(t, "overlay: apps/myapp/overlays/production", "overlay: ../other/overlay"),
			[]string{f + `:6: spec.overlay: "../other/overlay" leaves the repository`}},
		{"overlay absolute", edit(t, "overlay: apps/myapp/overlays/production", "overlay: /etc/overlay"),
			[]string{f + `:6: spec.overlay: "/etc/overlay" must be relative to the repository root`}},
		{"overlay sneaks out", edit(t, "overlay: apps/myapp/overlays/production", "overlay: apps/../../x"),
			[]string{f + `:6: spec.overlay: "apps/../../x" leaves the repository`}},
		{"missing name", edit(t, "  name: myapp\n", "  labels: {}\n"),
			[]string{f + ":3: metadata.name: required"}},
		{"bad name", edit(t, "  name: myapp\n", "  name: My_App\n"),
			[]string{f + `:4: metadata.name: "My_App" must be a DNS label (lower case letters, digits and '-', at most 63)`}},
		{"namespace not a DNS label", edit(t, "namespace: canary-demo", "namespace: Canary_Demo"),
			[]string{f + `:9: spec.virtualService.namespace: "Canary_Demo" must be a DNS label (lower case letters, digits and '-', at most 63)`}},
		{"wrong apiVersion", edit(t, "apiVersion: promoter.dev/v1alpha1", "apiVersion: promoter.dev/v2"),
			[]string{f + `:1: apiVersion: "promoter.dev/v2" is not supported; use promoter.dev/v1alpha1`}},
		{"unknown gate type", edit(t, "type: sequential", "type: bayesian"),
			[]string{f + `:27: spec.analysis.gates[3].type: "bayesian" is not one of error-rate, success-rate, latency, request-count, traffic-share, sequential, custom`}},
		{"error rate over 1", edit(t, "max: 0.01}", "max: 5}"),
			[]string{f + `:24: spec.analysis.gates[0].max: "5" is outside 0..1 (or 0%..100%)`}},
		{"latency max not a duration", edit(t, "max: 500ms}", "max: fast}"),
			[]string{f + `:25: spec.analysis.gates[1].max: "fast" is not a positive duration ("500ms") or number of milliseconds`}},
		{"gate without bound", edit(t, "{name: error-rate, type: error-rate, max: 0.01}", "{name: error-rate, type: error-rate}"),
			[]string{f + ":24: spec.analysis.gates[0]: a error-rate gate needs max, min or maxIncrease"}},
		{"duplicate gate name", edit(t, "name: p99-vs-stable", "name: p99-latency"),
			[]string{f + `:26: spec.analysis.gates[2].name: "p99-latency" is used by another gate`}},
		{"custom gate without query", edit(t, "{name: regression, type: sequential, alpha: 0.01}", "{name: regression, type: custom, min: 1}"),
			[]string{f + ":27: spec.analysis.gates[3].query: required"}},
		{"sequential rollback trigger", edit(t, "{type: error-rate, max: 0.05}", "{type: sequential}"),
			[]string{f + ":29: spec.analysis.rollbackOn[0].type: sequential cannot be a rollback trigger"}},
		{"bad webhook type", edit(t, "type: pre-rollout", "type: before"),
			[]string{f + `:31: spec.webhooks[0].type: "before" must be one of pre-rollout, rollout, confirm-promotion, post-rollout, rollback`}},
		{"webhook not http", edit(t, "url: http://smoke.test/", "url: ftp://smoke.test/"),
			[]string{f + `:31: spec.webhooks[0].url: "ftp://smoke.test/" is not an http(s) URL`}},
		{"bad mode", edit(t, "mode: auto-merge", "mode: yolo"),
			[]string{f + `:33: spec.pullRequests.mode: "yolo" must be auto-merge, review or direct`}},
		{"notify secret in url", edit(t, "urlFrom: env:SLACK_WEBHOOK_URL", "urlFrom: SLACK_WEBHOOK_URL"),
			[]string{f + `:36: spec.notify[0].urlFrom: "SLACK_WEBHOOK_URL" must be env:NAME`}},
		{"same subsets", edit(t, "canary: canary}", "canary: stable}"),
			[]string{f + ":12: spec.subsets.canary: must differ from spec.subsets.stable"}},
		{"no steps", edit(t, "  steps:\n    - {weight: 5, pause: 30m}\n    - {weight: 10, pause: 1h}\n    - {weight: 25, pause: 2h}\n", ""),
			[]string{f + ":5: spec.steps: required: at least one step"}},
		{"steps and stepWeight", edit(t, "    threshold: 5\n", "    threshold: 5\n    stepWeight: 10\n"),
			[]string{f + ":14: spec.steps: give either steps or analysis.stepWeight/maxWeight/stepWeights, not both"}},
		{"field twice", edit(t, "  host: myapp\n", "  host: myapp\n  host: other\n"),
			[]string{f + ":12: spec.host: field given twice"}},
		{"syntax error", edit(t, "  host: myapp\n", "\thost: myapp\n"),
			[]string{f + ":11: found a tab character that violates indentation"}},
		{"unclosed flow list", edit(t, "  host: myapp\n", "  host: [myapp\n"),
			[]string{f + ":11: did not find expected ',' or ']'"}},
		{"feature flag without name", edit(t, "  pullRequests:\n", "  featureFlag: {configMap: flags}\n  pullRequests:\n"),
			[]string{f + ":32: spec.featureFlag.name: required"}},
		{"feature flag configMap not a name", edit(t, "  pullRequests:\n", "  featureFlag: {name: checkout, configMap: Feature_Flags}\n  pullRequests:\n"),
			[]string{f + `:32: spec.featureFlag.configMap: "Feature_Flags" must be a DNS subdomain (lower case letters, digits, '-' and '.', at most 253)`}},
		{"feature flag key not a ConfigMap key", edit(t, "  pullRequests:\n", "  featureFlag:\n    name: checkout\n    key: flags/all.json\n  pullRequests:\n"),
			[]string{f + `:34: spec.featureFlag.key: "flags/all.json" is not a ConfigMap data key (letters, digits, '-', '_' and '.')`}},
		{"feature flag unknown field", edit(t, "  pullRequests:\n", "  featureFlag: {name: checkout, nmae: x}\n  pullRequests:\n"),
			[]string{f + `:32: spec.featureFlag.nmae: unknown field (did you mean "name"?)`}},
		{"sync status without context", edit(t, "interval: 5m\n", "interval: 5m\n    syncStatus: {timeout: 5m}\n"),
			[]string{f + ":20: spec.analysis.syncStatus.context: required: the context of the commit status (or the name of the check run) that says the commit was applied, such as continuous-delivery/myapp (Argo CD) or kustomization/myapp/* (Flux)"}},
		{"sync status context not a pattern", edit(t, "interval: 5m\n", "interval: 5m\n    syncStatus:\n      context: kustomization/[myapp\n"),
			[]string{f + `:21: spec.analysis.syncStatus.context: "kustomization/[myapp" is not a pattern (path.Match syntax: * matches any characters but /, ? one, [a-z] a class; \ quotes)`}},
		{"sync status timeout not a duration", edit(t, "interval: 5m\n", "interval: 5m\n    syncStatus: {context: continuous-delivery/myapp, timeout: soon}\n"),
			[]string{f + `:20: spec.analysis.syncStatus.timeout: "soon" is not a duration (use Go durations such as 30s, 5m, 1h30m)`}},
		{"sync status timeout zero", edit(t, "interval: 5m\n", "interval: 5m\n    syncStatus: {context: continuous-delivery/myapp, timeout: 0s}\n"),
			[]string{f + `:20: spec.analysis.syncStatus.timeout: "0s" must be positive`}},
		{"sync status unknown field", edit(t, "interval: 5m\n", "interval: 5m\n    syncStatus: {context: continuous-delivery/myapp, label: x}\n"),
			[]string{f + `:20: spec.analysis.syncStatus.label: unknown field`}},
		{"several problems at once", edit(t, "{weight: 25, pause: 2h}", "{weight: 120, pause: 2x}"),
			[]string{
				f + `:17: spec.steps[2].pause: "2x" is not a duration (use Go durations such as 30s, 5m, 1h30m)`,
				f + ":17: spec.steps[2].weight: 120 is not under 100 (promotion to 100% follows the last step)",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseAndValidate(tt.src)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not unwrap to ErrInvalid", err)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// analysis.syncStatus: the timeout's default, and contexts matched exactly
// or by pattern (Flux ends its context with part of a Provider's UID).
func TestSyncStatus(t *testing.T) {
	c := validCanary(t, edit(t, "interval: 5m\n", "interval: 5m\n    syncStatus: {context: kustomization/myapp/*}\n"), "canary.yaml")
	ss := c.Spec.Analysis.SyncStatus
	if ss == nil || ss.Timeout.Duration != DefaultSyncTimeout {
		t.Fatalf("syncStatus %+v: want the default timeout %s", ss, DefaultSyncTimeout)
	}
	for ctx, want := range map[string]bool{
		"kustomization/myapp/0c9c2e41": true,
		"kustomization/myapp":          false,
		"kustomization/other/0c9c2e41": false,
		"kustomization/myapp/a/b":      false,
	} {
		if got := ss.Matches(ctx); got != want {
			t.Errorf("Matches(%q) = %v, want %v", ctx, got, want)
		}
	}
	exact := &SyncStatus{Context: "continuous-delivery/myapp"}
	if !exact.Matches("continuous-delivery/myapp") || exact.Matches("continuous-delivery/myapp2") {
		t.Error("an exact context matches itself only")
	}
}

func TestLimits(t *testing.T) {
	t.Run("document over 1 MiB", func(t *testing.T) {
		big := valid + "# " + strings.Repeat("x", MaxDocumentSize) + "\n"
		_, err := Parse(strings.NewReader(big), "big.canary.yaml")
		if err == nil || !strings.Contains(err.Error(), "big.canary.yaml:1: spec file is larger than 1 MiB") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("alias bomb", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("apiVersion: promoter.dev/v1alpha1\nkind: Canary\nmetadata:\n  name: bomb\n  labels:\n    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
		for i := 1; i < 10; i++ {
			b.WriteString("    a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
			for j := range 10 {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString("*a" + string(rune('0'+i-1)))
			}
			b.WriteString("]\n")
		}
		_, err := Parse(strings.NewReader(b.String()), "bomb.canary.yaml")
		if err == nil || !strings.Contains(err.Error(), "bomb.canary.yaml:1: document expands to more than 100000 nodes through aliases; refusing to read it") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("other kinds are skipped", func(t *testing.T) {
		cs, err := Parse(strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n"+valid), "f.yaml")
		if err != nil || len(cs) != 1 {
			t.Fatalf("got %d canaries, %v", len(cs), err)
		}
	})
}

func TestFlaggerFields(t *testing.T) {
	src := `apiVersion: promoter.dev/v1alpha1
kind: Canary
metadata: {name: podinfo}
spec:
  overlay: apps/podinfo
  virtualService: {name: podinfo, namespace: test}
  host: podinfo
  subsets: {stable: primary, canary: canary}
  deployments: {stable: podinfo-primary, canary: podinfo, container: podinfod}
  analysis:
    interval: 1m
    threshold: 5
    stepWeight: 10
    maxWeight: 50
    templates:
      - name: not-found
        query: sum(rate(http_requests_total{code="404"}[{{ .Interval }}]))
    metrics:
      - name: request-success-rate
        thresholdRange: {min: 99}
        interval: 1m
      - name: request-duration
        thresholdRange: {max: 500}
      - name: not-found-percentage
        templateRef: {name: not-found}
        thresholdRange: {max: 5}
`
	c := validCanary(t, src, "podinfo.canary.yaml")
	var weights []int
	for _, s := range c.Spec.Steps {
		weights = append(weights, s.Weight)
		if s.Pause.Duration != 5*time.Minute {
			t.Errorf("step %d pause = %v, want interval×threshold = 5m", s.Weight, s.Pause.Duration)
		}
	}
	if got := fmt.Sprint(weights); got != "[10 20 30 40 50]" {
		t.Errorf("steps = %s, want [10 20 30 40 50]", got)
	}
	gs := c.Spec.Analysis.Gates
	if len(gs) != 3 {
		t.Fatalf("got %d gates, want 3", len(gs))
	}
	if gs[0].Type != GateSuccessRate || gs[0].Min.String() != "0.99" {
		t.Errorf("request-success-rate became %s min %s, want success-rate min 0.99", gs[0].Type, gs[0].Min)
	}
	if d, ok := gs[1].Max.Duration(); gs[1].Type != GateLatency || gs[1].Quantile != 0.99 || !ok || d != 500*time.Millisecond {
		t.Errorf("request-duration became %s q%v max %v, want latency p99 500ms", gs[1].Type, gs[1].Quantile, d)
	}
	if gs[2].Type != GateCustom || !strings.Contains(gs[2].Query, `code="404"`) || gs[2].Max.String() != "5" {
		t.Errorf("template metric became %+v", gs[2])
	}
	// Normalize is idempotent: metrics are consumed.
	c.Normalize()
	if len(c.Spec.Analysis.Gates) != 3 {
		t.Errorf("second Normalize added gates: %d", len(c.Spec.Analysis.Gates))
	}
}

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"apps/myapp/canary.yaml":              {Data: []byte(valid)},
		"apps/myapp/overlays/production/k.md": {Data: []byte("x")},
		"apps/copy/copy.canary.yaml":          {Data: []byte(valid)},
		"vendor/x/canary.yaml":                {Data: []byte("not: [valid")},
		".git/canary.yaml":                    {Data: []byte("not: [valid")},
		"apps/myapp/not-a-canary.yaml":        {Data: []byte("not: [valid")},
	}
	cs, err := Load(context.Background(), fsys)
	if len(cs) != 1 || cs[0].Source.File != "apps/copy/copy.canary.yaml" {
		t.Fatalf("got %d canaries (%v), want the first of the duplicates", len(cs), cs)
	}
	want := `apps/myapp/canary.yaml:4: metadata.name: "myapp" is already the name of the canary in apps/copy/copy.canary.yaml:4`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}

	t.Run("missing overlay", func(t *testing.T) {
		_, err := Load(context.Background(), fstest.MapFS{"canary.yaml": {Data: []byte(valid)}})
		want := `canary.yaml:6: spec.overlay: "apps/myapp/overlays/production" does not exist in the repository`
		if err == nil || err.Error() != want {
			t.Fatalf("got %v\nwant %s", err, want)
		}
	})
}

// Load reads files concurrently; what it returns is what reading them one
// by one in the order of their paths gives.
func TestLoadManyFilesInOrder(t *testing.T) {
	fsys := fstest.MapFS{"apps/myapp/overlays/production/k.md": {Data: []byte("x")}}
	for i := range 120 {
		src := strings.Replace(valid, "name: myapp\n", fmt.Sprintf("name: app-%03d\n", i%100), 1)
		switch {
		case i%7 == 0:
			src = strings.Replace(src, "weight: 10", "weight: 200", 1)
		case i%11 == 0:
			src = "not: [valid"
		case i%13 == 0:
			src = strings.Replace(src, "overlays/production", "overlays/missing", 1)
		}
		fsys[fmt.Sprintf("apps/app-%03d/canary.yaml", i)] = &fstest.MapFile{Data: []byte(src)}
	}
	cs, err := Load(context.Background(), fsys)

	files, derr := Discover(context.Background(), fsys)
	if derr != nil {
		t.Fatal(derr)
	}
	var (
		want []*Canary
		errs []error
	)
	for _, f := range files {
		got, err := LoadFile(fsys, f)
		want = append(want, got...)
		errs = append(errs, err)
	}
	want, derr = dedupe(want)
	wantErr := Join(append(errs, derr)...)
	if err == nil || wantErr == nil || err.Error() != wantErr.Error() {
		t.Fatalf("Load's problems:\n%v\nwant, as read one by one:\n%v", err, wantErr)
	}
	if len(cs) != len(want) {
		t.Fatalf("Load returned %d canaries, want %d", len(cs), len(want))
	}
	for i := range cs {
		if cs[i].Metadata.Name != want[i].Metadata.Name || cs[i].Source.File != want[i].Source.File {
			t.Errorf("canary %d = %s from %s, want %s from %s", i, cs[i].Metadata.Name, cs[i].Source.File, want[i].Metadata.Name, want[i].Source.File)
		}
	}
}

// panicFS panics when the file bad is opened.
type panicFS struct {
	fstest.MapFS
	bad string
}

func (p panicFS) Open(name string) (fs.File, error) {
	if name == p.bad {
		panic("broken file system")
	}
	return p.MapFS.Open(name)
}

// A panic while Load reads a file (on a goroutine of its own) is that
// file's error, not the end of the process.
func TestLoadPanicIsAnError(t *testing.T) {
	fsys := panicFS{MapFS: fstest.MapFS{
		"apps/myapp/overlays/production/k.md": {Data: []byte("x")},
		"a/canary.yaml":                       {Data: []byte(valid)},
		"b/canary.yaml":                       {Data: []byte(valid)},
	}, bad: "b/canary.yaml"}
	cs, err := Load(context.Background(), fsys)
	if len(cs) != 1 || cs[0].Source.File != "a/canary.yaml" {
		t.Errorf("got %d canaries, want the one of a/canary.yaml", len(cs))
	}
	if err == nil || !strings.Contains(err.Error(), "b/canary.yaml: internal error: broken file system") {
		t.Errorf("got %v, want b/canary.yaml's internal error", err)
	}
}

func TestOverlaySymlinkOut(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "apps/myapp/overlays"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "apps/myapp/overlays/production")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "canary.yaml"), []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), os.DirFS(root))
	if err == nil || !strings.Contains(err.Error(), `canary.yaml:6: spec.overlay: "apps/myapp/overlays/production" is a symbolic link out of the repository`) {
		t.Fatalf("got %v", err)
	}

	// A link that stays inside is fine.
	if err := os.Remove(filepath.Join(root, "apps/myapp/overlays/production")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../real", filepath.Join(root, "apps/myapp/overlays/production")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), os.DirFS(root)); err != nil {
		t.Fatalf("inside link: %v", err)
	}
}

func TestDiscoverLargeRepo(t *testing.T) {
	fsys := fstest.MapFS{}
	for i := range 20000 {
		fsys[filepath.ToSlash(filepath.Join("apps", strconv.Itoa(i%1000), "base", strconv.Itoa(i)+".yaml"))] = &fstest.MapFile{Data: []byte("x")}
	}
	for i := range 1000 {
		fsys["apps/"+strconv.Itoa(i)+"/canary.yaml"] = &fstest.MapFile{Data: []byte("x")}
	}
	files, err := Discover(context.Background(), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1000 {
		t.Fatalf("found %d spec files, want 1000", len(files))
	}
}

// httpRouteSpec is the valid spec's route moved to a Gateway API HTTPRoute.
func httpRouteSpec(t *testing.T) string {
	t.Helper()
	return strings.Replace(edit(t, "  virtualService:\n    name: myapp-routing\n    namespace: canary-demo\n    route: canary-route\n  host: myapp\n  subsets: {stable: stable, canary: canary}\n",
		"  route:\n    kind: HTTPRoute\n    name: myapp\n    namespace: canary-demo\n    rule: split\n  hosts: {stable: myapp-stable, canary: myapp-canary}\n"),
		"    versions: {stable: v1, canary: v2}\n", "", 1)
}

func TestGatewayRouteSpec(t *testing.T) {
	c := validCanary(t, httpRouteSpec(t), "canary.yaml")
	s := &c.Spec
	if s.RouteKind() != KindHTTPRoute || !s.GatewayRoute() || s.RouteName() != "myapp" || s.RouteNamespace() != "canary-demo" {
		t.Errorf("route %s %s/%s, gateway %v", s.RouteKind(), s.RouteNamespace(), s.RouteName(), s.GatewayRoute())
	}
	if s.Analysis.Reporter != ReporterWaypoint {
		t.Errorf("reporter defaults to %q, want waypoint", s.Analysis.Reporter)
	}
	if v := s.Analysis.Versions; v.Stable != "myapp-stable" || v.Canary != "myapp-canary" {
		t.Errorf("versions default to %+v, want the Services", v)
	}
	if s.RouteField("route") != "spec.route.rule" || s.RouteField("name") != "spec.route.name" {
		t.Errorf("fields %s, %s", s.RouteField("route"), s.RouteField("name"))
	}
	vs, err := Parse(strings.NewReader(valid), "canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vs[0].Normalize()
	if vs[0].Spec.RouteKind() != KindVirtualService || vs[0].Spec.Analysis.Reporter != ReporterDestination || vs[0].Spec.RouteField("rule") != "spec.virtualService.route" {
		t.Errorf("a VirtualService spec: kind %s, reporter %s", vs[0].Spec.RouteKind(), vs[0].Spec.Analysis.Reporter)
	}
}

func TestMalformedGatewayRouteSpecs(t *testing.T) {
	const f = "apps/myapp/canary.yaml"
	src := httpRouteSpec(t)
	ed := func(old, new string) string {
		if !strings.Contains(src, old) {
			t.Fatalf("test bug: %q is not in the spec", old)
		}
		return strings.Replace(src, old, new, 1)
	}
	tests := []struct {
		name, src string
		want      []string
	}{
		{"unknown kind", ed("kind: HTTPRoute", "kind: TCPRoute"),
			[]string{f + `:8: spec.route.kind: "TCPRoute" must be HTTPRoute or GRPCRoute`}},
		{"VirtualService kind", ed("kind: HTTPRoute", "kind: VirtualService"),
			[]string{f + ":8: spec.route.kind: a VirtualService is named by spec.virtualService; spec.route names a Gateway API route: HTTPRoute or GRPCRoute"}},
		{"no hosts", ed("  hosts: {stable: myapp-stable, canary: myapp-canary}\n", ""),
			[]string{f + ":5: spec.hosts: required for a Gateway API route: the Services of the stable and canary backendRefs of HTTPRoute myapp (spec.hosts.stable, spec.hosts.canary)"}},
		{"subsets", ed("  hosts: {", "  subsets: {stable: a, canary: b}\n  hosts: {"),
			[]string{f + ":12: spec.subsets: a Gateway API route's backendRefs have no subsets: remove spec.subsets and name the two Services in spec.hosts"}},
		{"host", ed("  hosts: {", "  host: myapp\n  hosts: {"),
			[]string{f + ":12: spec.host: a Gateway API route splits between two Services: name them in spec.hosts.stable and spec.hosts.canary instead"}},
		{"both route kinds", ed("  hosts: {", "  virtualService: {name: x, namespace: canary-demo}\n  hosts: {"),
			[]string{f + ":12: spec.virtualService: give either spec.virtualService or spec.route, not both"}},
		{"host with a domain", ed("stable: myapp-stable,", "stable: myapp-stable.canary-demo.svc.cluster.local,"),
			[]string{f + `:12: spec.hosts.stable: "myapp-stable.canary-demo.svc.cluster.local" must be the name of a Service in canary-demo (a DNS label), as the route's backendRefs name it`}},
		{"bad reporter", ed("    minRequests: 1000\n", "    minRequests: 1000\n    reporter: ztunnel\n"),
			[]string{f + `:22: spec.analysis.reporter: "ztunnel" must be destination (sidecars), waypoint (ambient mode's waypoints) or source`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseAndValidate(tt.src)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if got := err.Error(); got != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestFeatureFlagDefaults: a featureFlag with only a name reads the
// feature-flags ConfigMap's flags.json; no featureFlag stays nil.
func TestFeatureFlagDefaults(t *testing.T) {
	load := func(src string) *Canary {
		t.Helper()
		cs, err := Parse(strings.NewReader(src), "canary.yaml")
		if err != nil || len(cs) != 1 {
			t.Fatalf("parse: %v (%d canaries)", err, len(cs))
		}
		cs[0].Normalize()
		if err := cs[0].Validate(); err != nil {
			t.Fatal(err)
		}
		return cs[0]
	}
	if c := load(valid); c.Spec.FeatureFlag != nil {
		t.Errorf("featureFlag %+v without the field", c.Spec.FeatureFlag)
	}
	c := load(edit(t, "  pullRequests:\n", "  featureFlag: {name: new-checkout}\n  pullRequests:\n"))
	if got, want := *c.Spec.FeatureFlag, (FeatureFlag{Name: "new-checkout", ConfigMap: "feature-flags", Key: "flags.json"}); got != want {
		t.Errorf("featureFlag %+v, want %+v", got, want)
	}
	c = load(edit(t, "  pullRequests:\n", "  featureFlag: {name: a, configMap: flags, key: all.json}\n  pullRequests:\n"))
	if got, want := *c.Spec.FeatureFlag, (FeatureFlag{Name: "a", ConfigMap: "flags", Key: "all.json"}); got != want {
		t.Errorf("featureFlag %+v, want %+v", got, want)
	}
}

// validCanary parses src, the text of file, into its one Canary, normalised
// and valid; it fails the test otherwise.
func validCanary(t *testing.T, src, file string) *Canary {
	t.Helper()
	cs, err := Parse(strings.NewReader(src), file)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 {
		t.Fatalf("%s: got %d canaries, want 1", file, len(cs))
	}
	c := cs[0]
	c.Normalize()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return c
}
