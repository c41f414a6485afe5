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
// stage's start. Only complete tiles that ended at least analysis.lag ago
// (default 1m: a scrape interval plus ingestion) are used, so a tile's
// counts do not change between runs. Each tile's counts come from range
// queries with step = interval evaluated at the tiles' ends: per series, the
// counter's last sample minus its last sample before the tile, a series
// that appears inside the tile counted from zero (its first samples are
// requests that increase() cannot see), and increase() for a series whose
// counter was reset. Consecutive tiles add up to what the counters
// counted. Any run recomputes the same evidence and reaches the same
// decision. Flagger's threshold (failed checks before a rollback) is
// counted over the stage's tiles, without any state.
//
// # Queries
//
// The built-in gates read Istio's standard metrics of one reporter
// (spec.analysis.reporter: "destination" for sidecars, "waypoint" for
// ambient mode's waypoints, which report the requests Gateway API routes
// split) and ask for both versions at once (sum by pod and by destination_version,
// or destination_service_name for a split by host):
// one range query for requests, one for 5xx responses, one for the latency
// buckets, for every gate of the stage; the sequential test's grid starts
// an hour before the canary so the same queries return stable's baseline.
// Latency quantiles are computed from the bucket counts with PromQL's
// histogram_quantile algorithm ([Histogram.Quantile]), so one bucket query
// serves every latency gate and the sequential test. Custom gates run
// their own template, with every value from the spec escaped for a PromQL
// string.
//
// # The sequential test
//
// [RunSequential] is an anytime-valid test of "the canary is no worse than
// stable" (H0: r <= r0, r the ratio of the canary's bad-event rate to
// stable's, r0 = margin, default 1). It is pure Go over counts ([Pair]), so
// the benchmark simulator drives exactly the code promoter runs.
//
// Model. In tile k the canary served nc requests and stable ns; of the m
// bad events (5xx, or requests slower than a bucket bound T) yc were the
// canary's. Given m, and whatever the shared rate did in the tile (load,
// incidents, diurnal swings), yc is binomial with p_k(r) = nc r / (nc r + ns)
// when the canary's rate is r times stable's. The log-likelihood ratio of r
// against r0 over tiles 1..k is a sum of per-tile terms.
//
// Rollback. E_k = sum_j w_j exp(l_k(r_j) - l_k(r0)) over a prior fixed
// before any data: half on 20 points evenly spaced in log r over
// [1.05 r0, 10 r0], half on 1.5 r0. Each term is a likelihood ratio, a
// non-negative martingale under r = r0 (and a supermartingale for r < r0),
// so the mixture is one too, and Ville's inequality gives P(ever E >= 1/a)
// <= a. The point mass buys power against modest regressions (x1.5) that a
// grid dilutes; the grid keeps large regressions fast. A grid of many
// points approximates a prior density in log r, and what one interval of
// a x5 regression shows is that density near 5: stopping the grid at 10
// rather than 20 raises it by 30%, while a regression beyond 10 still
// shows at once (its likelihood at 10 alone is overwhelming).
// Errors are tested at 0.8 alpha, latency at 0.2 alpha (Bonferroni: the
// probability that either family ever crosses is at most alpha). The
// always-valid p-value is min(1, 1/(share * max_k E_k)) over the families.
//
// Latency. The bounds are every bucket bound that stable's requests exceed
// with a probability between 0.5% and 99.5% in the hour before the canary,
// plus the bounds just above stable's p90 and p99 (for tails where the
// buckets are coarse). The latency e-process is the average of the bounds'
// e-processes: under H0 (no slower at any bound) each is an e-process, and
// an average of e-processes is one. They are chosen from stable's data
// only, and pinned at the canary's start ([Pinned], recorded with the
// component and read back), as are alpha and the margins, so neither a
// spec edit nor another run's view of stable's history changes a test that
// has seen data. A failed query of stable's history before anything was
// pinned is an Error (hold), never a silent fallback; a histogram without
// a pinned bound makes the gate Inconclusive (a missing bucket is not zero
// slow requests).
//
// Overdispersion. Requests are not independent: a session's or a batch
// client's requests share their fate, retries repeat a failure, a pod has
// bad minutes. Then counts vary phi times more than the binomial says, and
// the likelihood ratio of the model overstates the evidence about phi-fold
// (with sessions of 5, a healthy canary was rolled back over half the time).
// Each tile's log-likelihood is divided by phi_k, an estimate of phi from
// stable alone: within a tile stable's pods see the same rates, so the
// Pearson statistic of their bad-event counts around the tile's pooled rate,
// X^2 = sum_i (y_i - n_i p)^2 / (n_i p (1-p)), has expectation phi (pods-1).
// X^2 and df = pods-1 are summed over the hour before the canary and the
// canary's tiles up to k, and pooled over all families (clustered requests
// share latency as well as errors, and the latency counts show it long
// before a low error rate can). phi_k = X^2 / df when X^2 is above the 95th
// percentile of a chi-square on df degrees of freedom (what independent
// requests give), else 1; a family whose own X^2 is above the 99th
// percentile of phi_k times that chi-square (errors in bad-pod minutes)
// uses its own estimate. Not max(1, X^2/df): on independent requests that
// keeps every upward fluctuation, averages above 1 and weakens the test
// for nothing (in the benchmark a x5 regression at 10 requests/s was
// caught in the first interval 52.6% of the time with the floored
// estimate, 56% with no correction at all); what the test leaves
// uncorrected is dispersion within about 1.6 sqrt(2/df) of 1, a few
// percent of the evidence with the hundred-odd degrees of freedom of an
// hour of ten pods. Dividing by phi
// is exactly the likelihood of the bad events counted in clusters of phi;
// for other mechanisms it is the quasi-likelihood correction, valid to the
// extent phi_k is not an underestimate. phi_k uses tiles up to k only, so a
// tile's weight is fixed once it is complete and every run recomputes the
// same e-process. What it does not cover: dispersion that stable's pods do
// not show (a canary on one pod serving far more traffic than any stable
// pod has bursts that weigh more than theirs), and a canary that receives
// a different mix of requests than stable (a header route): the test then
// measures a real difference of the canary's requests, which it reports.
//
// Warm-up. Tiles that overlap analysis.warmup (default one interval) after
// the canary's start and after each weight change are reported but left
// out of the latency e-process: cold caches and JITs make new pods slow,
// which is not a regression by itself. Which tiles are left out depends on
// time only, never on data, so the test stays valid. Errors are not left
// out (a failed request failed for its user), and rollbackOn triggers fire
// in a warm-up at once.
//
// Confidence interval. C = { r : l(r) >= log(alpha) + log sum_j w_j
// exp(l(r_j)) } over a two-sided grid [1/20, 20]; valid at every look,
// reported as "the canary's rate is between x and y times stable's".
//
// Promotion evidence (analysis.promoteWhen: evidence). The null is "the
// canary is at least r1 times worse (r1 = 1 + maxIncrease, default 2) in
// errors or at some latency bound": a union, rejected only when each part is
// rejected by its own test. (An average of the bounds' e-processes has no
// common null and is not a test of this.) A part can be rejected by two
// routes. The ratio route: an e-process E' = sum_j w'_j exp(l(r'_j) -
// l(r1)) over a grid below r1 reaching 2/alpha. The absolute route, for
// when stable has fewer than 10 bad events in the family (errors of a
// service that almost never fails, or a latency bound stable almost never
// exceeds: with coarse buckets, a 120 ms median puts the bounds above the
// body at 250 and 500 ms) and no ratio can be certified there, however
// healthy the canary: a beta-binomial confidence sequence
// ([RateUpperBound], valid at every look, at level alpha/2, on the counts
// divided by the dispersion factor) puts the canary's rate below max(0.1%,
// r1 times stable's). The part's null is then "r >= r1 and the canary's
// rate is at least the allowance", and it is rejected when either route
// rejects: by the union bound, with probability at most alpha/2 + alpha/2 =
// alpha. Alpha is split between the two routes in every family, always:
// which routes a family can take depends on stable's count, which grows
// with the data (a family whose stable count passes 10 during the canary
// could take the absolute route before and the ratio route after), so
// giving a family the full alpha when it "only has one route" would let
// the data choose the level. P(ever promote a canary that is r1 times
// worse, and above the allowance, anywhere) <= alpha. The split costs the
// ratio route log 2 of evidence (2/alpha rather than 1/alpha) and the
// absolute route about 6% more canary requests. For a bound stable exceeds
// once in a million requests the absolute route is the only test there can
// be: it takes about 13,000 canary requests with none above the bound, and
// a canary that exceeds it in 3% of its requests (the benchmark's latency
// x2 at its 250 ms bound, or a slow tail) is not promoted. What no test can
// do is promote a canary that has served too few requests: at 1% weight
// and 10 requests/s it serves 720 in two hours, and no confidence sequence
// puts a rate below 0.1% from 720 requests.
//
// # What each guarantee covers
//
// The alpha bound covers the sequential gate's rollbacks, with the caveats
// of Overdispersion above. The other gates are thresholds: error-rate,
// success-rate and latency gates with absolute limits re-checked every
// interval have no error-rate guarantee; a failed check counts towards
// analysis.threshold only when the canary is worse than stable in that
// interval (stable breaks the limit too, or the canary is not 3 standard
// errors worse than stable's rate), as rollbackOn triggers do; still, a
// service whose own rate sits at an absolute limit fails such checks often.
// Promotion evidence bounds by alpha P(promote a canary that is r1 times
// worse than stable, and above the absolute allowance, in errors or at some
// latency bound): each family's ratio route and absolute route at alpha/2.
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
