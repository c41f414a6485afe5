package mesh_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/promoter-dev/promoter/internal/mesh"
	"github.com/promoter-dev/promoter/internal/promapi"
)

// sample is one appended sample.
type sample struct {
	series string
	t      int64
	v      float64
}

// recordingAppender records committed samples.
type recordingAppender struct {
	out     *[]sample
	pending []sample
}

func (a *recordingAppender) Append(_ storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	a.pending = append(a.pending, sample{l.String(), t, v})
	return 0, nil
}

func (a *recordingAppender) Commit() error {
	*a.out = append(*a.out, a.pending...)
	a.pending = nil
	return nil
}

func (a *recordingAppender) Rollback() error { a.pending = nil; return nil }

// recorder is a mesh.Appender recording into out (which may be nil when
// nothing will be appended).
type recorder func() promapi.Appender

func (r recorder) Appender(context.Context) promapi.Appender { return r() }

func newRecorder(out *[]sample) recorder {
	return func() promapi.Appender { return &recordingAppender{out: out} }
}

func twoServices() []mesh.Service {
	h := mesh.Health{ErrorRate: 0.01, Median: 40 * time.Millisecond, Sigma: 0.5}
	var out []mesh.Service
	for _, name := range []string{"myapp", "checkout"} {
		out = append(out, mesh.Service{
			Namespace: "canary-demo", Name: name,
			Stable: mesh.Version{Name: "v1", Health: h},
			Canary: mesh.Version{Name: "v2", Health: mesh.Health{ErrorRate: 0.05, Median: 60 * time.Millisecond, Sigma: 0.5}},
			RPS:    100,
			Weight: func(t time.Time) int { return int(t.Sub(t0)/time.Hour) * 10 },
		})
	}
	return out
}

func generate(t *testing.T, seed uint64, stops ...time.Time) []sample {
	t.Helper()
	var out []sample
	m, err := mesh.New(mesh.Options{Store: newRecorder(&out), Start: t0, Seed: seed, Services: twoServices()})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stops {
		if err := m.Advance(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestDeterministicForASeed(t *testing.T) {
	end := t0.Add(2 * time.Hour)
	once := generate(t, 7, end)
	split := generate(t, 7, t0.Add(17*time.Minute+3*time.Second), t0.Add(90*time.Minute), t0.Add(90*time.Minute), end)
	if !reflect.DeepEqual(once, split) {
		t.Errorf("advancing in steps gave different samples (%d vs %d)", len(once), len(split))
	}
	if other := generate(t, 8, end); reflect.DeepEqual(once, other) {
		t.Error("another seed gave the same samples")
	}
	// 481 scrapes × 2 services × 2 versions × 2 codes × (1 + 20 + 2) series.
	if want := 481 * 2 * 2 * 2 * 23; len(once) != want {
		t.Errorf("%d samples, want %d", len(once), want)
	}
}

func TestCountersNeverDecreaseAndBucketsAreCumulative(t *testing.T) {
	samples := generate(t, 3, t0.Add(30*time.Minute))
	last := map[string]sample{}
	for _, s := range samples {
		if p, ok := last[s.series]; ok && (s.v < p.v || s.t <= p.t) {
			t.Fatalf("%s went from %v at %d to %v at %d", s.series, p.v, p.t, s.v, s.t)
		}
		last[s.series] = s
	}
	// At the last scrape, le="+Inf" equals _count and le buckets grow with le.
	prefix := `{__name__="istio_request_duration_milliseconds_bucket"`
	var inf, count float64
	for name, s := range last {
		if strings.HasPrefix(name, prefix) && containsAll(name, `destination_service_name="myapp"`, `destination_version="v1"`, `response_code="200"`, `le="+Inf"`) {
			inf = s.v
		}
		if containsAll(name, `istio_request_duration_milliseconds_count`, `destination_service_name="myapp"`, `destination_version="v1"`, `response_code="200"`) {
			count = s.v
		}
	}
	if inf == 0 || inf != count {
		t.Errorf("+Inf bucket %v, _count %v: want equal and positive", inf, count)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// BenchmarkAdvanceEightHours generates 8 simulated hours of 2 services at
// 15s scrapes into a real store.
func BenchmarkAdvanceEightHours(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		st := openStore(b)
		m, err := mesh.New(mesh.Options{Store: st, Start: t0, Seed: 1, Services: twoServices()})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := m.Advance(context.Background(), t0.Add(8*time.Hour)); err != nil {
			b.Fatal(err)
		}
	}
}
