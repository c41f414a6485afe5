package scaffold

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The ambient shape (--route httproute): the namespace's pods join the
// mesh through ztunnel, no sidecars; its Services' traffic goes through a
// waypoint, which applies the HTTPRoute and reports Istio's request
// metrics with reporter="waypoint".

const (
	waypointName  = "waypoint"
	waypointClass = "istio-waypoint"
	// waypointPort is the HBONE listener every waypoint has.
	waypointPort = 15008
	// waypointMetricsPort and Path are where a waypoint pod serves its
	// metrics (Istio's merged Prometheus endpoint of the proxy).
	waypointMetricsPort = 15020
	waypointMetricsPath = "/stats/prometheus"
	// waypointPodLabel is the label Istio puts on a Gateway's pods.
	waypointPodLabel = "gateway.networking.k8s.io/gateway-name"
	servicePort      = 80
)

// ambientNamespace enrols the namespace in ambient mode with the waypoint
// for its Services.
func ambientNamespace(o *Options) *corev1.Namespace {
	return &corev1.Namespace{
		TypeMeta: typeMeta("v1", "Namespace"),
		ObjectMeta: metav1.ObjectMeta{
			Name: o.Namespace,
			Labels: map[string]string{
				"istio.io/dataplane-mode": "ambient",
				"istio.io/use-waypoint":   waypointName,
			},
		},
	}
}

// waypoint is the namespace's waypoint proxy for Service traffic, as
// `istioctl waypoint generate --for service` writes it.
func waypoint(o *Options) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{
		TypeMeta: typeMeta(gatewayv1.GroupVersion.String(), "Gateway"),
		ObjectMeta: metav1.ObjectMeta{
			Name: waypointName, Namespace: o.Namespace,
			Labels: map[string]string{"istio.io/waypoint-for": "service"},
		},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: waypointClass,
			Listeners: []gatewayv1.Listener{{
				Name: "mesh", Port: waypointPort, Protocol: "HBONE",
			}},
		},
	}
}

// newHTTPRoute attaches to the Service N (the name clients call, so the
// waypoint applies it), sends testers, beta users and (optionally)
// regions to N-canary, and splits everyone else on the rule canary-route
// between N-stable and N-canary, whose weights promoter's component sets.
func newHTTPRoute(o *Options) (*gatewayv1.HTTPRoute, Comments) {
	r := &gatewayv1.HTTPRoute{
		TypeMeta:   typeMeta(gatewayv1.GroupVersion.String(), "HTTPRoute"),
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace},
	}
	r.Spec.ParentRefs = []gatewayv1.ParentReference{{
		Group: ptr.To(gatewayv1.Group("")), Kind: ptr.To(gatewayv1.Kind("Service")),
		Name: gatewayv1.ObjectName(o.Name), Port: ptr.To(gatewayv1.PortNumber(servicePort)),
	}}
	backend := func(name string, weight *int32) gatewayv1.HTTPBackendRef {
		var b gatewayv1.HTTPBackendRef
		b.Name = gatewayv1.ObjectName(name)
		b.Port = ptr.To(gatewayv1.PortNumber(servicePort))
		b.Weight = weight
		return b
	}
	servedBy := func(version string) gatewayv1.HTTPRouteFilter {
		return gatewayv1.HTTPRouteFilter{
			Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier,
			ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{
				Set: []gatewayv1.HTTPHeader{{Name: "x-served-by", Value: version}},
			},
		}
	}
	toCanary := func(name, header, value string) gatewayv1.HTTPRouteRule {
		return gatewayv1.HTTPRouteRule{
			Name: ptr.To(gatewayv1.SectionName(name)),
			Matches: []gatewayv1.HTTPRouteMatch{{Headers: []gatewayv1.HTTPHeaderMatch{{
				Type: ptr.To(gatewayv1.HeaderMatchExact), Name: gatewayv1.HTTPHeaderName(header), Value: value,
			}}}},
			Filters:     []gatewayv1.HTTPRouteFilter{servedBy(subsetCanary)},
			BackendRefs: []gatewayv1.HTTPBackendRef{backend(o.canaryName(), nil)},
		}
	}
	comments := Comments{}
	comment := func(text string) { comments["spec.rules["+itoa(len(r.Spec.Rules))+"]"] = text }
	comment("Testers opt in to the canary with a header.")
	r.Spec.Rules = append(r.Spec.Rules, toCanary("canary-header", "x-canary-test", "true"))
	comment("Beta users always see the canary.")
	r.Spec.Rules = append(r.Spec.Rules, toCanary("beta-users", "x-user-type", "beta"))
	for _, reg := range o.Regions {
		comment("Requests from region " + reg + " go to the canary.")
		r.Spec.Rules = append(r.Spec.Rules, toCanary("region-"+sanitize(reg), "x-region", reg))
	}
	comment("Everyone else: the weighted split that promoter manages. Gateway API\nmatches the most specific rule first, so the header rules above win.")
	r.Spec.Rules = append(r.Spec.Rules, gatewayv1.HTTPRouteRule{
		Name:        ptr.To(gatewayv1.SectionName(splitRoute)),
		BackendRefs: []gatewayv1.HTTPBackendRef{backend(o.stableName(), ptr.To[int32](100)), backend(o.canaryName(), ptr.To[int32](0))},
	})
	return r, comments
}

// waypointPodMonitor scrapes the namespace's waypoint: in ambient mode it,
// not a sidecar, reports istio_requests_total and
// istio_request_duration_milliseconds for the requests the HTTPRoute
// splits (reporter="waypoint").
func waypointPodMonitor(o *Options) *monitoringv1.PodMonitor {
	port := int32(waypointMetricsPort)
	return &monitoringv1.PodMonitor{
		TypeMeta:   typeMeta("monitoring.coreos.com/v1", "PodMonitor"),
		ObjectMeta: metav1.ObjectMeta{Name: o.Name + "-waypoint", Namespace: o.Namespace, Labels: monitoringLabels(o)},
		Spec: monitoringv1.PodMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: map[string]string{waypointPodLabel: waypointName}},
			NamespaceSelector: monitoringv1.NamespaceSelector{MatchNames: []string{o.Namespace}},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{
				PortNumber: &port,
				Path:       waypointMetricsPath,
				Interval:   "15s",
			}},
		},
	}
}
