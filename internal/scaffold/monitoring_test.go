package scaffold

import (
	"encoding/json"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/prometheus/promql/parser"
	corev1 "k8s.io/api/core/v1"
)

// promql is Prometheus' own parser with its default options.
var promql = parser.NewParser(parser.Options{})

func decodeFile(t *testing.T, files Files, p string, v any) {
	t.Helper()
	data, ok := files[p]
	if !ok {
		t.Fatalf("%s not written", p)
	}
	if err := strict(data, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// parsePromQL fails the test when expr is not valid PromQL. Grafana's
// $__rate_interval is replaced by a duration first, as Grafana does.
func parsePromQL(t *testing.T, where, expr string) parser.Expr {
	t.Helper()
	e, err := promql.ParseExpr(strings.ReplaceAll(expr, rateWindow, "1m"))
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
	}
	return e
}

func TestPrometheusRule(t *testing.T) {
	for name, o := range optionCases() {
		t.Run(name, func(t *testing.T) {
			files := generate(t, o)
			var rule monitoringv1.PrometheusRule
			decodeFile(t, files, "apps/"+o.Name+"/monitoring/prometheusrule.yaml", &rule)
			alerts := map[string]monitoringv1.Rule{}
			for _, g := range rule.Spec.Groups {
				for _, r := range g.Rules {
					alerts[r.Alert] = r
					e := parsePromQL(t, r.Alert, exprOf(r))
					if e == nil {
						continue
					}
					// Every alert is about this application's canary.
					text := e.String()
					service := `destination_service_name="` + o.Name + `"`
					reporter := `reporter="destination"`
					if o.Split == SplitHost || o.Route == RouteHTTPRoute {
						service = `destination_service_name=~"` + o.Name + `-stable|` + o.Name + `-canary"`
					}
					if o.Route == RouteHTTPRoute {
						// In ambient mode the waypoint reports the requests.
						reporter = `reporter="waypoint"`
					}
					for _, want := range []string{`destination_workload_namespace="` + o.Namespace + `"`, service, `destination_version="v2"`, reporter} {
						if !strings.Contains(text, want) {
							t.Errorf("%s: %s does not select %s", r.Alert, text, want)
						}
					}
					if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.For == nil {
						t.Errorf("%s: needs severity, summary and for", r.Alert)
					}
				}
			}
			for _, want := range []string{AlertHighErrorRate, AlertHighLatency, AlertNoTraffic} {
				if _, ok := alerts[want]; !ok {
					t.Errorf("alert %s missing", want)
				}
			}
			if !strings.Contains(exprOf(alerts[AlertHighErrorRate]), "> 0.05") {
				t.Errorf("%s does not fire at promoter's rollback level of 5%%", AlertHighErrorRate)
			}
		})
	}
}

func exprOf(r monitoringv1.Rule) string { return r.Expr.String() }

func TestDashboard(t *testing.T) {
	o := exampleOptions()
	files := generate(t, o)
	var cm corev1.ConfigMap
	decodeFile(t, files, "apps/myapp/monitoring/dashboard.yaml", &cm)
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("labels %v: Grafana's sidecar loads dashboards labelled grafana_dashboard: \"1\"", cm.Labels)
	}
	if len(cm.Data) != 1 {
		t.Fatalf("%d data keys, want one dashboard", len(cm.Data))
	}
	var d struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	for key, data := range cm.Data {
		if !strings.HasSuffix(key, ".json") {
			t.Errorf("data key %s: the sidecar wants a .json file", key)
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			t.Fatal(err)
		}
	}
	if d.UID == "" || len(d.UID) > 40 {
		t.Errorf("uid %q: Grafana wants 1..40 characters", d.UID)
	}
	titles := map[string]bool{}
	for _, p := range d.Panels {
		titles[p.Title] = true
		if len(p.Targets) == 0 {
			t.Errorf("panel %s has no query", p.Title)
		}
		for _, tg := range p.Targets {
			parsePromQL(t, p.Title, tg.Expr)
			if !strings.Contains(tg.Expr, rateWindow) {
				t.Errorf("panel %s: %s does not use %s", p.Title, tg.Expr, rateWindow)
			}
		}
	}
	for _, want := range []string{PanelTrafficDistribution, PanelErrorRate, PanelLatencyP99, PanelRequestRate, PanelResponseCodes} {
		if !titles[want] {
			t.Errorf("panel %q missing", want)
		}
	}
}

func TestPromQLParseCatchesMistakes(t *testing.T) {
	if _, err := promql.ParseExpr(`sum by (destination_version (rate(x[5m]))`); err == nil {
		t.Fatal("the PromQL parser accepted a broken query")
	}
}

func TestServiceMonitor(t *testing.T) {
	o := exampleOptions()
	files := generate(t, o)
	var sm monitoringv1.ServiceMonitor
	decodeFile(t, files, "apps/myapp/monitoring/servicemonitor.yaml", &sm)
	var svc corev1.Service
	decodeFile(t, files, "apps/myapp/base/service.yaml", &svc)
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, the Service is labelled %v", k, v, svc.Labels)
		}
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name {
		t.Errorf("endpoints %+v do not name the Service's port %s", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}
}
