package gates

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// Batch answers the built-in range queries of many canaries (requests,
// errors and latency buckets) from one query per metric family and
// analysis.interval, so that a pass sends about as many queries to
// Prometheus whatever the number of canaries.
//
// Tiles lie on a grid aligned to absolute time (multiples of
// analysis.interval), so canaries with the same interval evaluate their
// range queries at the same instants. A batched query groups by the labels
// that identify a canary's series (reporter, destination service
// namespace, name and host, version, pod, and le for latency) over the
// longest range any canary needs; [Batch.Query] then answers a canary's
// own query by selecting its series and summing them as its query would.
// The answer is therefore the same data a canary's own query gives, and
// its decision the same: a canary whose series are missing from the batch
// gets the empty answer its own query would get (Inconclusive), and one
// whose batch failed gets that error.
//
// The versions a canary without series is told of come from the batched
// requests series too (see [Batch.versionValues]). Custom gates go to the
// underlying [Querier], as does a built-in query the batch does not cover
// (a canary added after [Batch.Fetch], or a range that grew since), and
// every canary's query when the batched answer was over the client's
// response bound (ClientOptions.MaxResponseBytes).
type Batch struct {
	q           Querier
	concurrency int

	mu     sync.Mutex
	groups map[batchKey]*batchGroup
	uses   map[string]batchUse // a canary's query -> the group serving it
}

type batchKey struct {
	family MetricFamily
	step   time.Duration
}

type batchGroup struct {
	key        batchKey
	reporters  map[string]bool
	namespaces map[string]bool
	anyHost    bool // a target selects by host: no namespace matcher
	start, end time.Time

	fetched bool
	expr    string
	series  []Series
	err     error
}

type batchUse struct {
	key    batchKey
	target Target
}

// NewBatch returns a batch that sends its queries to q, at most
// concurrency at a time (1 when concurrency < 1).
func NewBatch(q Querier, concurrency int) *Batch {
	return &Batch{q: q, concurrency: max(concurrency, 1), groups: map[batchKey]*batchGroup{}, uses: map[string]batchUse{}}
}

// Add registers the built-in queries [Observe] asks for a canary's stage.
func (b *Batch) Add(c *spec.Canary, st Stage) {
	interval := c.Spec.Analysis.Interval.Duration
	if interval <= 0 {
		return
	}
	g := gridOf(c, st)
	ends := tileEnds(g.first, interval, g.now)
	if len(ends) == 0 {
		return
	}
	t := TargetOf(c)
	b.mu.Lock()
	defer b.mu.Unlock()
	for f, expr := range familyQueries(t, interval) {
		k := batchKey{f, interval}
		gr := b.groups[k]
		if gr == nil {
			gr = &batchGroup{key: k, reporters: map[string]bool{}, namespaces: map[string]bool{}, start: ends[0], end: ends[len(ends)-1]}
			b.groups[k] = gr
		}
		gr.reporters[t.reporter()] = true
		if t.label() != LabelService && strings.Contains(t.Service, ".") {
			gr.anyHost = true
		} else {
			gr.namespaces[t.Namespace] = true
		}
		if ends[0].Before(gr.start) {
			gr.start = ends[0]
		}
		if ends[len(ends)-1].After(gr.end) {
			gr.end = ends[len(ends)-1]
		}
		b.uses[expr] = batchUse{k, t}
	}
}

// Fetch sends the batched queries, at most the batch's concurrency at a
// time. Their failures are kept and returned to the canaries they serve.
func (b *Batch) Fetch(ctx context.Context) {
	b.mu.Lock()
	var todo []*batchGroup
	for _, g := range b.groups {
		if !g.fetched {
			todo = append(todo, g)
		}
	}
	b.mu.Unlock()
	sem := make(chan struct{}, b.concurrency)
	var wg sync.WaitGroup
	for _, g := range todo {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				b.mu.Lock()
				g.fetched, g.err = true, ctx.Err()
				b.mu.Unlock()
				return
			}
			defer func() { <-sem }()
			expr := g.query()
			s, err := b.q.Query(ctx, Query{Expr: expr, Start: g.start, End: g.end, Step: g.key.step})
			b.mu.Lock()
			g.fetched, g.expr, g.series, g.err = true, expr, s, err
			b.mu.Unlock()
		})
	}
	wg.Wait()
}

// Query answers a canary's built-in range query from its batch, and
// passes every other query to the underlying querier.
func (b *Batch) Query(ctx context.Context, q Query) ([]Series, error) {
	b.mu.Lock()
	u, ok := b.uses[q.Expr]
	var g *batchGroup
	if ok {
		g = b.groups[u.key]
	}
	b.mu.Unlock()
	if !ok || !q.IsRange() || q.Step != u.key.step || !g.fetched || q.Start.Before(g.start) || q.End.After(g.end) {
		return b.q.Query(ctx, q)
	}
	if errors.Is(g.err, errTooLarge) {
		// The whole answer is over the response bound: each canary asks
		// its own, as bounded as before.
		return b.q.Query(ctx, q)
	}
	if g.err != nil {
		return nil, g.err
	}
	return u.target.split(g.series, u.key.family, q), nil
}

var _ Querier = (*Batch)(nil)

// familyQueries are a canary's built-in range queries by family.
func familyQueries(t Target, step time.Duration) map[MetricFamily]string {
	return map[MetricFamily]string{
		FamilyRequests: t.RequestsQuery(step),
		FamilyErrors:   t.ErrorsQuery(step),
		FamilyLatency:  t.BucketsQuery(step),
	}
}

// Labels of Istio's metrics that identify a canary's series.
const (
	labelReporter  = "reporter"
	labelNamespace = "destination_service_namespace"
	labelHost      = "destination_service"
)

var batchBy = []string{labelReporter, labelNamespace, LabelService, labelHost, LabelVersion, podLabel}

// query is the batched query of the group: the family's counts of every
// series of the reporters and namespaces of its canaries, per identifying
// label set.
func (g *batchGroup) query() string {
	sel := labelReporter + "=~" + quoteLabel(alternatives(g.reporters))
	if !g.anyHost {
		sel += "," + labelNamespace + "=~" + quoteLabel(alternatives(g.namespaces))
	}
	by := strings.Join(batchBy, ", ")
	metric := metricRequests
	switch g.key.family {
	case FamilyErrors:
		sel += `,response_code=~"5.."`
	case FamilyLatency:
		metric = metricDuration
		by += ", le"
	}
	return fmt.Sprintf(`sum by (%s) %s`, by, counterIncrease(fmt.Sprintf(`%s{%s}`, metric, sel), promDuration(g.key.step)))
}

// alternatives is a regular expression matching exactly the set's values.
func alternatives(set map[string]bool) string {
	vs := make([]string, 0, len(set))
	for v := range set {
		vs = append(vs, regexp.QuoteMeta(v))
	}
	slices.Sort(vs)
	return strings.Join(vs, "|")
}

// selects reports whether a batched series is one of the target's, as the
// matchers of [Target.selector] decide.
func (t Target) selects(l map[string]string) bool {
	if !t.selectsService(l) {
		return false
	}
	v := l[t.label()]
	return v == t.StableVersion || v == t.CanaryVersion
}

// selectsService reports whether a batched series is one of the target's
// service, whatever its version: the series [Target.ValuesQuery] lists.
func (t Target) selectsService(l map[string]string) bool {
	if l[labelReporter] != t.reporter() {
		return false
	}
	switch {
	case t.label() == LabelService:
		if l[labelNamespace] != t.Namespace {
			return false
		}
	case strings.Contains(t.Service, "."):
		if l[labelHost] != t.Service {
			return false
		}
	default:
		if l[labelNamespace] != t.Namespace || l[LabelService] != t.Service {
			return false
		}
	}
	return true
}

// versionValues answers, from the batched requests series, what
// [Target.ValuesQuery] asks: the values of the label that tells the
// versions apart among the target's service's series, over the batch's
// range (which covers the canary's tiles). ok is false when the batch
// cannot say: the target was not added before [Batch.Fetch], the range
// (its first tile begins a step before its first end) does not reach
// back to start, or the requests query failed or was over
// the response bound.
func (b *Batch) versionValues(t Target, interval time.Duration, start time.Time) (values []string, ok bool) {
	b.mu.Lock()
	u, added := b.uses[t.RequestsQuery(interval)]
	g := b.groups[batchKey{family: FamilyRequests, step: interval}]
	b.mu.Unlock()
	if !added || g == nil || u.key != g.key || !g.fetched || g.err != nil || start.Before(g.start.Add(-interval)) {
		return nil, false
	}
	label := t.label()
	for _, s := range g.series {
		if v := s.Labels[label]; v != "" && t.selectsService(s.Labels) {
			values = append(values, v)
		}
	}
	return values, true
}

// split returns what the target's own query of the family gives over q's
// range: its series of the batch, summed by the labels its query keeps.
// The series are summed in the order of their labels, so the answer does
// not depend on the order of the batch's.
func (t Target) split(batch []Series, f MetricFamily, q Query) []Series {
	keep := []string{t.label(), podLabel}
	if f == FamilyLatency {
		keep = append(keep, "le")
	}
	var mine []Series
	for _, s := range batch {
		if t.selects(s.Labels) {
			mine = append(mine, s)
		}
	}
	slices.SortFunc(mine, func(a, b Series) int {
		return strings.Compare(labelsKey(a.Labels, batchBy), labelsKey(b.Labels, batchBy))
	})
	type acc struct {
		labels map[string]string
		sums   map[int64]float64
	}
	idx := map[string]*acc{}
	var order []string
	for _, s := range mine {
		k := labelsKey(s.Labels, keep)
		a := idx[k]
		if a == nil {
			a = &acc{labels: map[string]string{}, sums: map[int64]float64{}}
			for _, n := range keep {
				if v := s.Labels[n]; v != "" {
					a.labels[n] = v
				}
			}
			idx[k] = a
			order = append(order, k)
		}
		for _, p := range s.Points {
			if p.T.Before(q.Start) || p.T.After(q.End) {
				continue
			}
			a.sums[p.T.UnixNano()] += p.V
		}
	}
	slices.Sort(order)
	out := make([]Series, 0, len(order))
	for _, k := range order {
		a := idx[k]
		if len(a.sums) == 0 {
			continue
		}
		ts := make([]int64, 0, len(a.sums))
		for at := range a.sums {
			ts = append(ts, at)
		}
		slices.Sort(ts)
		s := Series{Labels: a.labels, Points: make([]Point, len(ts))}
		for i, at := range ts {
			s.Points[i] = Point{T: time.Unix(0, at).UTC(), V: a.sums[at]}
		}
		out = append(out, s)
	}
	return out
}

// labelsKey joins the values of names, unambiguously.
func labelsKey(l map[string]string, names []string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(quoteLabel(l[n]))
		b.WriteByte(',')
	}
	return b.String()
}
