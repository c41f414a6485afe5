package scaffold

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/promoter-dev/promoter/internal/render/schema"
)

// operatorSchemas are prometheus-operator's published CRDs (testdata/
// prometheus-operator/README.md says where they come from).
var operatorSchemas = sync.OnceValues(func() (schema.Set, error) {
	paths, err := filepath.Glob("testdata/prometheus-operator/*.yaml")
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no CRDs in testdata/prometheus-operator: %v", err)
	}
	var streams [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		streams = append(streams, data)
	}
	return schema.Parse(streams...)
})

func validateOperator(t *testing.T, doc []byte) error {
	t.Helper()
	return validateAgainst(t, operatorSchemas, doc)
}

// Every monitoring resource init writes is valid for prometheus-operator.
func TestMonitoringValidatesAgainstOperatorCRDs(t *testing.T) {
	for name, o := range optionCases() {
		t.Run(name, func(t *testing.T) {
			files := generate(t, o)
			dir := "apps/" + o.Name + "/monitoring/"
			for _, f := range []string{"podmonitor.yaml", "servicemonitor.yaml", "prometheusrule.yaml"} {
				data, ok := files[dir+f]
				if !ok {
					t.Fatalf("%s not written", dir+f)
				}
				if err := validateOperator(t, data); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			}
		})
	}
}

// The validation above can fail.
func TestOperatorSchemaCatchesMistakes(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: x}\nspec:\n  selector: {}\n  podMetricsEndpoints: [{path: /stats/prometheus, prot: 15090}]\n",
		"wrong type":    "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: x}\nspec:\n  selector: {}\n  podMetricsEndpoints: [{portNumber: envoy}]\n",
		"bad enum":      "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: x}\nspec:\n  selector: {}\n  podMetricsEndpoints: [{relabelings: [{action: maybe}]}]\n",
	} {
		if err := validateOperator(t, []byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The PodMonitor scrapes the sidecars of both Deployments' pods (and no
// others): the selector matches their template labels in their namespace,
// the endpoint is Envoy's /stats/prometheus on 15090 of the istio-proxy
// container, and the version label reaches the series.
func TestPodMonitorScrapesTheSidecars(t *testing.T) {
	o := exampleOptions()
	files := generate(t, o)
	var pm monitoringv1.PodMonitor
	decodeFile(t, files, "apps/"+o.Name+"/monitoring/podmonitor.yaml", &pm)
	sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"deployment-stable.yaml", "deployment-canary.yaml"} {
		var dep appsv1.Deployment
		decodeFile(t, files, "apps/"+o.Name+"/base/"+d, &dep)
		if !sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
			t.Errorf("selector %s does not match the pods of %s (%v)", sel, d, dep.Spec.Template.Labels)
		}
		if ns := pm.Spec.NamespaceSelector.MatchNames; len(ns) != 1 || ns[0] != dep.Namespace {
			t.Errorf("namespaces %v, pods in %s", ns, dep.Namespace)
		}
	}
	// Another application's pods are not scraped.
	if sel.Matches(labels.Set{"app": o.Name + "-other", "version": "v1"}) {
		t.Errorf("selector %s matches another application", sel)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("endpoints %+v", pm.Spec.PodMetricsEndpoints)
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	if ep.Path != "/stats/prometheus" || ep.PortNumber == nil || *ep.PortNumber != 15090 {
		t.Errorf("endpoint %s port %v, want Envoy's /stats/prometheus on 15090", ep.Path, ep.PortNumber)
	}
	keepsProxy := false
	for _, r := range ep.RelabelConfigs {
		if strings.EqualFold(r.Action, "keep") && len(r.SourceLabels) == 1 && r.SourceLabels[0] == "__meta_kubernetes_pod_container_name" && r.Regex == "istio-proxy" {
			keepsProxy = true
		}
	}
	if !keepsProxy {
		t.Errorf("relabelings %+v do not keep only the istio-proxy container", ep.RelabelConfigs)
	}
	if !strings.Contains(strings.Join(pm.Spec.PodTargetLabels, ","), "version") {
		t.Errorf("podTargetLabels %v drop the version label", pm.Spec.PodTargetLabels)
	}
	if pm.Labels["release"] != "prometheus" {
		t.Errorf("labels %v: kube-prometheus-stack's Prometheus would not select it", pm.Labels)
	}
	// The pods run a sidecar: their namespace has injection on.
	var ns corev1.Namespace
	decodeFile(t, files, "apps/"+o.Name+"/base/namespace.yaml", &ns)
	if ns.Labels["istio-injection"] != "enabled" {
		t.Errorf("namespace labels %v: no sidecars to scrape", ns.Labels)
	}
}

// --scrape annotations writes no PodMonitor and keeps the prometheus.io
// annotations a plain Prometheus reads.
func TestScrapeAnnotations(t *testing.T) {
	o := exampleOptions()
	o.Scrape = ScrapeAnnotations
	files := generate(t, o)
	if _, ok := files["apps/"+o.Name+"/monitoring/podmonitor.yaml"]; ok {
		t.Error("a PodMonitor was written")
	}
	var dep appsv1.Deployment
	decodeFile(t, files, "apps/"+o.Name+"/base/deployment-canary.yaml", &dep)
	if dep.Spec.Template.Annotations["prometheus.io/scrape"] != "true" {
		t.Errorf("annotations %v", dep.Spec.Template.Annotations)
	}
	if !strings.Contains(string(files["apps/"+o.Name+"/monitoring/kustomization.yaml"]), "servicemonitor.yaml") ||
		strings.Contains(string(files["apps/"+o.Name+"/monitoring/kustomization.yaml"]), "podmonitor.yaml") {
		t.Errorf("kustomization:\n%s", files["apps/"+o.Name+"/monitoring/kustomization.yaml"])
	}
	bad := exampleOptions()
	bad.Scrape = "both"
	if _, err := Generate(bad); err == nil {
		t.Error("scrape both: accepted")
	}
}

// The CronJob's memory covers the measured peak of a pass that clones a
// large repository (618 MB in docs/benchmarks.md) with margin.
func TestCronJobMemory(t *testing.T) {
	files := generate(t, exampleOptions())
	var cj batchv1.CronJob
	decodeFile(t, files, "deploy/promoter/cronjob.yaml", &cj)
	c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	const peak = 618_000_000
	if req := c.Resources.Requests.Memory().Value(); req < peak {
		t.Errorf("memory request %d < measured peak %d", req, peak)
	}
	if limit := c.Resources.Limits.Memory().Value(); limit < peak*3/2 {
		t.Errorf("memory limit %d leaves less than 50%% above the peak %d", limit, peak)
	}
}

// A release's init writes that release's images; the GitLab job runs the
// image's CI variant, without compiling.
func TestImagesFollowTheRelease(t *testing.T) {
	if got := PromoterImageFor("v1.4.2"); got != "ghcr.io/promoter-dev/promoter:v1.4.2" {
		t.Errorf("PromoterImageFor(v1.4.2) = %s", got)
	}
	for _, v := range []string{"devel", "", "v0.0.0-20260101000000-abcdef012345+dirty", "(devel)"} {
		if got := PromoterImageFor(v); got != DefaultPromoterImage {
			t.Errorf("PromoterImageFor(%q) = %s, want %s", v, got, DefaultPromoterImage)
		}
	}
	o := exampleOptions()
	o.PromoterImage = PromoterImageFor("v1.4.2")
	files := generate(t, o)
	var cj batchv1.CronJob
	decodeFile(t, files, "deploy/promoter/cronjob.yaml", &cj)
	if img := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/promoter-dev/promoter:v1.4.2" {
		t.Errorf("CronJob image %s", img)
	}
	var ci gitlabCI
	decodeFile(t, files, ".gitlab-ci.yml", &ci)
	if ci.Promoter.Image.Name != "ghcr.io/promoter-dev/promoter:v1.4.2-ci" {
		t.Errorf("GitLab image %s", ci.Promoter.Image.Name)
	}
	for _, line := range ci.Promoter.Script {
		if strings.Contains(line, "go ") {
			t.Errorf("GitLab job compiles: %s", line)
		}
	}
}

// --git-secret names the Secret of the Flux GitRepository; without it the
// file says how to add one.
func TestFluxGitSecret(t *testing.T) {
	o := exampleOptions()
	plain := string(generate(t, o)["deploy/flux/"+o.Name+".yaml"])
	if strings.Contains(plain, "\n  secretRef:") || !strings.Contains(plain, "flux create secret git gitops-auth") {
		t.Errorf("without --git-secret:\n%s", plain)
	}
	o.GitSecret = "gitops-auth"
	files := generate(t, o)
	docs := documents(t, files["deploy/flux/"+o.Name+".yaml"])
	var src fluxGitRepository
	if err := strict(docs[0], &src); err != nil {
		t.Fatal(err)
	}
	if src.Spec.SecretRef == nil || src.Spec.SecretRef.Name != "gitops-auth" {
		t.Errorf("GitRepository secretRef %+v", src.Spec.SecretRef)
	}
}
