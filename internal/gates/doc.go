// Package gates evaluates a canary stage against Prometheus: it runs the
// queries, judges each gate, runs the sequential canary-vs-stable test and
// writes the gate report. It knows nothing of Git: the caller says which
// canary, which committed weight, and when the canary and the stage started.
//
// # Verdicts
//
// Every gate ends in one of four [Verdict]s. [Pass] and [Fail] are what they
// say. [Inconclusive] means there is not enough data (no requests, an empty
// result, NaN, fewer requests than analysis.minRequests): it is never a pass.
// [Error] means a query failed: it is never a pass, and never a rollback by
// itself.
//
// # Tiles
//
// Time is cut into tiles of analysis.interval. The sequential test's tiles
// start at the canary's start; the Flagger-style checks' tiles start at the
// stage's start. Only complete tiles are used, and each tile's counts come
// from increase(...[interval]) evaluated at the tile's end (Prometheus range
// queries with step = interval), so any run recomputes the same evidence and
// reaches the same decision. Flagger's threshold (failed checks before a
// rollback) is counted over the stage's tiles, without any state.
//
// # Queries
//
// The built-in gates read Istio's standard metrics with reporter="destination"
// and ask for both versions at once (sum by (destination_version)): one range
// query for requests, one for 5xx responses, one for the latency buckets, for
// every gate of the stage. Latency quantiles are computed from the bucket
// counts with PromQL's histogram_quantile algorithm ([Histogram.Quantile]),
// so one bucket query serves every latency gate and the sequential test.
// Custom gates run their own template, with every value from the spec
// escaped for a PromQL string.
//
// # The sequential test
//
// [RunSequential] is the anytime-valid test of docs/stats: a mixture
// likelihood-ratio e-process on the canary's share of bad events per tile,
// which keeps P(ever roll back a canary no worse than stable) below alpha
// however often it is evaluated. It is pure Go over counts ([Pair]), so the
// benchmark simulator drives exactly the code promoter runs.
//
// # Using it
//
// [Evaluator.Evaluate] observes and judges one stage and returns a [Report];
// [Judge] is the pure half, used by the simulator. Reports print as text,
// JSON and Markdown.
package gates
