// Package mesh simulates an Istio service mesh as Prometheus sees it: for
// each service, a stable and a canary version whose Envoy sidecars count
// requests (istio_requests_total) and observe latencies
// (istio_request_duration_milliseconds) and are scraped at a fixed interval
// into a [promapi.Store]. promoter's own gate queries then run on it with the
// real PromQL engine, in `promoter demo` and in end-to-end tests.
//
// # Traffic
//
// Each scrape interval, a service receives Poisson(RPS × interval) requests,
// split between the versions by the canary weight in percent that the
// caller's [Service.Weight] returns (in the demo, the weight committed to
// Git, as Argo CD and Istio would apply it). Every version's requests fail
// (response_code="503", else "200") as a binomial draw with its error rate,
// and their latencies fall into Istio's default buckets ([Buckets]) as a
// multinomial draw from a lognormal distribution with the version's median
// and sigma. Rate, weight and health are read at the middle of each
// interval, so a change at time T governs the intervals that start at T.
//
// # Series
//
// The counters are cumulative, start at zero at [Options.Start], and carry
// Istio's labels: reporter ("destination", or "waypoint" for a service
// whose traffic a waypoint routes: Service.Reporter), destination_service_namespace,
// destination_service_name, destination_service (<name>.<ns>.svc.cluster.local),
// destination_workload, destination_version, response_code and, when set,
// source_workload. The duration histogram has _bucket (with le), _sum and
// _count series per response code.
//
// # Determinism
//
// Everything is drawn from one generator seeded by [Options.Seed]: the same
// options and the same sequence of [Mesh.Advance] targets give the same
// samples, however the advances are split.
package mesh
