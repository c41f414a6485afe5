package scaffold

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Typed partial views of the Istio resources the scaffold writes: only the
// fields it sets, with Istio's JSON names. The tests validate the output
// against Istio's CRD schemas.

type destinationRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              destinationRuleSpec `json:"spec"`
}

type destinationRuleSpec struct {
	Host          string         `json:"host"`
	TrafficPolicy *trafficPolicy `json:"trafficPolicy,omitempty"`
	Subsets       []subset       `json:"subsets,omitempty"`
}

type subset struct {
	Name          string            `json:"name"`
	Labels        map[string]string `json:"labels"`
	TrafficPolicy *trafficPolicy    `json:"trafficPolicy,omitempty"`
}

type trafficPolicy struct {
	ConnectionPool   connectionPool   `json:"connectionPool"`
	OutlierDetection outlierDetection `json:"outlierDetection"`
}

type connectionPool struct {
	TCP struct {
		MaxConnections int `json:"maxConnections"`
	} `json:"tcp"`
	HTTP struct {
		HTTP1MaxPendingRequests  int `json:"http1MaxPendingRequests"`
		HTTP2MaxRequests         int `json:"http2MaxRequests"`
		MaxRequestsPerConnection int `json:"maxRequestsPerConnection,omitempty"`
	} `json:"http"`
}

type outlierDetection struct {
	Consecutive5xxErrors int    `json:"consecutive5xxErrors"`
	Interval             string `json:"interval"`
	BaseEjectionTime     string `json:"baseEjectionTime"`
	MaxEjectionPercent   int    `json:"maxEjectionPercent"`
}

type virtualService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Hosts []string    `json:"hosts"`
		HTTP  []httpRoute `json:"http"`
	} `json:"spec"`
}

type httpRoute struct {
	Name    string             `json:"name"`
	Match   []httpMatch        `json:"match,omitempty"`
	Route   []routeDestination `json:"route"`
	Headers *headers           `json:"headers,omitempty"`
	Retries *retries           `json:"retries,omitempty"`
}

type httpMatch struct {
	Headers map[string]stringMatch `json:"headers"`
}

type stringMatch struct {
	Exact string `json:"exact,omitempty"`
	Regex string `json:"regex,omitempty"`
}

type routeDestination struct {
	Destination struct {
		Host   string `json:"host"`
		Subset string `json:"subset,omitempty"`
	} `json:"destination"`
	Weight  *int     `json:"weight,omitempty"`
	Headers *headers `json:"headers,omitempty"`
}

type headers struct {
	Response struct {
		Set map[string]string `json:"set"`
	} `json:"response"`
}

type retries struct {
	Attempts      int    `json:"attempts"`
	PerTryTimeout string `json:"perTryTimeout"`
	RetryOn       string `json:"retryOn"`
}

type envoyFilter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		WorkloadSelector struct {
			Labels map[string]string `json:"labels"`
		} `json:"workloadSelector"`
		ConfigPatches []envoyConfigPatch `json:"configPatches"`
	} `json:"spec"`
}

type envoyConfigPatch struct {
	ApplyTo string `json:"applyTo"`
	Match   struct {
		Context  string `json:"context"`
		Listener struct {
			FilterChain struct {
				Filter struct {
					Name string `json:"name"`
				} `json:"filter"`
			} `json:"filterChain"`
		} `json:"listener"`
	} `json:"match"`
	Patch struct {
		Operation string `json:"operation"`
		Value     any    `json:"value"`
	} `json:"patch"`
}

const (
	istioNetworking      = "networking.istio.io/v1"
	istioNetworkingAlpha = "networking.istio.io/v1alpha3" // EnvoyFilter is served only there
	splitRoute           = "canary-route"
	subsetStable         = "stable"
	subsetCanary         = "canary"
)

func (o *Options) vsName() string { return o.Name + "-routing" }
func (o *Options) drName() string { return o.Name + "-destination" }

// The traffic policies of the DestinationRules: connection pools and
// outlier detection (circuit breakers) for all, and stricter limits for
// the canary: it fails fast instead of queueing.
func trafficPolicies() (stable, canary *trafficPolicy) {
	policy := func(conns, pending, h2, perConn, errs int, interval, eject string, pct int) *trafficPolicy {
		var p trafficPolicy
		p.ConnectionPool.TCP.MaxConnections = conns
		p.ConnectionPool.HTTP.HTTP1MaxPendingRequests = pending
		p.ConnectionPool.HTTP.HTTP2MaxRequests = h2
		p.ConnectionPool.HTTP.MaxRequestsPerConnection = perConn
		p.OutlierDetection = outlierDetection{errs, interval, eject, pct}
		return &p
	}
	return policy(100, 100, 1000, 10, 5, "30s", "30s", 50), policy(50, 50, 500, 0, 3, "10s", "60s", 100)
}

// destinationRule defines the two subsets by version label, with the
// stable policy for all and the canary's on the canary subset.
func newDestinationRule(o *Options) *destinationRule {
	stable, canary := trafficPolicies()
	return &destinationRule{
		TypeMeta:   typeMeta(istioNetworking, "DestinationRule"),
		ObjectMeta: metav1.ObjectMeta{Name: o.drName(), Namespace: o.Namespace},
		Spec: destinationRuleSpec{
			Host:          o.Name,
			TrafficPolicy: stable,
			Subsets: []subset{
				{Name: subsetStable, Labels: map[string]string{"version": stableVersion}},
				{Name: subsetCanary, Labels: map[string]string{"version": canaryVersion},
					TrafficPolicy: canary},
			},
		},
	}
}

// hostDestinationRules are, for a split by host, one DestinationRule per
// version's Service, without subsets: the Services select the versions.
func hostDestinationRules(o *Options) stream {
	stable, canary := trafficPolicies()
	dr := func(host string, p *trafficPolicy) *destinationRule {
		return &destinationRule{
			TypeMeta:   typeMeta(istioNetworking, "DestinationRule"),
			ObjectMeta: metav1.ObjectMeta{Name: host, Namespace: o.Namespace},
			Spec:       destinationRuleSpec{Host: host, TrafficPolicy: p},
		}
	}
	return stream{dr(o.stableName(), stable), dr(o.canaryName(), canary)}
}

var destinationRuleComments = Comments{
	"spec.subsets[1].trafficPolicy": "Stricter limits for the canary: it fails fast instead of queueing.",
}

// cookieName is the cookie that keeps a user on the canary.
const cookieName = "canary"

// newVirtualService routes testers, beta users and (optionally) cookie
// holders and regions to the canary, and splits everyone else on the
// route canary-route, whose weights promoter's component sets.
func newVirtualService(o *Options) (*virtualService, Comments) {
	vs := &virtualService{
		TypeMeta:   typeMeta(istioNetworking, "VirtualService"),
		ObjectMeta: metav1.ObjectMeta{Name: o.vsName(), Namespace: o.Namespace},
	}
	vs.Spec.Hosts = []string{o.Name}
	dest := func(subset string, weight *int) routeDestination {
		var d routeDestination
		d.Destination.Host, d.Destination.Subset, d.Weight = o.Name, subset, weight
		if o.hostSplit() {
			// The Services N-stable and N-canary.
			d.Destination.Host, d.Destination.Subset = o.Name+"-"+subset, ""
		}
		return d
	}
	servedBy := func(subset string) *headers {
		var h headers
		h.Response.Set = map[string]string{"x-served-by": subset}
		return &h
	}
	toCanary := func(name, header string, m stringMatch) httpRoute {
		return httpRoute{
			Name:    name,
			Match:   []httpMatch{{Headers: map[string]stringMatch{header: m}}},
			Route:   []routeDestination{dest(subsetCanary, nil)},
			Headers: servedBy(subsetCanary),
		}
	}
	comments := Comments{}
	comment := func(text string) { comments["spec.http["+itoa(len(vs.Spec.HTTP))+"]"] = text }

	comment("Testers opt in to the canary with a header.")
	vs.Spec.HTTP = append(vs.Spec.HTTP, toCanary("canary-header", "x-canary-test", stringMatch{Exact: "true"}))
	comment("Beta users always see the canary.")
	vs.Spec.HTTP = append(vs.Spec.HTTP, toCanary("beta-users", "x-user-type", stringMatch{Exact: "beta"}))
	if o.Cookie {
		comment("Users who reached the canary stay on it: the weighted route sets the cookie.")
		vs.Spec.HTTP = append(vs.Spec.HTTP, toCanary("canary-cookie", "cookie", stringMatch{Regex: "^(.*?;\\s*)?(" + cookieName + "=true)(;.*)?$"}))
	}
	for _, r := range o.Regions {
		comment("Requests from region " + r + " go to the canary.")
		vs.Spec.HTTP = append(vs.Spec.HTTP, toCanary("region-"+sanitize(r), "x-region", stringMatch{Exact: r}))
	}

	comment("Everyone else: the weighted split that promoter manages.")
	hundred, zero := 100, 0
	split := httpRoute{
		Name:    splitRoute,
		Route:   []routeDestination{dest(subsetStable, &hundred), dest(subsetCanary, &zero)},
		Retries: &retries{Attempts: 3, PerTryTimeout: "2s", RetryOn: "5xx,reset,connect-failure"},
	}
	if o.Cookie {
		var h headers
		h.Response.Set = map[string]string{"set-cookie": cookieName + "=true; Path=/; Max-Age=86400"}
		split.Route[1].Headers = &h
	}
	vs.Spec.HTTP = append(vs.Spec.HTTP, split)
	return vs, comments
}

// newEnvoyFilter adds to the sidecars of the application an access log
// line per request that records the version that served it (APP_VERSION,
// set on each Deployment's sidecar through proxy.istio.io/config).
func newEnvoyFilter(o *Options) *envoyFilter {
	ef := &envoyFilter{
		TypeMeta:   typeMeta(istioNetworkingAlpha, "EnvoyFilter"),
		ObjectMeta: metav1.ObjectMeta{Name: o.Name + "-access-log", Namespace: o.Namespace},
	}
	ef.Spec.WorkloadSelector.Labels = map[string]string{"app": o.Name}
	var p envoyConfigPatch
	p.ApplyTo = "NETWORK_FILTER"
	p.Match.Context = "SIDECAR_INBOUND"
	p.Match.Listener.FilterChain.Filter.Name = "envoy.filters.network.http_connection_manager"
	p.Patch.Operation = "MERGE"
	format := `[%START_TIME%] app=` + o.Name + ` version=%ENVIRONMENT(APP_VERSION)% ` +
		`"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ` +
		`%DURATION%ms canary_test=%REQ(X-CANARY-TEST)% user_type=%REQ(X-USER-TYPE)% request_id=%REQ(X-REQUEST-ID)%` + "\n"
	p.Patch.Value = map[string]any{
		"typed_config": map[string]any{
			"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
			"access_log": []any{map[string]any{
				"name": "envoy.access_loggers.file",
				"typed_config": map[string]any{
					"@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
					"path":  "/dev/stdout",
					"log_format": map[string]any{
						"text_format_source": map[string]any{"inline_string": format},
					},
				},
			}},
		},
	}
	ef.Spec.ConfigPatches = []envoyConfigPatch{p}
	return ef
}
