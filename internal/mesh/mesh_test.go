package mesh_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/mesh"
	"github.com/promoter-dev/promoter/internal/mesh/meshtest"
)

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func constant(w int) func(time.Time) int { return func(time.Time) int { return w } }

// query runs an instant query through promoter's own Prometheus client
// and returns the value per destination_version.
func query(t *testing.T, url, expr string, at time.Time) map[string]float64 {
	t.Helper()
	c, err := gates.NewClient(gates.ClientOptions{URL: url, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	series, err := c.Query(context.Background(), gates.Query{Expr: expr, Time: at})
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	out := map[string]float64{}
	for _, s := range series {
		out[s.Labels["destination_version"]] = s.Points[0].V
	}
	return out
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.5g, want %.5g ± %.2g", what, got, want, tol)
	}
}

// theoreticalQuantile is histogram_quantile's answer for an infinite
// sample of a lognormal: linear interpolation inside Istio's buckets.
func theoreticalQuantile(q float64, median time.Duration, sigma float64) float64 {
	mu := math.Log(float64(median) / float64(time.Millisecond))
	cdf := func(b float64) float64 { return 0.5 * math.Erfc(-(math.Log(b)-mu)/sigma/math.Sqrt2) }
	lo, plo := 0.0, 0.0
	for _, b := range mesh.Buckets {
		pb := cdf(b)
		if pb >= q {
			return lo + (b-lo)*(q-plo)/(pb-plo)
		}
		lo, plo = b, pb
	}
	return lo
}

func TestGateQueriesSeeTheConfiguredTraffic(t *testing.T) {
	stable := mesh.Health{ErrorRate: 0.01, Median: 50 * time.Millisecond, Sigma: 0.5}
	canary := mesh.Health{ErrorRate: 0.05, Median: 120 * time.Millisecond, Sigma: 0.4}
	env := meshtest.Start(t, mesh.Options{
		Start: t0,
		Seed:  1,
		Services: []mesh.Service{{
			Namespace: "shop", Name: "cart",
			Stable: mesh.Version{Name: "v1", Health: stable},
			Canary: mesh.Version{Name: "v2", Health: canary},
			RPS:    100,
			Weight: constant(20),
		}},
	}, func() time.Time { return t0 })
	end := t0.Add(time.Hour)
	if err := env.Mesh.Advance(context.Background(), end); err != nil {
		t.Fatal(err)
	}
	if got := env.Mesh.Generated(); !got.Equal(end) {
		t.Errorf("Generated() = %s, want %s", got, end)
	}
	target := gates.Target{Namespace: "shop", Service: "cart", StableVersion: "v1", CanaryVersion: "v2"}
	window := 55 * time.Minute // inside the hour, so no extrapolation to before the first sample
	req := query(t, env.URL, target.RequestsQuery(window), end)
	errs := query(t, env.URL, target.ErrorsQuery(window), end)

	total := req["v1"] + req["v2"]
	near(t, "requests", total, 100*window.Seconds(), 0.02*100*window.Seconds())
	near(t, "canary share", req["v2"]/total, 0.20, 0.01)
	near(t, "stable error rate", errs["v1"]/req["v1"], 0.01, 0.002)
	near(t, "canary error rate", errs["v2"]/req["v2"], 0.05, 0.005)

	for _, q := range []float64{0.5, 0.9, 0.99} {
		got := query(t, env.URL, target.QuantileQuery(q, window), end)
		for v, h := range map[string]mesh.Health{"v1": stable, "v2": canary} {
			want := theoreticalQuantile(q, h.Median, h.Sigma)
			near(t, fmt.Sprintf("%s latency p%g", v, q*100), got[v], want, 0.05*want)
		}
	}

	// The selector of a fully qualified host matches destination_service.
	fq := gates.Target{Service: "cart.shop.svc.cluster.local", StableVersion: "v1", CanaryVersion: "v2"}
	if got := query(t, env.URL, fq.RequestsQuery(window), end); got["v2"] != req["v2"] {
		t.Errorf("by destination_service: %v, want %v", got, req)
	}
}

func TestWeightAndHealthFollowTime(t *testing.T) {
	switchAt := t0.Add(30 * time.Minute)
	base := mesh.Health{ErrorRate: 0, Median: 20 * time.Millisecond, Sigma: 0.3}
	outage := mesh.Health{ErrorRate: 0.10, Median: 20 * time.Millisecond, Sigma: 0.3}
	health := mesh.During(base, outage, switchAt, switchAt.Add(10*time.Minute))
	env := meshtest.Start(t, mesh.Options{
		Start:          t0,
		Seed:           2,
		ScrapeInterval: 30 * time.Second,
		Services: []mesh.Service{{
			Namespace: "ns", Name: "svc",
			Stable: mesh.Version{Name: "v1", HealthAt: health},
			Canary: mesh.Version{Name: "v2", HealthAt: health},
			RPSAt:  func(t time.Time) float64 { return 50 },
			Weight: func(t time.Time) int {
				if t.Before(switchAt) {
					return 0
				}
				return 50
			},
		}},
	}, func() time.Time { return t0 })
	// Two advances: the split must not matter.
	ctx := context.Background()
	if err := env.Mesh.Advance(ctx, switchAt.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := env.Mesh.Advance(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	target := gates.Target{Namespace: "ns", Service: "svc", StableVersion: "v1", CanaryVersion: "v2"}

	before := query(t, env.URL, target.RequestsQuery(20*time.Minute), switchAt)
	if before["v2"] != 0 {
		t.Errorf("canary had %v requests at weight 0", before["v2"])
	}
	during := query(t, env.URL, target.RequestsQuery(10*time.Minute), switchAt.Add(10*time.Minute))
	near(t, "canary share at weight 50", during["v2"]/(during["v1"]+during["v2"]), 0.5, 0.03)
	duringErr := query(t, env.URL, target.ErrorsQuery(10*time.Minute), switchAt.Add(10*time.Minute))
	for _, v := range []string{"v1", "v2"} {
		near(t, v+" error rate during the outage", duringErr[v]/during[v], 0.10, 0.02)
	}
	afterErr := query(t, env.URL, target.ErrorsQuery(15*time.Minute), t0.Add(time.Hour))
	for _, v := range []string{"v1", "v2"} {
		if afterErr[v] != 0 {
			t.Errorf("%s had %v errors after the outage", v, afterErr[v])
		}
	}
}

func TestNewRejectsBadServices(t *testing.T) {
	ok := mesh.Service{Namespace: "ns", Name: "a", Stable: mesh.Version{Name: "v1"}, Canary: mesh.Version{Name: "v2"}}
	tests := []struct {
		name     string
		services []mesh.Service
	}{
		{"no name", []mesh.Service{{Namespace: "ns", Stable: ok.Stable, Canary: ok.Canary}}},
		{"no canary version", []mesh.Service{{Namespace: "ns", Name: "a", Stable: ok.Stable}}},
		{"same versions", []mesh.Service{{Namespace: "ns", Name: "a", Stable: ok.Stable, Canary: ok.Stable}}},
		{"duplicate", []mesh.Service{ok, ok}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := mesh.New(mesh.Options{Store: recorder(nil), Start: t0, Services: tt.services}); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

// A service whose traffic a waypoint routes reports as reporter="waypoint":
// a waypoint target's queries see its traffic split by Service, a
// sidecar's (reporter="destination") see none of it.
func TestWaypointSeries(t *testing.T) {
	env := meshtest.Start(t, mesh.Options{
		Start: t0, Seed: 3,
		Services: []mesh.Service{{
			Namespace: "shop", Name: "cart", Reporter: "waypoint",
			Stable: mesh.Version{Name: "v1", Service: "cart-stable", Health: mesh.Health{Median: 20 * time.Millisecond, Sigma: 0.3}},
			Canary: mesh.Version{Name: "v1", Service: "cart-canary", Health: mesh.Health{Median: 20 * time.Millisecond, Sigma: 0.3}},
			RPS:    50,
			Weight: constant(25),
		}},
	}, func() time.Time { return t0 })
	end := t0.Add(30 * time.Minute)
	if err := env.Mesh.Advance(context.Background(), end); err != nil {
		t.Fatal(err)
	}
	window := 25 * time.Minute
	byService := func(tg gates.Target) map[string]float64 {
		c, err := gates.NewClient(gates.ClientOptions{URL: env.URL, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		series, err := c.Query(context.Background(), gates.Query{Expr: tg.RequestsQuery(window), Time: end})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, s := range series {
			out[s.Labels[gates.LabelService]] += s.Points[0].V
		}
		return out
	}
	tg := gates.Target{Namespace: "shop", Label: gates.LabelService, StableVersion: "cart-stable", CanaryVersion: "cart-canary", Reporter: "waypoint"}
	got := byService(tg)
	total := got["cart-stable"] + got["cart-canary"]
	near(t, "requests", total, 50*window.Seconds(), 0.03*50*window.Seconds())
	near(t, "canary share", got["cart-canary"]/total, 0.25, 0.02)
	tg.Reporter = "destination"
	if got := byService(tg); len(got) != 0 {
		t.Errorf("reporter=\"destination\" sees %v of a waypoint's traffic", got)
	}
}
