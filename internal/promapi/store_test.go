package promapi_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/promoter-dev/promoter/internal/promapi"
	"github.com/promoter-dev/promoter/internal/promapi/promapitest"
)

// A sample older than the newest one of its series, and a series hours
// older than the rest of the store, are still accepted and queryable.
func TestAppendOutOfOrder(t *testing.T) {
	srv := promapitest.New(t, func() time.Time { return t0 })
	ctx := context.Background()
	a := labels.FromStrings("__name__", "m", "s", "a")
	b := labels.FromStrings("__name__", "m", "s", "b")
	steps := [][]promapi.Sample{
		{{Labels: a, T: t0.Add(10 * time.Hour), V: 3}},
		{{Labels: a, T: t0.Add(9 * time.Hour), V: 2}},
		{{Labels: b, T: t0, V: 1}},
	}
	for i, s := range steps {
		if err := srv.Store.Append(ctx, s...); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	for _, tt := range []struct {
		query string
		at    time.Time
		want  string
	}{
		{`m{s="a"}`, t0.Add(9 * time.Hour), `"value":[1740862800,"2"]`},
		{`m{s="b"}`, t0, `"value":[1740830400,"1"]`},
	} {
		_, body := get(t, srv, "GET", "/api/v1/query", map[string][]string{"query": {tt.query}, "time": {tt.at.Format(time.RFC3339)}})
		if !strings.Contains(body, tt.want) {
			t.Errorf("%s at %s: %s, want %s", tt.query, tt.at, body, tt.want)
		}
	}
}

// A transaction with a sample that contradicts a stored one (same series,
// same time, another value) is rejected whole: none of its samples land.
func TestAppendDuplicateRejectsTransaction(t *testing.T) {
	st := promapi.NewStore()
	ctx := context.Background()
	a := labels.FromStrings("__name__", "m", "s", "a")
	b := labels.FromStrings("__name__", "m", "s", "b")
	if err := st.Append(ctx, promapi.Sample{Labels: a, T: t0, V: 1}); err != nil {
		t.Fatal(err)
	}
	// The same value again is accepted, as Prometheus does.
	if err := st.Append(ctx, promapi.Sample{Labels: a, T: t0, V: 1}); err != nil {
		t.Fatalf("same sample again: %v", err)
	}
	err := st.Append(ctx,
		promapi.Sample{Labels: b, T: t0, V: 5},
		promapi.Sample{Labels: a, T: t0, V: 2})
	if !errors.Is(err, storage.ErrDuplicateSampleForTimestamp) {
		t.Fatalf("contradicting sample: %v, want ErrDuplicateSampleForTimestamp", err)
	}
	got := selectAll(t, st, 0, math.MaxInt64, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"))
	if want := []string{`{__name__="m", s="a"}: [1@` + ms(t0) + `]`}; !slices.Equal(got, want) {
		t.Errorf("after the rejected transaction:\n%q\nwant\n%q", got, want)
	}
}

// Select applies every matcher, keeps only samples in the querier's range,
// returns series sorted by labels, and does not see later appends.
func TestQuerierSelectsAndSnapshots(t *testing.T) {
	st := promapi.NewStore()
	ctx := context.Background()
	var samples []promapi.Sample
	for _, v := range []string{"v2", "v1", "v3"} {
		for i := range 4 {
			samples = append(samples, promapi.Sample{Labels: labels.FromStrings("__name__", "req", "version", v), T: t0.Add(time.Duration(i) * time.Minute), V: float64(i)})
		}
	}
	samples = append(samples, promapi.Sample{Labels: labels.FromStrings("__name__", "other", "version", "v1"), T: t0, V: 9})
	if err := st.Append(ctx, samples...); err != nil {
		t.Fatal(err)
	}
	q, err := st.Querier(t0.Add(time.Minute).UnixMilli(), t0.Add(2*time.Minute).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// Appended after the querier was made: not visible to it.
	if err := st.Append(ctx, promapi.Sample{Labels: labels.FromStrings("__name__", "req", "version", "v1"), T: t0.Add(90 * time.Second), V: 7}); err != nil {
		t.Fatal(err)
	}
	set := q.Select(ctx, true, nil,
		labels.MustNewMatcher(labels.MatchEqual, "__name__", "req"),
		labels.MustNewMatcher(labels.MatchRegexp, "version", "v1|v2"))
	got := collect(t, set)
	m1, m2 := ms(t0.Add(time.Minute)), ms(t0.Add(2*time.Minute))
	want := []string{
		`{__name__="req", version="v1"}: [1@` + m1 + ` 2@` + m2 + `]`,
		`{__name__="req", version="v2"}: [1@` + m1 + ` 2@` + m2 + `]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("select:\n%q\nwant\n%q", got, want)
	}
	vals, _, err := q.LabelValues(ctx, "version", nil, labels.MustNewMatcher(labels.MatchNotEqual, "version", "v2"))
	if err != nil || !slices.Equal(vals, []string{"v1", "v3"}) {
		t.Errorf("label values = %q, %v; want [v1 v3]", vals, err)
	}
	names, _, err := q.LabelNames(ctx, nil)
	if err != nil || !slices.Equal(names, []string{"__name__", "version"}) {
		t.Errorf("label names = %q, %v", names, err)
	}
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func selectAll(t *testing.T, st *promapi.Store, mint, maxt int64, m ...*labels.Matcher) []string {
	t.Helper()
	q, err := st.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	return collect(t, q.Select(context.Background(), true, nil, m...))
}

func collect(t *testing.T, set storage.SeriesSet) []string {
	t.Helper()
	var out []string
	for set.Next() {
		s := set.At()
		var pts []string
		it := s.Iterator(nil)
		for it.Next() != chunkenc.ValNone {
			ts, v := it.At()
			pts = append(pts, strconv.FormatFloat(v, 'g', -1, 64)+"@"+strconv.FormatInt(ts, 10))
		}
		out = append(out, s.Labels().String()+": ["+strings.Join(pts, " ")+"]")
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
