// Package promapi is an in-process, Prometheus-compatible query API: a real
// TSDB ([Store]) queried by the real PromQL engine behind the HTTP endpoints
// that promoter's Prometheus client calls. It lets `promoter demo` and the
// end-to-end tests run promoter's production queries without a Prometheus
// server.
//
// # Endpoints
//
// [API] serves, with Prometheus's JSON shapes, status codes and error types:
//
//   - /api/v1/query (query, time, timeout), GET or POST form
//   - /api/v1/query_range (query, start, end, step, timeout), GET or POST form
//   - /api/v1/status/buildinfo, a minimal build description
//   - /-/ready and /-/healthy
//
// Results are encoded as Prometheus does: {"status":"success","data":
// {"resultType":"vector","result":[...]}}, every value a [<unix seconds>,
// "<value>"] pair. Errors are {"status":"error","errorType":"bad_data",
// "error":"..."} with status 400 (bad_data), 422 (execution), 503 (timeout)
// or 500 (internal).
//
// # Storage
//
// [OpenStore] opens a TSDB in a directory (a temporary one, removed by
// [Store.Close], when none is given) with compaction disabled, so every sample
// stays in the head and any time range can be appended, in or out of order.
// [Store.Append] adds samples; [Store.Appender] gives the raw appender to
// callers that append many samples and keep series references.
//
// # Faults
//
// [API.InjectFaults] makes the next requests fail or wait, so that callers can
// test how they handle a Prometheus that errs, times out or answers garbage.
package promapi
