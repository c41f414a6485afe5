package gates

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// batchLoad is an hour of 15s scrapes of three services of namespace shop
// and one of namespace pay, with a pod label, and a service of another
// namespace that no canary watches.
func batchLoad() string {
	var b strings.Builder
	b.WriteString("load 15s\n")
	series := func(ns, svc, ver, pod string, req, errRate float64, buckets map[string]float64) {
		l := fmt.Sprintf(`reporter="destination",destination_service_namespace=%q,destination_service_name=%q,destination_version=%q,pod=%q`, ns, svc, ver, pod)
		fmt.Fprintf(&b, "  istio_requests_total{%s,response_code=\"200\"} 0+%gx240\n", l, req*(1-errRate))
		fmt.Fprintf(&b, "  istio_requests_total{%s,response_code=\"503\"} 0+%gx240\n", l, req*errRate)
		for le, f := range buckets {
			fmt.Fprintf(&b, "  istio_request_duration_milliseconds_bucket{%s,le=%q} 0+%gx240\n", l, le, req*f)
		}
	}
	for _, pod := range []string{"a", "b"} {
		series("shop", "web", "v1", "web-v1-"+pod, 9, 0.01, healthyBuckets)
		series("shop", "api", "v1", "api-v1-"+pod, 7, 0.01, healthyBuckets)
		series("shop", "cart", "v1", "cart-v1-"+pod, 5, 0.01, healthyBuckets)
		series("pay", "web", "v1", "pay-v1-"+pod, 4, 0.01, healthyBuckets)
		series("other", "web", "v2", "other-"+pod, 50, 0.5, slowBuckets)
	}
	series("shop", "web", "v2", "web-v2-a", 1, 0.01, healthyBuckets)
	series("shop", "api", "v2", "api-v2-a", 1, 0.3, slowBuckets) // a bad canary
	series("pay", "web", "v2", "pay-v2-a", 1, 0.01, healthyBuckets)
	// cart's canary has no series at all.
	return b.String()
}

func batchCanary(ns, svc string, gates ...spec.Gate) *spec.Canary {
	c := testCanary(gates...)
	c.Metadata.Name = ns + "-" + svc
	c.Spec.Host = svc
	c.Spec.VirtualService.Namespace = ns
	return c
}

// fingerprint is everything a decision is made from and of: the tiles and
// the report, NaN included.
func fingerprint(obs *Observations, r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "canary %+v\nstage %+v\nbaseline %v %v %v\nmissing %q\n", obs.CanaryTiles.Tiles, obs.StageTiles.Tiles, obs.Baseline, obs.BaselineTiles, obs.BaselineErr, obs.MissingCanary)
	fmt.Fprintf(&b, "queries %v %v\n", obs.CanaryTiles.Queries, obs.CanaryTiles.Errs)
	fmt.Fprintf(&b, "verdict %s rollback %v %v\n", r.Verdict, r.Rollback, r.RollbackReasons)
	for _, g := range r.Gates {
		fmt.Fprintf(&b, "gate %s %s %v %s\n", g.Name, g.Verdict, g.Value, g.Message)
	}
	return b.String()
}

// TestBatchDecidesAsPerCanaryQueries evaluates the same canaries' stages
// over the real PromQL engine twice: each with its own queries, and all
// from one batch. Tiles, reports and decisions must be identical, the
// batch must send one query per metric family and nothing else (the
// versions the canary without series is told of come from the batch), and
// the report must still show each canary's own query.
func TestBatchDecidesAsPerCanaryQueries(t *testing.T) {
	gates := []spec.Gate{
		{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("2%")},
		{Name: "p99", Type: spec.GateLatency, Quantile: 0.99, Max: spec.Q("300ms")},
		{Name: "p99-vs-stable", Type: spec.GateLatency, Quantile: 0.99, MaxIncrease: spec.Q("20%")},
		{Name: "count", Type: spec.GateRequestCount, Min: spec.Q("100")},
		{Name: "share", Type: spec.GateTrafficShare, Tolerance: 5},
		{Name: "regression", Type: spec.GateSequential, Alpha: 0.05},
	}
	load := batchLoad()
	type item struct {
		c  *spec.Canary
		st Stage
	}
	now := epoch.Add(50*time.Minute + 20*time.Second)
	items := []item{
		// Started on the grid.
		{batchCanary("shop", "web", gates...), Stage{Weight: 10, Start: epoch.Add(20 * time.Minute), Now: now}},
		// Started off the grid, later stage, the bad canary.
		{batchCanary("shop", "api", gates...), Stage{Weight: 25, Start: epoch.Add(31*time.Minute + 7*time.Second), CanaryStart: epoch.Add(17*time.Minute + 40*time.Second), Now: now}},
		// No series for its canary version.
		{batchCanary("shop", "cart", gates[:4]...), Stage{Weight: 5, Start: epoch.Add(25 * time.Minute), Now: now}},
		// Same service name in another namespace.
		{batchCanary("pay", "web", gates[:4]...), Stage{Weight: 5, Start: epoch.Add(22*time.Minute + 30*time.Second), Now: now}},
	}
	own := newEngineQuerier(t, load)
	var want []string
	for _, it := range items {
		obs, err := Observe(context.Background(), own, it.c, it.st)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fingerprint(obs, Judge(it.c, it.st, obs, Options{})))
	}

	eng := newEngineQuerier(t, load)
	b := NewBatch(eng, 2)
	for _, it := range items {
		b.Add(it.c, it.st)
	}
	b.Fetch(context.Background())
	if n := len(*eng.seen); n != 3 {
		t.Fatalf("the batch sent %d queries, want 3 (one per metric family)", n)
	}
	verdicts := map[string]Verdict{}
	for i, it := range items {
		obs, err := Observe(context.Background(), b, it.c, it.st)
		if err != nil {
			t.Fatal(err)
		}
		r := Judge(it.c, it.st, obs, Options{})
		verdicts[it.c.Metadata.Name] = r.Verdict
		if got := fingerprint(obs, r); got != want[i] {
			t.Errorf("%s: batched evaluation differs from its own queries:\n got %s\nwant %s", it.c.Metadata.Name, got, want[i])
		}
		if got, want := obs.StageTiles.Queries[FamilyRequests], TargetOf(it.c).RequestsQuery(time.Duration(it.c.Spec.Analysis.Interval.Duration)); got != want {
			t.Errorf("%s: report shows query %s, want its own %s", it.c.Metadata.Name, got, want)
		}
	}
	// The data must have been judged, not just equally empty.
	if verdicts["shop-web"] != Pass || verdicts["shop-api"] != Fail || verdicts["shop-cart"] != Inconclusive || verdicts["pay-web"] != Pass {
		t.Errorf("verdicts %v, want shop-web Pass, shop-api Fail, shop-cart Inconclusive, pay-web Pass", verdicts)
	}
	// The canary without series is told which versions exist, from the
	// batch: nothing more is asked.
	if n := len(*eng.seen); n != 3 {
		t.Errorf("%d queries in all, want the 3 batched ones", n)
	}
	if !strings.Contains(want[2], "no series with") {
		t.Errorf("shop-cart's own queries name no missing versions; the comparison would prove nothing:\n%s", want[2])
	}
}

// TestBatchFailureIsEachCanarysError: a batched query that fails is an
// Error of every canary it serves, never a Pass or a silent drop.
func TestBatchFailureIsEachCanarysError(t *testing.T) {
	fail := QuerierFunc(func(context.Context, Query) ([]Series, error) {
		return nil, &QueryError{Kind: ErrServer, Attempts: 1, Err: fmt.Errorf("503")}
	})
	c := batchCanary("shop", "web", spec.Gate{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("2%")})
	st := Stage{Weight: 10, Start: epoch.Add(20 * time.Minute), Now: epoch.Add(50 * time.Minute)}
	b := NewBatch(fail, 1)
	b.Add(c, st)
	b.Fetch(context.Background())
	obs, err := Observe(context.Background(), b, c, st)
	if err != nil {
		t.Fatal(err)
	}
	if r := Judge(c, st, obs, Options{}); r.Verdict != Error {
		t.Errorf("verdict %s, want Error", r.Verdict)
	}
}

// synthQuerier answers a batched query with two versions' series of every
// service svc-0 … svc-(n-1) of namespace shop, as Prometheus would, and
// counts the queries it is asked.
type synthQuerier struct {
	n     int
	asked atomic.Int64
}

func (s *synthQuerier) Query(_ context.Context, q Query) ([]Series, error) {
	s.asked.Add(1)
	if !q.IsRange() {
		return nil, nil
	}
	var out []Series
	les := []string{""}
	if strings.Contains(q.Expr, metricDuration) {
		les = []string{"100", "+Inf"}
	}
	for i := range s.n {
		for _, v := range []string{"v1", "v2"} {
			for _, le := range les {
				l := map[string]string{labelReporter: "destination", labelNamespace: "shop", LabelService: fmt.Sprintf("svc-%d", i), LabelVersion: v, podLabel: "p-" + v}
				if le != "" {
					l["le"] = le
				}
				se := Series{Labels: l}
				for at := q.Start; !at.After(q.End); at = at.Add(q.Step) {
					se.Points = append(se.Points, Point{T: at, V: 100})
				}
				out = append(out, se)
			}
		}
	}
	return out, nil
}

// passRequests evaluates n progressing canaries through one batch and
// returns how many requests reached Prometheus.
func passRequests(t *testing.T, n int) int64 {
	t.Helper()
	q := &synthQuerier{n: n}
	b := NewBatch(q, 4)
	gs := []spec.Gate{
		{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("2%")},
		{Name: "p99", Type: spec.GateLatency, Quantile: 0.99, Max: spec.Q("300ms")},
		{Name: "regression", Type: spec.GateSequential, Alpha: 0.05},
	}
	cs := make([]*spec.Canary, n)
	sts := make([]Stage, n)
	for i := range n {
		cs[i] = batchCanary("shop", fmt.Sprintf("svc-%d", i), gs...)
		// Canaries started at different instants, stages of different ages.
		sts[i] = Stage{Weight: 10, Start: epoch.Add(time.Duration(60+i%40) * time.Minute), CanaryStart: epoch.Add(time.Duration(61+i%17) * time.Second * 60), Now: epoch.Add(3 * time.Hour)}
		if sts[i].CanaryStart.After(sts[i].Start) {
			sts[i].CanaryStart = sts[i].Start
		}
		b.Add(cs[i], sts[i])
	}
	b.Fetch(context.Background())
	for i := range n {
		obs, err := Observe(context.Background(), b, cs[i], sts[i])
		if err != nil {
			t.Fatal(err)
		}
		if obs.CanaryTiles.Tiles[len(obs.CanaryTiles.Tiles)-1].Requests.Canary == 0 {
			t.Fatalf("canary %d: no requests split out of the batch", i)
		}
	}
	return q.asked.Load()
}

// TestPassRequestsIndependentOfCanaryCount counts the Prometheus requests
// of one pass with 100 and with 1,000 canaries progressing.
func TestPassRequestsIndependentOfCanaryCount(t *testing.T) {
	n100 := passRequests(t, 100)
	n1000 := passRequests(t, 1000)
	t.Logf("requests of one pass: %d with 100 canaries, %d with 1,000", n100, n1000)
	if n100 > 20 || n1000 != n100 {
		t.Errorf("requests: %d with 100 canaries, %d with 1,000; want at most 20 and the same", n100, n1000)
	}
}

// TestBatchTooLargeFallsBackToOwnQueries: a batched answer over the
// response bound does not fail the canaries: each asks its own query.
func TestBatchTooLargeFallsBackToOwnQueries(t *testing.T) {
	eng := newEngineQuerier(t, batchLoad())
	var batched, own atomic.Int64
	q := QuerierFunc(func(ctx context.Context, qq Query) ([]Series, error) {
		if strings.Contains(qq.Expr, labelHost+", ") {
			batched.Add(1)
			return nil, &QueryError{Kind: ErrBadResponse, Attempts: 1, Err: fmt.Errorf("%w: over the limit of 10 bytes", errTooLarge)}
		}
		own.Add(1)
		return eng.Query(ctx, qq)
	})
	c := batchCanary("shop", "web", spec.Gate{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("2%")})
	st := Stage{Weight: 10, Start: epoch.Add(20 * time.Minute), Now: epoch.Add(50 * time.Minute)}
	b := NewBatch(q, 1)
	b.Add(c, st)
	b.Fetch(context.Background())
	obs, err := Observe(context.Background(), b, c, st)
	if err != nil {
		t.Fatal(err)
	}
	if r := Judge(c, st, obs, Options{}); r.Verdict != Pass {
		t.Errorf("verdict %s, want Pass from the canary's own queries", r.Verdict)
	}
	if batched.Load() != 3 || own.Load() != 3 {
		t.Errorf("%d batched and %d own queries, want 3 and 3", batched.Load(), own.Load())
	}
}

// TestPassRequestsWithoutDataIndependentOfCanaryCount: canaries whose
// series are missing altogether (no traffic yet, or a version label that
// does not match) are told which versions exist from the batch, so a pass
// still sends the same few requests with 100 or 1,000 of them.
func TestPassRequestsWithoutDataIndependentOfCanaryCount(t *testing.T) {
	count := func(n int) int64 {
		var asked atomic.Int64
		q := QuerierFunc(func(context.Context, Query) ([]Series, error) {
			asked.Add(1)
			return nil, nil
		})
		b := NewBatch(q, 4)
		g := spec.Gate{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("2%")}
		cs := make([]*spec.Canary, n)
		st := Stage{Weight: 10, Start: epoch.Add(time.Hour), Now: epoch.Add(2 * time.Hour)}
		for i := range n {
			cs[i] = batchCanary("shop", fmt.Sprintf("svc-%d", i), g)
			b.Add(cs[i], st)
		}
		b.Fetch(context.Background())
		for i := range n {
			obs, err := Observe(context.Background(), b, cs[i], st)
			if err != nil {
				t.Fatal(err)
			}
			if r := Judge(cs[i], st, obs, Options{}); r.Verdict != Inconclusive {
				t.Fatalf("canary %d without data: verdict %s, want Inconclusive", i, r.Verdict)
			}
		}
		return asked.Load()
	}
	n100, n1000 := count(100), count(1000)
	if n100 > 20 || n1000 != n100 {
		t.Errorf("requests without data: %d with 100 canaries, %d with 1,000; want at most 20 and the same", n100, n1000)
	}
}
