package scaffold

import (
	"fmt"
	"path"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// monitoringLabels are on the ServiceMonitor and PrometheusRule so that a
// Prometheus of kube-prometheus-stack (release "prometheus") selects them.
func monitoringLabels(o *Options) map[string]string {
	return map[string]string{"app": o.Name, "release": "prometheus"}
}

func addMonitoring(o *Options, add func(string, any, string, Comments) error) error {
	dir := o.monitoringDir()
	dashboard, err := dashboardConfigMap(o)
	if err != nil {
		return err
	}
	type file struct {
		file   string
		v      any
		header string
	}
	istioFrom := "the sidecars"
	if o.ambient() {
		istioFrom = "the waypoint"
	}
	files := []file{
		{"servicemonitor.yaml", serviceMonitor(o), "Scrapes the application's own /metrics on both versions. Istio's request metrics,\nwhich the alerts and promoter's gates read, come from " + istioFrom + " (podmonitor.yaml)."},
		{"prometheusrule.yaml", prometheusRule(o), "Alerts on the canary version, from Istio's request metrics."},
		{"dashboard.yaml", dashboard, "The canary dashboard, loaded by Grafana's dashboard sidecar (label grafana_dashboard)."},
	}
	if o.ambient() {
		files = append([]file{{"podmonitor.yaml", waypointPodMonitor(o),
			"Scrapes the namespace's waypoint (port 15020, /stats/prometheus): in ambient mode it\nreports istio_requests_total and istio_request_duration_milliseconds with\nreporter=\"waypoint\", which promoter's gates and the alerts read."}}, files...)
	} else if o.Scrape == ScrapePodMonitor {
		files = append([]file{{"podmonitor.yaml", sidecarPodMonitor(o),
			"Scrapes the Istio sidecars of both versions (Envoy's /stats/prometheus on port 15090):\nistio_requests_total and istio_request_duration_milliseconds, which promoter's gates\nand the alerts read, exist only once this is scraped."}}, files...)
	}
	var names []string
	for _, f := range files {
		if err := add(path.Join(dir, f.file), f.v, f.header, nil); err != nil {
			return err
		}
		names = append(names, f.file)
	}
	return add(path.Join(dir, "kustomization.yaml"), newKustomization(names...), "", nil)
}

func serviceMonitor(o *Options) *monitoringv1.ServiceMonitor {
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   typeMeta("monitoring.coreos.com/v1", "ServiceMonitor"),
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: monitoringLabels(o)},
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: map[string]string{"app": o.Name}},
			NamespaceSelector: monitoringv1.NamespaceSelector{MatchNames: []string{o.Namespace}},
			TargetLabels:      []string{"app"},
			PodTargetLabels:   []string{"version"},
			Endpoints: []monitoringv1.Endpoint{{
				Port: "http", Path: "/metrics", Interval: "15s",
			}},
		},
	}
}

// The sidecar's metrics endpoint: Envoy's Prometheus stats, on the port
// Istio's injection declares as http-envoy-prom.
const (
	sidecarContainer   = "istio-proxy"
	sidecarMetricsPort = 15090
	sidecarMetricsPath = "/stats/prometheus"
)

// sidecarPodMonitor scrapes the istio-proxy container of the application's
// pods, both versions, keeping the pod's app and version labels.
func sidecarPodMonitor(o *Options) *monitoringv1.PodMonitor {
	port := int32(sidecarMetricsPort)
	path := sidecarMetricsPath
	return &monitoringv1.PodMonitor{
		TypeMeta:   typeMeta("monitoring.coreos.com/v1", "PodMonitor"),
		ObjectMeta: metav1.ObjectMeta{Name: o.Name + "-sidecars", Namespace: o.Namespace, Labels: monitoringLabels(o)},
		Spec: monitoringv1.PodMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: map[string]string{"app": o.Name}},
			NamespaceSelector: monitoringv1.NamespaceSelector{MatchNames: []string{o.Namespace}},
			PodTargetLabels:   []string{"app", "version"},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{
				PortNumber: &port,
				Path:       path,
				Interval:   "15s",
				RelabelConfigs: []monitoringv1.RelabelConfig{{
					Action:       "keep",
					SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_container_name"},
					Regex:        sidecarContainer,
				}},
			}},
		},
	}
}

// Alert names.
const (
	AlertHighErrorRate = "CanaryHighErrorRate"
	AlertHighLatency   = "CanaryHighLatency"
	AlertNoTraffic     = "CanaryNoTraffic"
)

func prometheusRule(o *Options) *monitoringv1.PrometheusRule {
	dur := func(s monitoringv1.Duration) *monitoringv1.Duration { return &s }
	labels := func(severity string) map[string]string {
		return map[string]string{"severity": severity, "app": o.Name, "namespace": o.Namespace}
	}
	canary := canaryMatcher()
	noTraffic := fmt.Sprintf("(%s or vector(0)) == 0\nand on ()\nsum(kube_deployment_status_replicas_available{namespace=%q, deployment=%q}) > 0",
		o.requestRate("", "10m", canary), o.Namespace, o.canaryName())
	return &monitoringv1.PrometheusRule{
		TypeMeta:   typeMeta("monitoring.coreos.com/v1", "PrometheusRule"),
		ObjectMeta: metav1.ObjectMeta{Name: o.Name + "-canary", Namespace: o.Namespace, Labels: monitoringLabels(o)},
		Spec: monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{{
			Name: o.Name + "-canary",
			Rules: []monitoringv1.Rule{
				{
					Alert:  AlertHighErrorRate,
					Expr:   intstr.FromString(o.errorRatio("destination_version", "5m", canary) + "\n> 0.05"),
					For:    dur("2m"),
					Labels: labels("critical"),
					Annotations: map[string]string{
						"summary":     fmt.Sprintf("Canary of %s/%s answers more than 5%% of requests with 5xx", o.Namespace, o.Name),
						"description": "Error rate of the canary is {{ $value | humanizePercentage }} over 5m. promoter rolls back at this level (rollbackOn error-rate 0.05).",
					},
				},
				{
					Alert:  AlertHighLatency,
					Expr:   intstr.FromString(o.latencyQuantile("0.99", "destination_version", "5m", canary) + "\n> 500"),
					For:    dur("5m"),
					Labels: labels("warning"),
					Annotations: map[string]string{
						"summary":     fmt.Sprintf("Canary of %s/%s has a p99 latency over 500 ms", o.Namespace, o.Name),
						"description": "p99 latency of the canary is {{ $value }} ms over 5m; promoter does not promote above 500 ms and rolls back above 2 s.",
					},
				},
				{
					Alert:  AlertNoTraffic,
					Expr:   intstr.FromString(noTraffic),
					For:    dur("15m"),
					Labels: labels("warning"),
					Annotations: map[string]string{
						"summary":     fmt.Sprintf("Canary of %s/%s is running but receives no requests", o.Namespace, o.Name),
						"description": "No request reached the canary for 10m although it has available replicas. Expected while promoter holds it at 0%; otherwise check the " + o.routeKindName() + ".",
					},
				},
			},
		}}},
	}
}

// dashboardConfigMap holds the Grafana dashboard JSON.
func dashboardConfigMap(o *Options) (*corev1.ConfigMap, error) {
	data, err := dashboardJSON(o)
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		TypeMeta: typeMeta("v1", "ConfigMap"),
		ObjectMeta: metav1.ObjectMeta{
			Name: o.Name + "-canary-dashboard", Namespace: o.Namespace,
			Labels: map[string]string{"app": o.Name, "grafana_dashboard": "1"},
		},
		Data: map[string]string{o.Name + "-canary.json": string(data)},
	}, nil
}
