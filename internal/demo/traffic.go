package demo

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/mesh"
	"github.com/promoter-dev/promoter/internal/promapi"
)

// traffic is the simulated mesh and the Prometheus API promoter queries.
type traffic struct {
	store   *promapi.Store
	mesh    *mesh.Mesh
	server  *http.Server
	url     string
	querier gates.Querier

	mu  sync.Mutex
	now time.Time
}

// startTraffic starts the Prometheus-compatible API on a loopback port and
// a mesh that generates the scenario's traffic from start on, with each
// canary's weight taken from w.
func startTraffic(ctx context.Context, sc Scenario, w *weights, seed int64, start time.Time) (*traffic, error) {
	store := promapi.NewStore()
	t := &traffic{store: store, now: start}
	var services []mesh.Service
	for _, a := range sc.Apps {
		svc := mesh.Service{
			Namespace: a.Namespace, Name: a.Name, RPS: a.RPS,
			Stable: mesh.Version{Name: "v1", Workload: a.Name + "-stable", HealthAt: healthOf(a.Stable)},
			Canary: mesh.Version{Name: "v2", Workload: a.Name + "-canary", HealthAt: healthOf(a.Canary)},
			Weight: func(at time.Time) int { return w.at(a.Name, at) },
		}
		if a.HTTPRoute {
			// The waypoint reports each backend Service's requests.
			svc.Reporter = "waypoint"
			svc.Stable.Service, svc.Canary.Service = a.Name+"-stable", a.Name+"-canary"
		}
		services = append(services, svc)
	}
	var err error
	if t.mesh, err = mesh.New(mesh.Options{Store: store, Services: services, Start: start, ScrapeInterval: 30 * time.Second, Seed: uint64(seed)}); err != nil {
		store.Close()
		return nil, err
	}
	api := promapi.New(store, promapi.Options{Now: t.clock})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		return nil, err
	}
	t.url = "http://" + ln.Addr().String()
	t.server = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = t.server.Serve(ln) }()
	if t.querier, err = gates.NewClient(gates.ClientOptions{URL: t.url}); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func healthOf(b Behaviour) func(time.Time) mesh.Health {
	return func(t time.Time) mesh.Health {
		return mesh.Health{
			ErrorRate: b.ErrorRate(t),
			Median:    time.Duration(b.LatencyMedian(t) * float64(time.Millisecond)),
			Sigma:     b.LatencySigma,
		}
	}
}

func (t *traffic) clock() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.now
}

// Advance generates the mesh's scrapes up to now.
func (t *traffic) Advance(now time.Time) error {
	t.mu.Lock()
	t.now = now
	t.mu.Unlock()
	return t.mesh.Advance(context.Background(), now)
}

// URL is the Prometheus API's base URL.
func (t *traffic) URL() string { return t.url }

// Querier is a Prometheus client of the API, as promoter uses in production.
func (t *traffic) Querier() gates.Querier { return t.querier }

// Close stops the API and removes the store.
func (t *traffic) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(t.server.Shutdown(ctx), t.store.Close())
}
