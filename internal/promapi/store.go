package promapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// Store holds float series in memory, each a time-ordered list of samples,
// and serves them to the PromQL engine as a [storage.Queryable]. Samples of
// any age may be appended in any order; a sample at a timestamp its series
// already has must carry the same value. It is safe for concurrent use.
//
// It keeps everything for as long as it lives: it is made for simulations
// and tests of hours or days of a few thousand series, not for retention.
type Store struct {
	mu     sync.RWMutex
	byHash map[uint64][]*memSeries // labels hash -> series (collisions chained)
	byRef  map[storage.SeriesRef]*memSeries
	next   storage.SeriesRef
	closed bool
}

var _ storage.Queryable = (*Store)(nil)

// ErrClosed is returned by a closed Store.
var ErrClosed = errors.New("promapi: store is closed")

// memSeries is one series: its labels and samples sorted by time.
//
// Samples are held by pointer: the library's list iterator reads each one
// as a [chunks.Sample], and an interface holding a pointer needs no
// allocation, where one holding a point value allocates a copy on every
// read (most of the engine's time over this store, before).
type memSeries struct {
	ref     storage.SeriesRef
	labels  labels.Labels
	samples []*point
}

// point is one float sample; it implements [chunks.Sample] for the
// library's list iterator.
type point struct {
	t int64
	f float64
}

func (p point) T() int64                    { return p.t }
func (point) ST() int64                     { return 0 }
func (p point) F() float64                  { return p.f }
func (point) H() *histogram.Histogram       { return nil }
func (point) FH() *histogram.FloatHistogram { return nil }
func (point) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (p point) Copy() chunks.Sample         { return p }

// Len and Get make a series the [storage.Samples] of the library's list
// iterator.
func (s *memSeries) Len() int                { return len(s.samples) }
func (s *memSeries) Get(i int) chunks.Sample { return s.samples[i] }

// sameValue reports whether a and b are the same sample value; NaNs of
// the same bits are.
func sameValue(a, b float64) bool { return a == b || math.Float64bits(a) == math.Float64bits(b) }

// insert adds p in time order. A sample at an existing timestamp is a
// no-op when the value is the same and an error otherwise, as in Prometheus.
func (s *memSeries) insert(p point) error {
	if n := len(s.samples); n == 0 || p.t > s.samples[n-1].t {
		s.samples = append(s.samples, &p)
		return nil
	}
	i := sort.Search(len(s.samples), func(i int) bool { return s.samples[i].t >= p.t })
	if i < len(s.samples) && s.samples[i].t == p.t {
		if sameValue(s.samples[i].f, p.f) {
			return nil
		}
		return fmt.Errorf("%s at %d: %w", s.labels, p.t, storage.ErrDuplicateSampleForTimestamp)
	}
	s.samples = slices.Insert(s.samples, i, &p)
	return nil
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{byHash: map[uint64][]*memSeries{}, byRef: map[storage.SeriesRef]*memSeries{}}
}

// series returns the series of ls, creating it. The caller holds s.mu.
func (s *Store) series(ls labels.Labels) *memSeries {
	h := ls.Hash()
	for _, m := range s.byHash[h] {
		if labels.Equal(m.labels, ls) {
			return m
		}
	}
	s.next++
	m := &memSeries{ref: s.next, labels: ls.Copy()}
	s.byHash[h] = append(s.byHash[h], m)
	s.byRef[m.ref] = m
	return m
}

// Sample is one float sample of one series.
type Sample struct {
	Labels labels.Labels
	T      time.Time
	V      float64
}

// Append adds the samples in one transaction: all of them or, on error,
// none.
func (s *Store) Append(ctx context.Context, samples ...Sample) error {
	app := s.Appender(ctx)
	for _, smp := range samples {
		if _, err := app.Append(0, smp.Labels, smp.T.UnixMilli(), smp.V); err != nil {
			return errors.Join(fmt.Errorf("append %s at %s: %w", smp.Labels, smp.T.UTC().Format(time.RFC3339), err), app.Rollback())
		}
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("commit samples: %w", err)
	}
	return nil
}

// Appender collects samples and adds them to its store on Commit. It is
// not safe for concurrent use; use one per goroutine.
type Appender interface {
	// Append adds a sample of the series ls. ref, when not 0, is a
	// reference an earlier Append of the same store returned for ls and
	// saves the label lookup. It returns the series' reference.
	Append(ref storage.SeriesRef, ls labels.Labels, t int64, v float64) (storage.SeriesRef, error)
	// Commit adds the collected samples: all of them or, on error, none.
	Commit() error
	// Rollback discards the collected samples.
	Rollback() error
}

// Appender returns an [Appender] on the store. The context is not used: a
// transaction lives in memory only.
func (s *Store) Appender(context.Context) Appender { return &appender{s: s} }

type pending struct {
	series *memSeries
	p      point
}

type appender struct {
	s       *Store
	pending []pending
	done    bool
}

func (a *appender) Append(ref storage.SeriesRef, ls labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	if a.done {
		return 0, errors.New("promapi: appender used after Commit or Rollback")
	}
	if ls.IsEmpty() && ref == 0 {
		return 0, errors.New("promapi: a sample without labels")
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if a.s.closed {
		return 0, ErrClosed
	}
	m := a.s.byRef[ref]
	if m == nil || (!ls.IsEmpty() && !labels.Equal(m.labels, ls)) {
		if ls.IsEmpty() {
			return 0, fmt.Errorf("promapi: unknown series reference %d", ref)
		}
		if dup, ok := ls.HasDuplicateLabelNames(); ok {
			return 0, fmt.Errorf("promapi: label name %q repeated in %s", dup, ls)
		}
		m = a.s.series(ls)
	}
	a.pending = append(a.pending, pending{series: m, p: point{t: t, f: v}})
	return m.ref, nil
}

func (a *appender) Commit() error {
	if a.done {
		return errors.New("promapi: appender used after Commit or Rollback")
	}
	a.done = true
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if a.s.closed {
		return ErrClosed
	}
	// Check every sample before changing anything, so that a transaction
	// lands whole or not at all.
	type key struct {
		m *memSeries
		t int64
	}
	seen := make(map[key]float64, len(a.pending))
	for _, p := range a.pending {
		k := key{p.series, p.p.t}
		if v, ok := seen[k]; ok && !sameValue(v, p.p.f) {
			return fmt.Errorf("%s at %d: %w", p.series.labels, p.p.t, storage.ErrDuplicateSampleForTimestamp)
		}
		seen[k] = p.p.f
		smp := p.series.samples
		i := sort.Search(len(smp), func(i int) bool { return smp[i].t >= p.p.t })
		if i < len(smp) && smp[i].t == p.p.t && !sameValue(smp[i].f, p.p.f) {
			return fmt.Errorf("%s at %d: %w", p.series.labels, p.p.t, storage.ErrDuplicateSampleForTimestamp)
		}
	}
	for _, p := range a.pending {
		if err := p.series.insert(p.p); err != nil {
			return err // unreachable: checked above
		}
	}
	a.pending = nil
	return nil
}

func (a *appender) Rollback() error {
	a.done = true
	a.pending = nil
	return nil
}

// Close drops the store's samples; appending to or querying a closed store
// fails with [ErrClosed].
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.byHash, s.byRef = nil, nil
	return nil
}

// Querier implements [storage.Queryable] for the PromQL engine: the samples
// in [mint, maxt], as they are when Querier is called.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	q := &querier{series: make([]*memSeries, 0, len(s.byRef))}
	for _, m := range s.byRef {
		lo := sort.Search(len(m.samples), func(i int) bool { return m.samples[i].t >= mint })
		hi := sort.Search(len(m.samples), func(i int) bool { return m.samples[i].t > maxt })
		if lo >= hi {
			continue
		}
		// A snapshot: later appends insert into the series' slice, so the
		// querier keeps its own copy of the range it may read.
		q.series = append(q.series, &memSeries{ref: m.ref, labels: m.labels, samples: slices.Clone(m.samples[lo:hi])})
	}
	slices.SortFunc(q.series, func(a, b *memSeries) int { return labels.Compare(a.labels, b.labels) })
	return q, nil
}

// querier is a snapshot of the store's series, sorted by labels.
type querier struct {
	series []*memSeries
}

func (q *querier) matching(ms []*labels.Matcher) []*memSeries {
	var out []*memSeries
next:
	for _, m := range q.series {
		for _, mt := range ms {
			if !mt.Matches(m.labels.Get(mt.Name)) {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

func (q *querier) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return &seriesSet{series: q.matching(ms), i: -1}
}

func (q *querier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	set := map[string]struct{}{}
	for _, m := range q.matching(ms) {
		if v := m.labels.Get(name); v != "" {
			set[v] = struct{}{}
		}
	}
	return sortedKeys(set), nil, nil
}

func (q *querier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	set := map[string]struct{}{}
	for _, m := range q.matching(ms) {
		m.labels.Range(func(l labels.Label) { set[l.Name] = struct{}{} })
	}
	return sortedKeys(set), nil, nil
}

func (*querier) Close() error { return nil }

func sortedKeys(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// seriesSet iterates a querier's selected series in label order.
type seriesSet struct {
	series []*memSeries
	i      int
}

func (s *seriesSet) Next() bool {
	s.i++
	return s.i < len(s.series)
}

func (s *seriesSet) At() storage.Series { return memSeriesView{s.series[s.i]} }

func (*seriesSet) Err() error                        { return nil }
func (*seriesSet) Warnings() annotations.Annotations { return nil }

// memSeriesView is a selected series as the engine reads it.
type memSeriesView struct{ m *memSeries }

func (v memSeriesView) Labels() labels.Labels { return v.m.labels }

func (v memSeriesView) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(v.m)
}
