package scaffold

import (
	"fmt"
	"strconv"
)

// PromQL over Istio's standard metrics, as reported by the destination
// sidecars, for the application's service. window is a range like "5m" or
// Grafana's "$__rate_interval".

// selector is the label matcher of the application's requests; extra
// matchers are appended.
func (o *Options) selector(extra ...string) string {
	reporter := `reporter="destination"`
	if o.ambient() {
		// In ambient mode the waypoint reports the requests.
		reporter = `reporter="waypoint"`
	}
	s := reporter + `, destination_workload_namespace=` + strconv.Quote(o.Namespace) +
		`, destination_service_name=` + strconv.Quote(o.Name)
	if o.hostSplit() {
		// The weighted route sends requests to the Services N-stable and
		// N-canary; the pods' version labels still tell the versions apart.
		s = reporter + `, destination_workload_namespace=` + strconv.Quote(o.Namespace) +
			`, destination_service_name=~` + strconv.Quote(o.stableName()+"|"+o.canaryName())
	}
	for _, e := range extra {
		s += ", " + e
	}
	return "{" + s + "}"
}

func canaryMatcher() string { return `destination_version="` + canaryVersion + `"` }

// requestRate is the rate of requests, by the given labels.
func (o *Options) requestRate(by, window string, extra ...string) string {
	if by == "" {
		return fmt.Sprintf("sum(rate(istio_requests_total%s[%s]))", o.selector(extra...), window)
	}
	return fmt.Sprintf("sum by (%s) (rate(istio_requests_total%s[%s]))", by, o.selector(extra...), window)
}

// errorRatio is the share of 5xx responses, by the given labels.
func (o *Options) errorRatio(by, window string, extra ...string) string {
	return fmt.Sprintf("%s\n/\n%s",
		o.requestRate(by, window, append(extra, `response_code=~"5.."`)...),
		o.requestRate(by, window, extra...))
}

// latencyQuantile is the q quantile of request durations in milliseconds.
func (o *Options) latencyQuantile(q, by, window string, extra ...string) string {
	return fmt.Sprintf("histogram_quantile(%s, sum by (%s) (rate(istio_request_duration_milliseconds_bucket%s[%s])))",
		q, by+", le", o.selector(extra...), window)
}
