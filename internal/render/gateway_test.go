package render

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/promoter-dev/promoter/internal/spec"
)

// gatewayRepo loads a repository of the end-to-end fixtures (Gateway API
// examples with a Canary spec) into memory, with edit applied to the file
// at each path (old -> new, once).
func gatewayRepo(t *testing.T, dir string, edits ...[3]string) (fstest.MapFS, *spec.Canary) {
	t.Helper()
	repo := fstest.MapFS{}
	root := "../../cmd/promoter/testdata/adopt/" + dir
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(os.DirFS(root), p)
		repo[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		f, ok := repo[e[0]]
		if !ok || !strings.Contains(string(f.Data), e[1]) {
			t.Fatalf("test bug: %s has no %q", e[0], e[1])
		}
		f.Data = []byte(strings.Replace(string(f.Data), e[1], e[2], 1))
	}
	cs, err := spec.Load(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	return repo, cs[0]
}

// commit writes rendered files into repo.
func commit(repo fstest.MapFS, files Files) {
	for p, data := range files {
		if data == nil {
			delete(repo, p)
			continue
		}
		repo[p] = &fstest.MapFile{Data: data}
	}
}

const httpBase = "apps/bar/base/kustomization.yaml"

// A rule moved in the base after promoter rendered its component fails
// the build loudly (the test op of the rule's name), and the next render
// finds the rule where it is now.
func TestGatewayMovedRuleFailsThenRerenders(t *testing.T) {
	repo, c := gatewayRepo(t, "gateway-api-http")
	res, err := Render(c, repo, Stage{Step: 1, Weight: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Files[ComponentDir(c)+"/httproute-rule.yaml"]); !strings.Contains(got, "path: /spec/rules/3/name\n  value: default\n") {
		t.Fatalf("the rule's patch does not test its name at index 3:\n%s", got)
	}
	commit(repo, res.Files)
	if _, err := Build(repo, c.Spec.Overlay, nil); err != nil {
		t.Fatalf("the committed stage does not build: %v", err)
	}

	// A human adds a rule before the split one.
	f := repo[httpBase]
	f.Data = []byte(strings.Replace(string(f.Data), "      - op: add\n        path: /spec/rules/3/name\n        value: default\n      - op: add\n        path: /spec/rules/3/backendRefs/-",
		"      - op: add\n        path: /spec/rules/3\n        value: {name: health, matches: [{path: {type: Exact, value: /healthz}}], backendRefs: [{name: bar-svc, port: 8080}]}\n"+
			"      - op: add\n        path: /spec/rules/4/name\n        value: default\n      - op: add\n        path: /spec/rules/4/backendRefs/-", 1))
	_, err = Build(repo, c.Spec.Overlay, nil)
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "testing value /spec/rules/3/name failed") || !strings.Contains(err.Error(), "promoter re-renders it on its next run") {
		t.Fatalf("the moved rule does not fail the build loudly: %v", err)
	}

	res, err = Render(c, repo, Stage{Step: 1, Weight: 10})
	if err != nil {
		t.Fatalf("re-render: %v", err)
	}
	if res.Base.Route != 4 {
		t.Errorf("re-rendered for rule #%d, want #4", res.Base.Route)
	}
	if got := string(res.Files[ComponentDir(c)+"/httproute-rule.yaml"]); !strings.Contains(got, "path: /spec/rules/4/backendRefs/1/weight\n  value: 10\n") {
		t.Errorf("the re-rendered patch does not weigh rule 4:\n%s", got)
	}
	if !strings.Contains(string(res.Manifests), "  - backendRefs:\n    - name: bar-svc\n      port: 8080\n    matches:\n    - path:\n        type: Exact\n        value: /healthz\n    name: health\n") {
		t.Errorf("the new rule is not built as authored:\n%s", res.Manifests)
	}
}

// A route without both backends, or whose rule cannot be told, gets an
// error naming the spec field to change.
func TestGatewayRouteWithoutBothBackends(t *testing.T) {
	const canaryRef = "      - op: add\n        path: /spec/rules/3/backendRefs/-\n        value: {name: bar-svc-canary, port: 8080, weight: 0}\n"
	tests := []struct {
		name  string
		dir   string
		edits [][3]string
		want  string
	}{
		{
			name:  "no canary backendRef",
			dir:   "gateway-api-http",
			edits: [][3]string{{httpBase, canaryRef, ""}},
			want:  "canary bar: apps/bar/canary.yaml:12: spec.hosts.canary: rule default of HTTPRoute bar-route has no backendRef to Service bar-svc-canary (backendRefs: Service bar-svc); add one with weight: 0",
		},
		{
			name:  "no rule with both, GRPCRoute",
			dir:   "gateway-api-grpc",
			edits: [][3]string{{"apps/bar/base/kustomization.yaml", "value: {name: bar-svc-canary, port: 50051, weight: 0}", "value: {name: bar-svc-next, port: 50051, weight: 0}"}},
			want: "canary bar: apps/bar/canary.yaml:11: spec.hosts.canary: GRPCRoute bar-route has no rule whose backendRefs name both Services bar-svc and bar-svc-canary " +
				"(rules: #0 -> Service bar-svc-canary, #1 -> Service bar-svc + Service bar-svc-next); add a backendRef to Service bar-svc-canary, with weight: 0, to the rule that serves the stable version, or name that rule in spec.route.rule",
		},
		{
			name:  "the rule names another kind of backend",
			dir:   "gateway-api-http",
			edits: [][3]string{{httpBase, "value: {name: bar-svc-canary, port: 8080, weight: 0}", "value: {group: multicluster.x-k8s.io, kind: ServiceImport, name: bar-svc-canary, port: 8080, weight: 0}"}},
			want:  "spec.hosts.canary: rule default of HTTPRoute bar-route has no backendRef to Service bar-svc-canary (backendRefs: Service bar-svc + ServiceImport multicluster.x-k8s.io/bar-svc-canary)",
		},
		{
			name:  "rule name not in the route",
			dir:   "gateway-api-http",
			edits: [][3]string{{"apps/bar/canary.yaml", "rule: default", "rule: main"}},
			want:  "apps/bar/canary.yaml:11: spec.route.rule: HTTPRoute bar-route has no rule named \"main\" (rules: #0 (unnamed), legacy, static, default)",
		},
		{
			name:  "canary Service missing",
			dir:   "gateway-api-http",
			edits: [][3]string{{"apps/bar/base/workloads.yaml", "kind: Service\nmetadata:\n  name: bar-svc-canary\n", "kind: ConfigMap\nmetadata:\n  name: bar-svc-canary\n"}},
			want:  "spec.hosts.canary: no Service bar-svc-canary in namespace bar in the overlay (Services: bar-svc); the route's backendRef to it would fail every request it gets",
		},
		{
			name:  "route missing",
			dir:   "gateway-api-grpc",
			edits: [][3]string{{"apps/bar/canary.yaml", "name: bar-route", "name: baz-route"}},
			want:  "spec.route.name: GRPCRoute grpc/baz-route not found in the overlay (GRPCRoutes as built: grpc/bar-route, grpc/example-route)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, c := gatewayRepo(t, tt.dir, tt.edits...)
			_, err := Inspect(c, repo)
			if err == nil || !errors.Is(err, ErrBase) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant an ErrBase saying\n%s", err, tt.want)
			}
		})
	}
}

// Several rules with both backends need spec.route.rule.
func TestGatewaySeveralRulesWithBothBackends(t *testing.T) {
	repo, c := gatewayRepo(t, "gateway-api-http",
		[3]string{"apps/bar/canary.yaml", "    rule: default\n", ""},
		[3]string{httpBase, "          backendRefs:\n            - name: bar-svc\n              port: 8080\n", "          backendRefs:\n            - name: bar-svc\n              port: 8080\n            - {name: bar-svc-canary, port: 8080, weight: 0}\n"})
	_, err := Inspect(c, repo)
	want := "apps/bar/canary.yaml:7: spec.route.rule: HTTPRoute bar-route has 2 rules whose backendRefs name both Services bar-svc and bar-svc-canary (static, default); name the one to split in spec.route.rule"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// The checks of the built output: a third backendRef that takes a share,
// and a component whose weights do not sum to 100, are refused.
func TestGatewayCheckCatchesWrongOutput(t *testing.T) {
	repo, c := gatewayRepo(t, "gateway-api-http",
		[3]string{httpBase, "value: {name: bar-svc-canary, port: 8080, weight: 0}", "value: {name: bar-svc-canary, port: 8080, weight: 0}\n      - op: add\n        path: /spec/rules/3/backendRefs/-\n        value: {name: bar-svc-legacy, port: 8080}"})
	_, err := Render(c, repo, Stage{Step: 1, Weight: 10})
	var ce *CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a CheckError", err)
	}
	for _, want := range []string{
		"apps/bar/canary.yaml:11: spec.route.rule: rule default: backendRef #2 (bar-svc-legacy) has weight 1 (a backendRef without weight has 1), so stable and canary do not get the committed shares; give it weight: 0 or move it to a rule of its own",
		"spec.route.rule: rule default: weights sum to 101, not 100",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\ndoes not say %q", err, want)
		}
	}

	repo, c = gatewayRepo(t, "gateway-api-http")
	b, err := Inspect(c, repo)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Component(c, b, Stage{Step: 1, Weight: 10})
	if err != nil {
		t.Fatal(err)
	}
	rule := ComponentDir(c) + "/httproute-rule.yaml"
	files[rule] = []byte(strings.Replace(string(files[rule]), "value: 90", "value: 80", 1))
	ensure, err := EnsureComponent(c, repo)
	if err != nil {
		t.Fatal(err)
	}
	for p, d := range ensure {
		files[p] = d
	}
	_, err = Check(c, repo, b, files, Stage{Step: 1, Weight: 10})
	for _, want := range []string{
		"spec.route.rule: rule default: backendRef bar-svc has weight 80, want 90",
		"spec.route.rule: rule default: weights sum to 90, not 100",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v\ndoes not say %q", err, want)
		}
	}

	// A patch that breaks the schema is caught by the Gateway API CRDs.
	files[rule] = []byte(strings.Replace(string(files[rule]), "value: 80", "value: 1000001", 1))
	_, err = Check(c, repo, b, files, Stage{Step: 1, Weight: 10})
	if err == nil || !strings.Contains(err.Error(), "HTTPRoute bar/bar-route does not match the Gateway API gateway.networking.k8s.io/v1 schema") {
		t.Errorf("a weight above the schema's maximum: %v", err)
	}
}

// An overlay patch that sets the split rule's weights after promoter's
// component is refused, naming the patch and what to change.
func TestGatewayOverlayOverridesWeights(t *testing.T) {
	const overlay = "apps/bar/overlays/prod/kustomization.yaml"
	repo, c := gatewayRepo(t, "gateway-api-http", [3]string{overlay, "resources:\n  - ../../base\n",
		"resources:\n  - ../../base\npatches:\n  - target: {kind: HTTPRoute, name: bar-route}\n    patch: |-\n      - {op: replace, path: /spec/rules/3/backendRefs/0/weight, value: 50}\n"})
	_, err := Render(c, repo, Stage{Step: 1, Weight: 10})
	var oe *OverrideError
	want := overlay + ":9: patches[0]: changes rule default of HTTPRoute bar-route after promoter's component sets its weights; move the rule's backendRefs into the base's HTTPRoute (or a component listed before promoter/bar) and leave the weights to promoter"
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v\nwant an OverrideError saying\n%s", err, want)
	}
}
