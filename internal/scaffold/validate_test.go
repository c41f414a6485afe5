package scaffold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"testing"
	"testing/fstest"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	kustomize "sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/render/schema"
	"github.com/promoter-dev/promoter/internal/spec"
)

// optionCases are the scaffolds every test checks.
func optionCases() map[string]Options {
	return map[string]Options{
		"example":       exampleOptions(),
		"cookie-geo":    {Name: "shop", Namespace: "shop", Cookie: true, Regions: []string{"us-west-1", "EU_Central"}, Runners: Runners},
		"image-only":    {Name: "api", Namespace: "team-a", Image: "registry.example.com/api:1.4.2", Runners: []string{"none"}},
		"canary-image":  {Name: "web", Namespace: "web", Image: "web:1", CanaryImage: "web:2", Runners: []string{RunnerCronJob, RunnerFlux}},
		"host-split":    {Name: "shop", Namespace: "shop", Split: SplitHost, Cookie: true, Regions: []string{"eu"}, Runners: []string{RunnerCronJob}},
		"custom-runner": {Name: "a", Namespace: "b", GitURL: "ssh://git@git.example.com/ops.git", Branch: "prod", PrometheusURL: "https://mimir.example.com/prometheus", Runners: Runners},
		"ambient":       {Name: "shop", Namespace: "shop", Route: RouteHTTPRoute, Regions: []string{"eu", "us-west-1"}, Runners: Runners},
	}
}

func generate(t *testing.T, o Options) Files {
	t.Helper()
	files, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// documents splits a YAML stream into its documents.
func documents(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		doc, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, doc)
	}
}

// strict decodes a manifest into a typed value, failing on unknown fields.
func strict(doc []byte, v any) error { return sigsyaml.UnmarshalStrict(doc, v) }

// TestManifestsValidate checks every manifest init writes: Kubernetes
// built-ins and prometheus-operator resources decode strictly into their
// Go types (an unknown or misspelt field fails), Istio resources validate
// against Istio's CRD schemas, kustomizations decode strictly into
// kustomize's types.
func TestManifestsValidate(t *testing.T) {
	for name, o := range optionCases() {
		t.Run(name, func(t *testing.T) {
			files := generate(t, o)
			kinds := map[string]int{}
			for _, p := range files.Paths() {
				if !strings.HasSuffix(p, ".yaml") || strings.HasPrefix(p, ".github/") || path.Base(p) == "canary.yaml" {
					continue
				}
				for i, doc := range documents(t, files[p]) {
					if bytes.HasPrefix(doc, []byte("- ")) { // a JSON 6902 patch of promoter's component
						var ops []struct {
							Op    string `json:"op"`
							Path  string `json:"path"`
							Value any    `json:"value"`
						}
						if err := strict(doc, &ops); err != nil || len(ops) == 0 {
							t.Errorf("%s: not a JSON patch: %v", p, err)
						}
						continue
					}
					var tm struct {
						APIVersion string `yaml:"apiVersion"`
						Kind       string `yaml:"kind"`
					}
					if err := yaml.Unmarshal(doc, &tm); err != nil {
						t.Fatal(err)
					}
					key := tm.APIVersion + " " + tm.Kind
					kinds[key]++
					var err error
					switch key {
					case "v1 Namespace":
						err = strict(doc, &corev1.Namespace{})
					case "v1 Service":
						err = strict(doc, &corev1.Service{})
					case "v1 ConfigMap":
						err = strict(doc, &corev1.ConfigMap{})
					case "v1 ServiceAccount":
						err = strict(doc, &corev1.ServiceAccount{})
					case "apps/v1 Deployment":
						err = strict(doc, &appsv1.Deployment{})
					case "batch/v1 CronJob":
						err = strict(doc, &batchv1.CronJob{})
					case "monitoring.coreos.com/v1 ServiceMonitor":
						err = errors.Join(strict(doc, &monitoringv1.ServiceMonitor{}), validateOperator(t, doc))
					case "monitoring.coreos.com/v1 PodMonitor":
						err = errors.Join(strict(doc, &monitoringv1.PodMonitor{}), validateOperator(t, doc))
					case "monitoring.coreos.com/v1 PrometheusRule":
						err = errors.Join(strict(doc, &monitoringv1.PrometheusRule{}), validateOperator(t, doc))
					case "networking.istio.io/v1 VirtualService", "networking.istio.io/v1 DestinationRule", "networking.istio.io/v1alpha3 EnvoyFilter":
						err = validateIstio(t, doc)
					case "gateway.networking.k8s.io/v1 Gateway":
						err = errors.Join(strict(doc, &gatewayv1.Gateway{}), validateAgainst(t, schema.GatewayAPI, doc))
					case "gateway.networking.k8s.io/v1 HTTPRoute":
						err = strict(doc, &gatewayv1.HTTPRoute{})
						if !strings.Contains(p, "/promoter/") { // the component's state patch is not a whole resource
							err = errors.Join(err, validateAgainst(t, schema.GatewayAPI, doc))
						}
					case "kustomize.config.k8s.io/v1beta1 Kustomization", "kustomize.config.k8s.io/v1alpha1 Component":
						err = strict(doc, &kustomize.Kustomization{})
					case "argoproj.io/v1alpha1 Application", "source.toolkit.fluxcd.io/v1 GitRepository", "kustomize.toolkit.fluxcd.io/v1 Kustomization":
						// No schema ships in a Go module here; TestRunners checks their content.
					default:
						if p == ".gitlab-ci.yml" {
							continue
						}
						err = fmt.Errorf("no validation for %s", key)
					}
					if err != nil {
						t.Errorf("%s (document %d, %s): %v", p, i, key, err)
					}
				}
			}
			wants := []string{
				"v1 Namespace", "apps/v1 Deployment", "v1 Service", "networking.istio.io/v1 DestinationRule",
				"networking.istio.io/v1 VirtualService", "networking.istio.io/v1alpha3 EnvoyFilter",
				"monitoring.coreos.com/v1 ServiceMonitor", "monitoring.coreos.com/v1 PrometheusRule", "v1 ConfigMap",
			}
			if o.Route == RouteHTTPRoute {
				wants = []string{
					"v1 Namespace", "apps/v1 Deployment", "v1 Service", "gateway.networking.k8s.io/v1 Gateway", "gateway.networking.k8s.io/v1 HTTPRoute",
					"monitoring.coreos.com/v1 PodMonitor", "monitoring.coreos.com/v1 ServiceMonitor", "monitoring.coreos.com/v1 PrometheusRule", "v1 ConfigMap",
				}
				for _, no := range []string{"networking.istio.io/v1 VirtualService", "networking.istio.io/v1 DestinationRule", "networking.istio.io/v1alpha3 EnvoyFilter"} {
					if kinds[no] > 0 {
						t.Errorf("the ambient scaffold writes a %s", no)
					}
				}
			}
			for _, want := range wants {
				if kinds[want] == 0 {
					t.Errorf("no %s written", want)
				}
			}
			if kinds["apps/v1 Deployment"] != 2 {
				t.Errorf("%d Deployments, want stable and canary", kinds["apps/v1 Deployment"])
			}
		})
	}
}

// TestStrictDecodingCatchesMistakes makes sure the strict decoding used
// above fails on a misspelt field.
func TestStrictDecodingCatchesMistakes(t *testing.T) {
	doc := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 3\n")
	if err := strict(doc, &appsv1.Deployment{}); err == nil {
		t.Fatal("a misspelt field was accepted")
	}
	rule := []byte("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec:\n  groups: [{name: g, rules: [{alert: A, expr: up, fro: 5m}]}]\n")
	if err := strict(rule, &monitoringv1.PrometheusRule{}); err == nil {
		t.Fatal("a misspelt rule field was accepted")
	}
}

// TestOverlayValidates does what `promoter validate` does on the scaffold:
// the spec loads, the overlay builds as committed (with the component
// rendered at step 0) and at every step, and the checks pass. make test
// renders the first and the last step of each case (the ones between are
// the same component at other weights); PROMOTER_TEST_FULL=1 (make
// test-full) renders every step.
func TestOverlayValidates(t *testing.T) {
	full := os.Getenv("PROMOTER_TEST_FULL") != ""
	for name, o := range optionCases() {
		t.Run(name, func(t *testing.T) {
			files := generate(t, o)
			fsys := fstest.MapFS{}
			for p, data := range files {
				fsys[p] = &fstest.MapFile{Data: data, Mode: 0o644}
			}
			cs, err := spec.Load(context.Background(), fsys)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 1 || cs[0].Metadata.Name != o.Name {
				t.Fatalf("loaded %d canaries, want %s", len(cs), o.Name)
			}
			c := cs[0]
			committed, err := render.ReadStage(c, fsys)
			if err != nil {
				t.Fatal(err)
			}
			if committed.Stage.Step != 0 || committed.Stage.Weight != 0 {
				t.Errorf("committed stage %+v, want step 0 at 0%%", committed.Stage)
			}
			b, err := render.Inspect(c, fsys)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := render.Check(c, fsys, b, nil, committed.Stage); err != nil {
				t.Fatalf("as committed: %v", err)
			}
			// The component is what promoter itself renders at step 0.
			res, err := render.Render(c, fsys, render.Stage{})
			if err != nil {
				t.Fatal(err)
			}
			for p, data := range res.Files {
				if data != nil && !bytes.Equal(files[p], data) {
					t.Errorf("%s differs from what promoter renders at step 0", p)
				}
			}
			for i, st := range c.Spec.Steps {
				if !full && i != 0 && i != len(c.Spec.Steps)-1 {
					continue
				}
				if _, err := render.Render(c, fsys, render.Stage{Step: i + 1, Weight: st.Weight}); err != nil {
					t.Errorf("step %d: %v", i+1, err)
				}
			}
			// Promotion and rollback render too.
			if _, err := render.Render(c, fsys, render.Stage{Step: len(c.Spec.Steps) + 1, StableImage: b.Canary.Image, CanaryReplicas: render.Replicas(0)}); err != nil {
				t.Errorf("promotion: %v", err)
			}
		})
	}
}
