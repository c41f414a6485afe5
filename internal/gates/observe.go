package gates

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// Stage is the stage being judged, as the caller derived it (from Git).
type Stage struct {
	// Weight is the committed canary weight in percent.
	Weight int
	// Start is when the stage went live; CanaryStart when the canary's
	// first stage did. CanaryStart zero means Start.
	Start, CanaryStart time.Time
	// Now is the evaluation time (the injected clock).
	Now time.Time
	// Changes are the instants the canary's weight changed after its
	// start (the start of each later step), for the warm-up; the stage's
	// Start and CanaryStart count without being listed.
	Changes []time.Time
	// Pinned is what the sequential test fixed at the canary's start, as
	// recorded with the canary; nil when nothing was recorded yet.
	Pinned *Pinned

	interval time.Duration // analysis.interval, set by Judge for messages
}

func (s Stage) canaryStart() time.Time {
	if s.CanaryStart.IsZero() || s.CanaryStart.After(s.Start) {
		return s.Start
	}
	return s.CanaryStart
}

// warmupTiles marks the tiles that overlap the warm-up of length d after
// the canary's start, the stage's start or a weight change.
func (s Stage) warmupTiles(tiles []Tile, d time.Duration) []bool {
	if d <= 0 || len(tiles) == 0 {
		return nil
	}
	starts := append([]time.Time{s.canaryStart(), s.Start}, s.Changes...)
	out := make([]bool, len(tiles))
	for k, t := range tiles {
		for _, c := range starts {
			if !c.IsZero() && t.Start.Before(c.Add(d)) && t.End.After(c) {
				out[k] = true
			}
		}
	}
	return out
}

// Counts is one quantity for both versions.
type Counts struct{ Canary, Stable float64 }

// Tile is what Prometheus says about one tile: requests, 5xx responses and
// latency buckets of both versions over (Start, End].
type Tile struct {
	Start, End time.Time
	Requests   Counts
	Errors     Counts
	// CanaryLatency and StableLatency are the tile's latency histograms in
	// milliseconds; nil when there were no observations.
	CanaryLatency, StableLatency Histogram
	// StablePods are stable's counts per pod, from which the sequential
	// test estimates how overdispersed the counts are.
	StablePods []PodCounts
}

// PodCounts are one pod's counts in a tile.
type PodCounts struct {
	Pod              string
	Requests, Errors float64
	Latency          Histogram
}

// MetricFamily names a metric family of the built-in queries.
type MetricFamily string

// The metric families.
const (
	FamilyRequests MetricFamily = "requests"
	FamilyErrors   MetricFamily = "errors"
	FamilyLatency  MetricFamily = "latency"
)

// TileSet is a grid of tiles and what went wrong fetching each family.
type TileSet struct {
	Tiles []Tile
	// Queries is the query of each family; Errs the error of each family
	// whose query failed.
	Queries map[MetricFamily]string
	Errs    map[MetricFamily]error
}

// Custom is the per-tile value of a custom gate's query on the stage grid
// (NaN where the query returned nothing).
type Custom struct {
	Query  string
	Values []float64
	Err    error
}

// Observations are everything the gates of one stage look at. [Observe]
// fetches them from Prometheus; the benchmark simulator builds them from
// synthetic traffic. [Judge] turns them into a [Report].
type Observations struct {
	// CanaryTiles are on the grid starting at the canary's start (the
	// sequential test); StageTiles on the grid starting at the stage's
	// start (all other gates). They are the same when the stage started on
	// the canary's grid.
	CanaryTiles, StageTiles TileSet
	// Baseline is stable's latency before the canary started, from which
	// the sequential test picks its bucket bounds; BaselineTiles are
	// stable's tiles of that hour (for the dispersion estimate), and
	// BaselineErr says why they could not be fetched.
	Baseline      Histogram
	BaselineTiles []Tile
	BaselineErr   error
	// Custom holds custom gates' values, keyed by [GateKey].
	Custom map[string]Custom
	// MissingCanary, when the canary has no series at all, names the
	// values of its label that the service does report and what to change
	// ("" when the canary has series, or nothing tells).
	MissingCanary string
}

// GateKey identifies a gate of a spec: "gates[2]" or "rollbackOn[0]".
func GateKey(list string, i int) string { return list + "[" + strconv.Itoa(i) + "]" }

// baselineWindow is how much of stable's history before the canary the
// sequential test uses to choose its latency bounds.
const baselineWindow = time.Hour

// alignUp returns the first instant at or after t on the grid of step
// aligned to absolute time, so that canaries with the same
// analysis.interval share tile boundaries (and one range query serves
// them all, see [Batch]).
func alignUp(t time.Time, step time.Duration) time.Time {
	a := t.Truncate(step)
	if a.Before(t) {
		a = a.Add(step)
	}
	return a
}

// grid is where a canary's tiles lie: the complete tiles of
// analysis.interval on the grid aligned to absolute time, from the
// baseline hour before the canary's start (when the sequential test needs
// it) up to now less analysis.lag.
type grid struct {
	first, canaryStart, now time.Time
	interval                time.Duration
	baseline                bool
}

func gridOf(c *spec.Canary, st Stage) grid {
	a := c.Spec.Analysis
	interval := a.Interval.Duration
	// Counts of the last lag are not trusted yet: scrapes and ingestion
	// may still add to them, and a tile must read the same at every run.
	g := grid{now: st.Now.Add(-a.Lag.Duration), interval: interval}
	// The canary's tiles are those that start at or after its start: the
	// tile it started in holds traffic of before, and is not the baseline's
	// either.
	g.canaryStart = st.canaryStart()
	g.first = alignUp(g.canaryStart, interval)
	// The sequential test also reads stable's hour before the canary: the
	// same queries over tiles of the same grid that end at the start.
	if hasSequential(a) {
		g.baseline = true
		g.first = g.first.Add(-time.Duration((baselineWindow+interval-1)/interval) * interval)
	}
	return g
}

// tileEnds returns the ends of the complete tiles of length step starting at
// start, up to now (the caller subtracts analysis.lag).
func tileEnds(start time.Time, step time.Duration, now time.Time) []time.Time {
	var ends []time.Time
	for e := start.Add(step); !e.After(now); e = e.Add(step) {
		ends = append(ends, e)
	}
	return ends
}

// Observe runs the queries of the stage's gates: three range queries (requests,
// errors, latency buckets) per tile grid, one for stable's pre-canary
// latency, and one per custom gate, concurrently. Query failures are
// recorded in the observations, not returned: [Judge] turns them into Error
// verdicts. The error is only for a spec that cannot be queried at all.
func Observe(ctx context.Context, q Querier, c *spec.Canary, st Stage) (*Observations, error) {
	a := c.Spec.Analysis
	interval := a.Interval.Duration
	if interval <= 0 {
		return nil, fmt.Errorf("analysis.interval must be set")
	}
	t := TargetOf(c)
	obs := &Observations{Custom: map[string]Custom{}}
	var wg sync.WaitGroup
	var mu sync.Mutex

	g := gridOf(c, st)
	now, cs := g.now, g.canaryStart
	wg.Go(func() {
		all := fetchTiles(ctx, q, t, g.first, interval, now)
		obs.CanaryTiles = all.from(cs)
		if !g.baseline {
			return
		}
		if err := firstErr(all.Errs, FamilyRequests, FamilyErrors, FamilyLatency); err != nil {
			obs.BaselineErr = fmt.Errorf("stable's traffic before the canary started: %w", err)
			return
		}
		for _, tl := range all.Tiles {
			if tl.End.After(cs) {
				break
			}
			obs.BaselineTiles = append(obs.BaselineTiles, tl)
			obs.Baseline = obs.Baseline.Add(tl.StableLatency)
		}
	})
	ends := tileEnds(alignUp(st.Start, interval), interval, now)
	for list, gs := range map[string][]spec.Gate{"gates": a.Gates, "rollbackOn": a.RollbackOn} {
		for i, g := range gs {
			if g.Type != spec.GateCustom {
				continue
			}
			key := GateKey(list, i)
			wg.Go(func() {
				cu := fetchCustom(ctx, q, t, g, interval, ends)
				mu.Lock()
				obs.Custom[key] = cu
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	// Both grids are the one aligned to absolute time: the stage's tiles
	// are the canary's from the stage's start.
	obs.StageTiles = obs.CanaryTiles.from(st.Start)
	obs.MissingCanary = missingCanary(ctx, q, t, obs.CanaryTiles, cs, now, interval)
	return obs, nil
}

// missingCanary asks, when the canary served no requests in any of its
// tiles, which values of the label that tells the versions apart the
// service reports since the canary started; when the canary's value is
// not among them it returns what to change. One more query, only then,
// and none when q is a [Batch] that holds the service's series.
func missingCanary(ctx context.Context, q Querier, t Target, ts TileSet, start, now time.Time, interval time.Duration) string {
	if len(ts.Tiles) == 0 || ts.Errs[FamilyRequests] != nil {
		return ""
	}
	for _, tl := range ts.Tiles {
		if tl.Requests.Canary > 0 {
			return ""
		}
	}
	label := t.label()
	var values []string
	b, batched := q.(*Batch)
	if batched {
		// The batch holds the service's requests series already: asking
		// Prometheus once per such canary would make a pass's requests
		// grow with the number of canaries without traffic.
		values, batched = b.versionValues(t, interval, start)
	}
	if !batched {
		window := max(now.Sub(start), interval)
		series, err := q.Query(ctx, Query{Expr: t.ValuesQuery(window), Time: now})
		if err != nil {
			return ""
		}
		for _, s := range series {
			if v := s.Labels[label]; v != "" {
				values = append(values, v)
			}
		}
	}
	if len(values) == 0 || slices.Contains(values, t.CanaryVersion) {
		return "" // nothing to name, or the canary has series, only no requests
	}
	slices.Sort(values)
	values = slices.Compact(values)
	who := "this service reports"
	if label == LabelService {
		who = "namespace " + t.Namespace + " reports"
	}
	return fmt.Sprintf("no series with %s=%s; %s %s %s: set spec.analysis.versions",
		label, quoteLabel(t.CanaryVersion), who, label, strings.Join(values, ", "))
}

func hasSequential(a spec.Analysis) bool {
	for _, g := range a.Gates {
		if g.Type == spec.GateSequential {
			return true
		}
	}
	return false
}

// from returns the tiles starting at or after start.
func (ts TileSet) from(start time.Time) TileSet {
	out := TileSet{Queries: ts.Queries, Errs: ts.Errs}
	for _, tl := range ts.Tiles {
		if !tl.Start.Before(start) {
			out.Tiles = append(out.Tiles, tl)
		}
	}
	return out
}

// fetchTiles runs the three family queries as range queries over the
// complete tiles of the grid starting at start.
func fetchTiles(ctx context.Context, q Querier, t Target, start time.Time, step time.Duration, now time.Time) TileSet {
	ends := tileEnds(start, step, now)
	ts := TileSet{
		Queries: familyQueries(t, step),
		Errs:    map[MetricFamily]error{},
	}
	for _, e := range ends {
		ts.Tiles = append(ts.Tiles, Tile{Start: e.Add(-step), End: e})
	}
	if len(ends) == 0 {
		return ts
	}
	results := map[MetricFamily][]Series{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for f, expr := range ts.Queries {
		wg.Go(func() {
			s, err := q.Query(ctx, Query{Expr: expr, Start: ends[0], End: ends[len(ends)-1], Step: step})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ts.Errs[f] = err
				return
			}
			results[f] = s
		})
	}
	wg.Wait()
	checkSamples(&ts, results, t)
	for k := range ts.Tiles {
		tl := &ts.Tiles[k]
		tl.Requests = countsAt(results[FamilyRequests], t, tl.End)
		tl.Errors = countsAt(results[FamilyErrors], t, tl.End)
		tl.CanaryLatency = histogramAt(results[FamilyLatency], t.label(), t.CanaryVersion, tl.End)
		tl.StableLatency = histogramAt(results[FamilyLatency], t.label(), t.StableVersion, tl.End)
		tl.StablePods = podsAt(results, t.label(), t.StableVersion, tl.End)
	}
	return ts
}

// podsAt returns one version's counts per pod at time at, sorted by pod.
// Series without a pod label count as one pod named "".
func podsAt(results map[MetricFamily][]Series, label, version string, at time.Time) []PodCounts {
	idx := map[string]int{}
	var out []PodCounts
	pod := func(name string) *PodCounts {
		i, ok := idx[name]
		if !ok {
			i = len(out)
			idx[name] = i
			out = append(out, PodCounts{Pod: name})
		}
		return &out[i]
	}
	for _, f := range []MetricFamily{FamilyRequests, FamilyErrors, FamilyLatency} {
		for _, s := range results[f] {
			if s.Labels[label] != version {
				continue
			}
			v := valueAt(s, at)
			if !finite(v) {
				continue
			}
			p := pod(s.Labels[podLabel])
			switch f {
			case FamilyRequests:
				p.Requests += v
			case FamilyErrors:
				p.Errors += v
			case FamilyLatency:
				le, err := strconv.ParseFloat(s.Labels["le"], 64)
				if err == nil {
					p.Latency = append(p.Latency, Bucket{Le: le, Count: v})
				}
			}
		}
	}
	for i := range out {
		if len(out[i].Latency) > 0 {
			out[i].Latency = sortedHistogram(out[i].Latency)
		}
	}
	slices.SortFunc(out, func(a, b PodCounts) int { return strings.Compare(a.Pod, b.Pod) })
	return out
}

// valueAt returns the series' value at time at, or NaN.
func valueAt(s Series, at time.Time) float64 {
	for _, p := range s.Points {
		if p.T.Equal(at) {
			return p.V
		}
	}
	return math.NaN()
}

// countsAt returns each version's value at time at; a missing version counts
// as 0 (sum by over no series returns nothing).
func countsAt(series []Series, t Target, at time.Time) Counts {
	var c Counts
	for _, s := range series {
		v := valueAt(s, at)
		if !finite(v) {
			continue
		}
		switch s.Labels[t.label()] {
		case t.CanaryVersion:
			c.Canary += v
		case t.StableVersion:
			c.Stable += v
		}
	}
	return c
}

func histogramAt(series []Series, label, version string, at time.Time) Histogram {
	var h Histogram
	for _, s := range series {
		if s.Labels[label] != version {
			continue
		}
		le, err := strconv.ParseFloat(s.Labels["le"], 64)
		v := valueAt(s, at)
		if err != nil || !finite(v) {
			continue
		}
		h = append(h, Bucket{Le: le, Count: v})
	}
	if len(h) == 0 {
		return nil
	}
	return sortedHistogram(h)
}

// fetchCustom evaluates a custom gate's query at the end of every stage tile.
func fetchCustom(ctx context.Context, q Querier, t Target, g spec.Gate, interval time.Duration, ends []time.Time) Custom {
	window := interval
	if g.Interval.Duration > 0 {
		window = g.Interval.Duration
	}
	expr, err := t.CustomQuery(g.Query, window)
	cu := Custom{Query: expr, Values: make([]float64, len(ends))}
	for i := range cu.Values {
		cu.Values[i] = math.NaN()
	}
	if err != nil {
		cu.Err = err
		return cu
	}
	if len(ends) == 0 {
		return cu
	}
	series, err := q.Query(ctx, Query{Expr: expr, Start: ends[0], End: ends[len(ends)-1], Step: interval})
	if err != nil {
		cu.Err = err
		return cu
	}
	s, ok := pickSeries(series, t.label(), t.CanaryVersion)
	if !ok {
		return cu
	}
	for i, e := range ends {
		cu.Values[i] = valueAt(s, e)
	}
	return cu
}

// pickSeries chooses the series a custom gate judges: the only one, or the
// canary's when the query kept the label that tells the versions apart.
func pickSeries(series []Series, label, canary string) (Series, bool) {
	if len(series) == 1 {
		return series[0], true
	}
	for _, s := range series {
		if s.Labels[label] == canary {
			return s, true
		}
	}
	return Series{}, false
}
