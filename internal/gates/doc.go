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
// [RunSequential] is the anytime-valid test of the design's statistics note: a mixture
// likelihood-ratio e-process on the canary's share of bad events per tile,
// which keeps P(ever roll back a canary no worse than stable) below alpha
// however often it is evaluated. It is pure Go over counts ([Pair]), so the
// benchmark simulator drives exactly the code promoter runs.
//
// # Using it
//
// The promotion loop connects a [Client] (a [Querier]) and, for each run,
// calls [Observe] with the canary's spec and its [Stage] (committed weight,
// when the stage and the canary went live, now), then [Judge], which returns
// a [Report]: the stage's [Verdict], whether a rollback is due and why, and
// every gate's evidence. [Judge] is pure, which is how the benchmark
// simulator (cmd/canarysim) drives exactly this code. Reports print as
// text ([Report.WriteText]), JSON ([Report.WriteJSON]) and Markdown for pull
// requests ([Report.WriteMarkdown]).
//
// The report's Verdict is Fail when a rollback is due (Report.Rollback) or a
// gate fails, else Error if a query failed, else Inconclusive if any gate
// lacks data, else Pass. Promotion additionally needs the step's pause to
// have elapsed, which is the caller's business.
package gates
