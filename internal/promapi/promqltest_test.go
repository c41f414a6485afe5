package promapi_test

import (
	"context"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"

	"github.com/promoter-dev/promoter/internal/promapi"
	"github.com/promoter-dev/promoter/internal/promapi/promapitest"
)

// istioLoad is a small Istio-shaped data set in promqltest notation.
const istioLoad = `
load 15s
  istio_requests_total{reporter="destination",destination_service_namespace="ns",destination_service_name="app",destination_version="v1",response_code="200"} 0+95x120
  istio_requests_total{reporter="destination",destination_service_namespace="ns",destination_service_name="app",destination_version="v1",response_code="503"} 0+1x120
  istio_requests_total{reporter="destination",destination_service_namespace="ns",destination_service_name="app",destination_version="v2",response_code="200"} 0+9x120
  istio_requests_total{reporter="destination",destination_service_namespace="ns",destination_service_name="app",destination_version="v2",response_code="503"} 0+1x60 60+3x60
  istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="ns",destination_service_name="app",destination_version="v1",le="100"} 0+80x120
  istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="ns",destination_service_name="app",destination_version="v1",le="250"} 0+94x120
  istio_request_duration_milliseconds_bucket{reporter="destination",destination_service_namespace="ns",destination_service_name="app",destination_version="v1",le="+Inf"} 0+96x120
`

// TestAgreesWithPromQLTest runs the same queries on promqltest's loaded
// storage with its engine, and through the HTTP API over a Store holding
// a copy of the same samples: the answers must be identical.
func TestAgreesWithPromQLTest(t *testing.T) {
	ref := promqltest.LoadedStorage(t, istioLoad)
	eng := promqltest.NewTestEngineWithOpts(t, promql.EngineOpts{MaxSamples: 1e7, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})

	srv := promapitest.New(t, time.Now)
	copySeries(t, ref, srv.Store)
	c, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	prom := v1.NewAPI(c)

	start, end, step := time.Unix(300, 0).UTC(), time.Unix(1800, 0).UTC(), 5*time.Minute
	queries := []string{
		`sum by (destination_version) (increase(istio_requests_total{reporter="destination",destination_version=~"v1|v2"}[5m]))`,
		`sum by (destination_version) (increase(istio_requests_total{reporter="destination",response_code=~"5.."}[5m]))`,
		`sum by (destination_version, le) (increase(istio_request_duration_milliseconds_bucket[5m]))`,
		`histogram_quantile(0.9, sum by (le) (rate(istio_request_duration_milliseconds_bucket[5m])))`,
	}
	for _, q := range queries {
		t.Run(q, func(t *testing.T) {
			qry, err := eng.NewRangeQuery(context.Background(), ref, nil, q, start, end, step)
			if err != nil {
				t.Fatal(err)
			}
			defer qry.Close()
			res := qry.Exec(context.Background())
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			want := res.Value.(promql.Matrix)
			v, _, _, err := prom.QueryRange(context.Background(), q, v1.Range{Start: start, End: end, Step: step})
			if err != nil {
				t.Fatal(err)
			}
			got := v.(model.Matrix)
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d series over HTTP, %d from promqltest", len(got), len(want))
			}
			sort.Slice(got, func(i, j int) bool { return got[i].Metric.String() < got[j].Metric.String() })
			sort.Slice(want, func(i, j int) bool { return labels.Compare(want[i].Metric, want[j].Metric) < 0 })
			for i := range want {
				if len(got[i].Values) != len(want[i].Floats) {
					t.Fatalf("series %s: %d points, want %d", want[i].Metric, len(got[i].Values), len(want[i].Floats))
				}
				for j, p := range want[i].Floats {
					g := got[i].Values[j]
					same := float64(g.Value) == p.F || (math.IsNaN(p.F) && math.IsNaN(float64(g.Value)))
					if int64(g.Timestamp) != p.T || !same {
						t.Errorf("series %s point %d = (%d, %v), want (%d, %v)", want[i].Metric, j, g.Timestamp, g.Value, p.T, p.F)
					}
				}
			}
		})
	}
}

// copySeries appends every float sample of from to to.
func copySeries(t *testing.T, from storage.Queryable, to *promapi.Store) {
	t.Helper()
	q, err := from.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	set := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	var samples []promapi.Sample
	for set.Next() {
		s := set.At()
		it := s.Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			samples = append(samples, promapi.Sample{Labels: s.Labels(), T: time.UnixMilli(ts), V: v})
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	if err := to.Append(context.Background(), samples...); err != nil {
		t.Fatal(err)
	}
}
