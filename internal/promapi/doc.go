// Package promapi is an in-process, Prometheus-compatible query API: series
// held in memory ([Store]) queried by the real PromQL engine behind the HTTP endpoints
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
// [NewStore] makes an empty in-memory store of float series. [Store.Append]
// adds samples of any age, in or out of order, in one all-or-nothing
// transaction; [Store.Appender] gives a raw appender to callers that append
// many samples and keep series references. The store is a
// [storage.Queryable], so the engine reads it as it reads Prometheus's own
// storage; it deliberately is not Prometheus's TSDB, whose package brings
// Prometheus's configuration and the cloud SDKs of its service discovery
// into every binary that links it.
//
// # Faults
//
// [API.InjectFaults] makes the next requests fail or wait, so that callers can
// test how they handle a Prometheus that errs, times out or answers garbage.
package promapi
