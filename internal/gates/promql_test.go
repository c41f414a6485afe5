package gates

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"

	"github.com/promoter-dev/promoter/internal/spec"
)

// engineQuerier answers queries with the real PromQL engine over series
// loaded in memory: the gates' queries are parsed and evaluated exactly as
// a Prometheus server would.
type engineQuerier struct {
	eng     *promql.Engine
	storage storage.Queryable
	mu      *sync.Mutex
	seen    *[]Query // every query asked, for assertions
}

func newEngineQuerier(t *testing.T, load string) engineQuerier {
	t.Helper()
	st := promqltest.LoadedStorage(t, load)
	eng := promqltest.NewTestEngineWithOpts(t, promql.EngineOpts{MaxSamples: 1e7, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	return engineQuerier{eng: eng, storage: st, mu: new(sync.Mutex), seen: new([]Query)}
}

func (e engineQuerier) Query(ctx context.Context, q Query) ([]Series, error) {
	e.mu.Lock()
	*e.seen = append(*e.seen, q)
	e.mu.Unlock()
	var (
		qry promql.Query
		err error
	)
	if q.IsRange() {
		qry, err = e.eng.NewRangeQuery(ctx, e.storage, nil, q.Expr, q.Start, q.End, q.Step)
	} else {
		qry, err = e.eng.NewInstantQuery(ctx, e.storage, nil, q.Expr, q.Time)
	}
	if err != nil {
		return nil, &QueryError{Kind: ErrBadQuery, Expr: q.Expr, Attempts: 1, Err: err}
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, &QueryError{Kind: ErrBadQuery, Expr: q.Expr, Attempts: 1, Err: res.Err}
	}
	var out []Series
	switch v := res.Value.(type) {
	case promql.Vector:
		for _, s := range v {
			out = append(out, Series{Labels: s.Metric.Map(), Points: []Point{{T: time.UnixMilli(s.T), V: s.F}}})
		}
	case promql.Matrix:
		for _, s := range v {
			se := Series{Labels: s.Metric.Map()}
			for _, p := range s.Floats {
				se.Points = append(se.Points, Point{T: time.UnixMilli(p.T), V: p.F})
			}
			out = append(out, se)
		}
	case promql.Scalar:
		out = append(out, Series{Labels: map[string]string{}, Points: []Point{{T: time.UnixMilli(v.T), V: v.V}}})
	default:
		return nil, fmt.Errorf("unexpected %T", v)
	}
	return out, nil
}

var _ Querier = engineQuerier{}

// version describes one version's synthetic traffic per 15s scrape.
type version struct {
	name     string
	requests float64 // per scrape
	errRate  float64
	// fractions of requests at or below each bucket bound.
	buckets map[string]float64
	nan     bool // every sample is NaN
}

var healthyBuckets = map[string]float64{"25": 0.2, "50": 0.6, "100": 0.93, "250": 0.995, "500": 1, "+Inf": 1}
var slowBuckets = map[string]float64{"25": 0.02, "50": 0.1, "100": 0.3, "250": 0.8, "500": 0.95, "+Inf": 1}

// loadText writes a promqltest "load" block: one hour of 15s scrapes
// starting at the Unix epoch.
func loadText(vs ...version) string {
	var b strings.Builder
	b.WriteString("load 15s\n")
	base := `reporter="destination",destination_service_namespace="shop",destination_service_name="web"`
	series := func(metric, labels string, inc float64, nan bool) {
		if nan {
			fmt.Fprintf(&b, "  %s{%s} %s\n", metric, labels, strings.Repeat("NaN ", 241))
			return
		}
		fmt.Fprintf(&b, "  %s{%s} 0+%gx240\n", metric, labels, inc)
	}
	for _, v := range vs {
		l := fmt.Sprintf(`%s,destination_version="%s"`, base, v.name)
		series("istio_requests_total", l+`,response_code="200"`, v.requests*(1-v.errRate), v.nan)
		series("istio_requests_total", l+`,response_code="503"`, v.requests*v.errRate, v.nan)
		for le, f := range v.buckets {
			series("istio_request_duration_milliseconds_bucket", l+fmt.Sprintf(`,le="%s"`, le), v.requests*f, v.nan)
		}
	}
	// Another service's traffic, which no query may pick up.
	fmt.Fprintf(&b, "  istio_requests_total{reporter=\"destination\",destination_service_namespace=\"shop\",destination_service_name=\"other\",destination_version=\"v2\",response_code=\"503\"} 0+100x240\n")
	return b.String()
}

func testCanary(gates ...spec.Gate) *spec.Canary {
	c := &spec.Canary{}
	c.Metadata.Name = "web"
	c.Spec.Host = "web"
	c.Spec.VirtualService.Namespace = "shop"
	c.Spec.Deployments.Canary = "web-canary"
	c.Spec.Analysis = spec.Analysis{
		Interval:    spec.D(5 * time.Minute),
		Threshold:   3,
		MinRequests: 100,
		Versions:    spec.Versions{Stable: "v1", Canary: "v2"},
		Gates:       gates,
	}
	return c
}

var epoch = time.Unix(0, 0).UTC()

func TestQueriesAgainstPromQLEngine(t *testing.T) {
	gates := []spec.Gate{
		{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("2%")},
		{Name: "success", Type: spec.GateSuccessRate, Min: spec.Q("98%")},
		{Name: "p99", Type: spec.GateLatency, Quantile: 0.99, Max: spec.Q("300ms")},
		{Name: "p99-vs-stable", Type: spec.GateLatency, Quantile: 0.99, MaxIncrease: spec.Q("20%")},
		{Name: "count", Type: spec.GateRequestCount, Min: spec.Q("100")},
		{Name: "share", Type: spec.GateTrafficShare, Tolerance: 5},
		{Name: "regression", Type: spec.GateSequential, Alpha: 0.05},
	}
	stable := version{name: "v1", requests: 9, errRate: 0.01, buckets: healthyBuckets}
	tests := []struct {
		name     string
		canary   version
		want     map[string]Verdict
		overall  Verdict
		rollback bool
		// wantValues are exact values the queries must produce.
		wantErrRate, wantRequests float64
	}{
		{
			name:   "healthy",
			canary: version{name: "v2", requests: 1, errRate: 0.01, buckets: healthyBuckets},
			want: map[string]Verdict{"errors": Pass, "success": Pass, "p99": Pass, "p99-vs-stable": Pass,
				"count": Pass, "share": Pass, "regression": Pass},
			overall:     Pass,
			wantErrRate: 0.01, wantRequests: 20 * 6,
		},
		{
			name:   "bad",
			canary: version{name: "v2", requests: 1, errRate: 0.2, buckets: slowBuckets},
			want: map[string]Verdict{"errors": Fail, "success": Fail, "p99": Fail, "p99-vs-stable": Fail,
				"count": Pass, "share": Pass, "regression": Fail},
			overall: Fail, rollback: true,
			wantErrRate: 0.2, wantRequests: 20 * 6,
		},
		{
			name:   "empty",
			canary: version{name: "v3-never-deployed"},
			want: map[string]Verdict{"errors": Inconclusive, "success": Inconclusive, "p99": Inconclusive,
				"p99-vs-stable": Inconclusive, "count": Inconclusive, "share": Inconclusive, "regression": Inconclusive},
			overall:     Inconclusive,
			wantErrRate: math.NaN(), wantRequests: 0,
		},
		{
			// NaN samples are impossible data: Error, which holds.
			name:   "NaN",
			canary: version{name: "v2", requests: 1, buckets: healthyBuckets, nan: true},
			want: map[string]Verdict{"errors": Error, "success": Error, "p99": Error,
				"p99-vs-stable": Error, "count": Error, "share": Error, "regression": Error},
			overall:     Error,
			wantErrRate: math.NaN(), wantRequests: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newEngineQuerier(t, loadText(stable, tt.canary))
			c := testCanary(gates...)
			st := Stage{Weight: 10, Start: epoch.Add(15 * time.Minute), Now: epoch.Add(45*time.Minute + 20*time.Second)}
			obs, err := Observe(context.Background(), q, c, st)
			if err != nil {
				t.Fatal(err)
			}
			r := Judge(c, st, obs, Options{})
			got := map[string]Verdict{}
			for _, g := range r.Gates {
				got[g.Name] = g.Verdict
				if g.Verdict != tt.want[g.Name] {
					t.Errorf("gate %s: verdict %s, want %s (%s)", g.Name, g.Verdict, tt.want[g.Name], g.Message)
				}
				if g.Message == "" {
					t.Errorf("gate %s has no message", g.Name)
				}
			}
			if r.Verdict != tt.overall || r.Rollback != tt.rollback {
				t.Errorf("report verdict %s rollback %v, want %s %v (%v)", r.Verdict, r.Rollback, tt.overall, tt.rollback, r.RollbackReasons)
			}
			// Six complete 5m tiles between 15m and 45m20s.
			if n := len(obs.StageTiles.Tiles); n != 6 {
				t.Fatalf("%d stage tiles, want 6", n)
			}
			near(t, "stage canary requests", r.CanaryRequests, tt.wantRequests, 1e-6)
			errGate := r.Gates[0]
			if math.IsNaN(tt.wantErrRate) != math.IsNaN(errGate.Value) || (!math.IsNaN(tt.wantErrRate) && math.Abs(errGate.Value-tt.wantErrRate) > 1e-9) {
				t.Errorf("error rate %g, want %g", errGate.Value, tt.wantErrRate)
			}
			// The queries never asked for "now" implicitly and fetched each
			// family once per grid (the stage started on the canary's grid).
			for _, qq := range *q.seen {
				if qq.IsRange() && (qq.Start.IsZero() || qq.End.IsZero()) || !qq.IsRange() && qq.Time.IsZero() {
					t.Errorf("query without explicit time: %+v", qq)
				}
			}
			// Stable's hour before the canary comes with the same queries;
			// a canary without series adds one asking which versions exist.
			want := 3
			if tt.canary.requests == 0 {
				want = 4
			}
			if n := len(*q.seen); n != want {
				t.Errorf("%d queries, want %d (requests, errors, buckets, and versions when the canary has none)", n, want)
			}
		})
	}
}

// TestQuantileMatchesHistogramQuantile checks that the latency quantile
// computed from the bucket query equals PromQL's histogram_quantile.
func TestQuantileMatchesHistogramQuantile(t *testing.T) {
	canary := version{name: "v2", requests: 1, errRate: 0.01, buckets: slowBuckets}
	stable := version{name: "v1", requests: 9, errRate: 0.01, buckets: healthyBuckets}
	q := newEngineQuerier(t, loadText(stable, canary))
	tg := Target{Namespace: "shop", Service: "web", StableVersion: "v1", CanaryVersion: "v2"}
	at := epoch.Add(30 * time.Minute)
	buckets, err := q.Query(context.Background(), Query{Expr: tg.BucketsQuery(10 * time.Minute), Time: at})
	if err != nil {
		t.Fatal(err)
	}
	for _, quant := range []float64{0.5, 0.9, 0.95, 0.99, 0.999} {
		want, err := q.Query(context.Background(), Query{Expr: tg.QuantileQuery(quant, 10*time.Minute), Time: at})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range want {
			v := s.Labels["destination_version"]
			got := histogramOf(buckets, LabelVersion, v).Quantile(quant)
			near(t, fmt.Sprintf("q%g %s", quant, v), got, s.Points[0].V, 1e-9)
		}
		if len(want) != 2 {
			t.Errorf("histogram_quantile returned %d series, want one per version", len(want))
		}
	}
}

// TestCustomQueryEscaping renders custom templates with hostile spec values
// and runs them through the PromQL engine: the value must stay a label
// value, not become part of the query.
func TestCustomQueryEscaping(t *testing.T) {
	q := newEngineQuerier(t, loadText(version{name: "v1", requests: 9, errRate: 0.01, buckets: healthyBuckets}))
	tests := []struct {
		name, namespace, tmpl string
		wantEmpty             bool
	}{
		{name: "plain", namespace: "shop", tmpl: `sum(increase(istio_requests_total{destination_service_namespace="{{ .Namespace }}"}[{{ .Interval }}]))`},
		{name: "injection", namespace: `"} or vector(1) or {"`, tmpl: `sum(increase(istio_requests_total{destination_service_namespace="{{ .Namespace }}"}[{{ .Interval }}]))`, wantEmpty: true},
		{name: "backslash", namespace: `shop\`, tmpl: `sum(increase(istio_requests_total{destination_service_namespace="{{ .Namespace }}"}[{{ .Interval }}]))`, wantEmpty: true},
		{name: "newline", namespace: "shop\"\n} or vector(1) #", tmpl: `sum(increase(istio_requests_total{destination_service_namespace="{{ .Namespace }}"}[{{ .Interval }}]))`, wantEmpty: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := Target{Namespace: tt.namespace, Service: "web", StableVersion: "v1", CanaryVersion: "v2"}
			expr, err := tg.CustomQuery(tt.tmpl, 5*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			res, err := q.Query(context.Background(), Query{Expr: expr, Time: epoch.Add(30 * time.Minute)})
			if err != nil {
				t.Fatalf("query %s: %v", expr, err)
			}
			if tt.wantEmpty != (len(res) == 0) {
				t.Errorf("query %s returned %v; want empty = %v", expr, res, tt.wantEmpty)
			}
			// The built-in queries escape the same values.
			res, err = q.Query(context.Background(), Query{Expr: tg.RequestsQuery(5 * time.Minute), Time: epoch.Add(30 * time.Minute)})
			if err != nil {
				t.Fatalf("requests query: %v", err)
			}
			if tt.wantEmpty != (len(res) == 0) {
				t.Errorf("requests query %s returned %v; want empty = %v", tg.RequestsQuery(5*time.Minute), res, tt.wantEmpty)
			}
		})
	}
}

// A split by host groups by destination_service_name, still one query per
// metric family for both versions.
func TestHostSplitQueries(t *testing.T) {
	c := &spec.Canary{}
	c.Metadata.Name = "app"
	c.Spec.VirtualService.Namespace = "shop"
	c.Spec.Hosts = spec.Hosts{Stable: "app-stable.shop.svc.cluster.local", Canary: "app-canary"}
	c.Spec.Deployments.Canary = "app-canary"
	c.Normalize()
	tg := TargetOf(c)
	got := tg.RequestsQuery(5 * time.Minute)
	sel := `istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name=~"app-stable|app-canary"}`
	want := `sum by (destination_service_name, pod) ((` + sel + ` - ` + sel + ` offset 5m) >= 0 or (` + sel + ` unless ` + sel + ` offset 5m) or increase(` + sel + `[5m]))`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if b := tg.BucketsQuery(time.Minute); !strings.HasPrefix(b, "sum by (destination_service_name, le, pod) ") || strings.Contains(b, "destination_version") {
		t.Errorf("buckets query %s", b)
	}
}

// histogramOf reads an instant result's histogram of one version.
func histogramOf(series []Series, label, version string) Histogram {
	var h Histogram
	for _, s := range series {
		if s.Labels[label] != version || len(s.Points) == 0 {
			continue
		}
		le, err := strconv.ParseFloat(s.Labels["le"], 64)
		if err != nil || !finite(s.Points[0].V) {
			continue
		}
		h = append(h, Bucket{Le: le, Count: s.Points[0].V})
	}
	if len(h) == 0 {
		return nil
	}
	return sortedHistogram(h)
}

// When the canary's label value matches no series, one more query finds
// the values the service does report, and every inconclusive gate names
// them and what to change.
func TestMissingCanaryNamesReportedValues(t *testing.T) {
	gates := []spec.Gate{
		{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("2%")},
		{Name: "regression", Type: spec.GateSequential, Alpha: 0.05},
	}
	st := Stage{Weight: 10, Start: epoch.Add(15 * time.Minute), Now: epoch.Add(45*time.Minute + 20*time.Second)}
	hostLoad := "load 15s\n" +
		`  istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name="web-primary",destination_version="v1",response_code="200"} 0+9x240` + "\n" +
		`  istio_requests_total{reporter="destination",destination_service_namespace="shop",destination_service_name="web-next",destination_version="v2",response_code="200"} 0+1x240` + "\n" +
		`  istio_requests_total{reporter="destination",destination_service_namespace="other",destination_service_name="elsewhere",destination_version="v2",response_code="200"} 0+1x240` + "\n"
	tests := []struct {
		name  string
		load  string
		spec  func(c *spec.Canary)
		want  string // "" for no hint
		asked int    // value queries asked
	}{
		{
			name: "subset names instead of version labels",
			load: loadText(version{name: "v1", requests: 9, buckets: healthyBuckets}, version{name: "v2", requests: 1, buckets: healthyBuckets}),
			spec: func(c *spec.Canary) { c.Spec.Analysis.Versions = spec.Versions{Stable: "primary", Canary: "canary"} },
			want: `no series with destination_version="canary"; this service reports destination_version v1, v2: set spec.analysis.versions`, asked: 1,
		},
		{
			name:  "the canary has series but no requests",
			load:  loadText(version{name: "v1", requests: 9, buckets: healthyBuckets}, version{name: "v3-never-deployed"}),
			spec:  func(c *spec.Canary) { c.Spec.Analysis.Versions.Canary = "v3-never-deployed" },
			asked: 1,
		},
		{
			name:  "the canary has requests",
			load:  loadText(version{name: "v1", requests: 9, buckets: healthyBuckets}, version{name: "v2", requests: 1, buckets: healthyBuckets}),
			spec:  func(c *spec.Canary) {},
			asked: 0,
		},
		{
			name: "split by host",
			load: hostLoad,
			spec: func(c *spec.Canary) {
				c.Spec.Host = ""
				c.Spec.Hosts = spec.Hosts{Stable: "web-primary", Canary: "web-canary.shop.svc.cluster.local"}
				c.Spec.Analysis.Versions = spec.Versions{}
			},
			want:  `no series with destination_service_name="web-canary"; namespace shop reports destination_service_name web-next, web-primary: set spec.analysis.versions`,
			asked: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newEngineQuerier(t, tt.load)
			c := testCanary(gates...)
			tt.spec(c)
			obs, err := Observe(context.Background(), q, c, st)
			if err != nil {
				t.Fatal(err)
			}
			asked := 0
			for _, qq := range *q.seen {
				if strings.Contains(qq.Expr, "group by") {
					asked++
					if qq.IsRange() || !qq.Time.Equal(st.Now) {
						t.Errorf("values query %+v is not an instant query at now", qq)
					}
				}
			}
			if asked != tt.asked {
				t.Errorf("%d value queries, want %d", asked, tt.asked)
			}
			if obs.MissingCanary != tt.want {
				t.Fatalf("hint\n got %q\nwant %q", obs.MissingCanary, tt.want)
			}
			r := Judge(c, st, obs, Options{})
			for _, g := range append(r.Gates, r.RollbackOn...) {
				if tt.want != "" && !strings.HasSuffix(g.Message, ": "+tt.want) {
					t.Errorf("gate %s (%s): %q does not name what exists", g.Name, g.Verdict, g.Message)
				}
				if tt.want == "" && strings.Contains(g.Message, "no series with") {
					t.Errorf("gate %s: %q", g.Name, g.Message)
				}
			}
		})
	}
}

// A canary of a Gateway API route reads the waypoint's series by default:
// the requests a sidecar also reports (reporter="destination") are not
// counted twice, and the versions are still told apart by
// destination_service_name, one query per metric family.
func TestWaypointReporterQueries(t *testing.T) {
	load := "load 15s\n"
	for _, r := range []struct {
		reporter, service string
		inc               int
	}{
		{"waypoint", "web-stable", 9}, {"waypoint", "web-canary", 1},
		{"destination", "web-stable", 90}, {"destination", "web-canary", 10},
	} {
		load += fmt.Sprintf("  istio_requests_total{reporter=%q,destination_service_namespace=\"shop\",destination_service_name=%q,response_code=\"200\",pod=\"p\"} 0+%dx240\n", r.reporter, r.service, r.inc)
	}
	c := &spec.Canary{}
	c.Metadata.Name = "web"
	c.Spec.Route = spec.RouteRef{Kind: spec.KindHTTPRoute, Name: "web", Namespace: "shop"}
	c.Spec.Hosts = spec.Hosts{Stable: "web-stable", Canary: "web-canary"}
	c.Spec.Deployments.Canary = "web-canary"
	c.Normalize()
	if c.Spec.Analysis.Reporter != spec.ReporterWaypoint {
		t.Fatalf("reporter defaults to %q for an HTTPRoute, want waypoint", c.Spec.Analysis.Reporter)
	}
	sum := func(tg Target) map[string]float64 {
		q := newEngineQuerier(t, load)
		res, err := q.Query(context.Background(), Query{Expr: tg.RequestsQuery(5 * time.Minute), Time: epoch.Add(30 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, s := range res {
			out[s.Labels[LabelService]] += s.Points[0].V
		}
		return out
	}
	// 5 minutes are 20 scrapes of 15s.
	if got := sum(TargetOf(c)); got["web-stable"] != 9*20 || got["web-canary"] != 1*20 || len(got) != 2 {
		t.Errorf("waypoint counts %v, want web-stable 180 and web-canary 20", got)
	}
	c.Spec.Analysis.Reporter = spec.ReporterDestination
	if got := sum(TargetOf(c)); got["web-stable"] != 90*20 || got["web-canary"] != 10*20 {
		t.Errorf("destination counts %v, want web-stable 1800 and web-canary 200", got)
	}
	// A VirtualService keeps the sidecars' reporter.
	vs := testCanary()
	vs.Spec.Analysis.Reporter = ""
	vs.Normalize()
	if got := TargetOf(vs).RequestsQuery(time.Minute); !strings.Contains(got, `reporter="destination"`) {
		t.Errorf("a VirtualService's query %s does not read reporter=\"destination\"", got)
	}
}
