package scaffold

import (
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/promoter-dev/promoter/internal/render/schema"
)

// The ambient scaffold: a namespace in ambient mode with a waypoint, the
// waypoint, an HTTPRoute attached to the Service the clients call that
// splits on its rule canary-route between N-stable and N-canary, no
// sidecar resources, a PodMonitor of the waypoint and a Canary spec that
// names the HTTPRoute.
func TestAmbientScaffold(t *testing.T) {
	files := generate(t, Options{Name: "a", Namespace: "ns", Route: RouteHTTPRoute, Regions: []string{"eu"}})
	var ns corev1.Namespace
	decodeFile(t, files, "apps/a/base/namespace.yaml", &ns)
	if ns.Labels["istio.io/dataplane-mode"] != "ambient" || ns.Labels["istio.io/use-waypoint"] != "waypoint" || ns.Labels["istio-injection"] != "" {
		t.Errorf("namespace labels %v, want ambient mode with the waypoint and no sidecar injection", ns.Labels)
	}
	var gw gatewayv1.Gateway
	decodeFile(t, files, "apps/a/base/waypoint.yaml", &gw)
	if gw.Name != "waypoint" || gw.Spec.GatewayClassName != "istio-waypoint" || len(gw.Spec.Listeners) != 1 || gw.Spec.Listeners[0].Protocol != "HBONE" || gw.Spec.Listeners[0].Port != 15008 {
		t.Errorf("waypoint %+v", gw)
	}
	var r gatewayv1.HTTPRoute
	decodeFile(t, files, "apps/a/base/httproute.yaml", &r)
	if len(r.Spec.ParentRefs) != 1 || r.Spec.ParentRefs[0].Name != "a" || r.Spec.ParentRefs[0].Kind == nil || *r.Spec.ParentRefs[0].Kind != "Service" {
		t.Errorf("parentRefs %+v, want the Service a", r.Spec.ParentRefs)
	}
	var names []string
	for _, rule := range r.Spec.Rules {
		names = append(names, string(*rule.Name))
	}
	if got := strings.Join(names, ","); got != "canary-header,beta-users,region-eu,canary-route" {
		t.Errorf("rules %s", got)
	}
	split := r.Spec.Rules[len(r.Spec.Rules)-1]
	if len(split.BackendRefs) != 2 || split.BackendRefs[0].Name != "a-stable" || *split.BackendRefs[0].Weight != 100 || split.BackendRefs[1].Name != "a-canary" || *split.BackendRefs[1].Weight != 0 {
		t.Errorf("the weighted rule %+v does not split a-stable 100 / a-canary 0", split.BackendRefs)
	}
	for p := range files {
		for _, no := range []string{"virtualservice", "destinationrule", "envoyfilter"} {
			if strings.Contains(p, no) {
				t.Errorf("the ambient scaffold writes %s", p)
			}
		}
	}
	for _, p := range []string{"apps/a/base/deployment-stable.yaml", "apps/a/base/deployment-canary.yaml"} {
		if strings.Contains(string(files[p]), "proxy.istio.io/config") {
			t.Errorf("%s configures a sidecar", p)
		}
	}
	var pm monitoringv1.PodMonitor
	decodeFile(t, files, "apps/a/monitoring/podmonitor.yaml", &pm)
	if pm.Spec.Selector.MatchLabels["gateway.networking.k8s.io/gateway-name"] != "waypoint" || *pm.Spec.PodMetricsEndpoints[0].PortNumber != 15020 || pm.Spec.PodMetricsEndpoints[0].Path != "/stats/prometheus" {
		t.Errorf("the PodMonitor does not scrape the waypoint: %+v", pm.Spec)
	}
	c := string(files["apps/a/canary.yaml"])
	for _, want := range []string{"  route:\n    kind: HTTPRoute\n    name: a\n    namespace: ns\n    rule: canary-route\n", "hosts: {stable: a-stable, canary: a-canary}"} {
		if !strings.Contains(c, want) {
			t.Errorf("canary.yaml has no %q:\n%s", want, c)
		}
	}
	for _, no := range []string{"virtualService:", "subsets:", "\n  host:"} {
		if strings.Contains(c, no) {
			t.Errorf("canary.yaml has %q:\n%s", no, c)
		}
	}
	if !strings.Contains(string(files["apps/a/overlays/production/promoter/a/httproute-rule.yaml"]), "path: /spec/rules/3/backendRefs/1/weight\n  value: 0\n") {
		t.Errorf("the component does not weigh rule canary-route:\n%s", files["apps/a/overlays/production/promoter/a/httproute-rule.yaml"])
	}
}

// The Gateway API validation of the scaffold can fail.
func TestGatewayAPISchemaCatchesMistakes(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":    "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: x}\nspec:\n  rules: [{backendRefs: [{name: a, port: 80, wieght: 1}]}]\n",
		"weight too large": "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: x}\nspec:\n  rules: [{backendRefs: [{name: a, port: 80, weight: 1000001}]}]\n",
		"no listeners":     "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: x}\nspec:\n  gatewayClassName: istio-waypoint\n",
		"v1beta9":          "apiVersion: gateway.networking.k8s.io/v1beta9\nkind: HTTPRoute\nmetadata: {name: x}\nspec: {}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := validateAgainst(t, schema.GatewayAPI, []byte(doc)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
