// Package meshtest starts a simulated mesh feeding a Prometheus-compatible
// API served on 127.0.0.1, for tests of code that queries Prometheus.
package meshtest

import (
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/mesh"
	"github.com/promoter-dev/promoter/internal/promapi/promapitest"
)

// Env is a mesh writing into the store of a served API.
type Env struct {
	*promapitest.Server
	Mesh *mesh.Mesh
}

// Start serves a new API (closed when the test ends) and creates a mesh
// over its store; opts.Store is set by Start. now is the API's clock for
// instant queries without a time. Nothing is generated until the test
// calls Env.Mesh.Advance.
func Start(t testing.TB, opts mesh.Options, now func() time.Time) *Env {
	t.Helper()
	srv := promapitest.New(t, now)
	opts.Store = srv.Store
	m, err := mesh.New(opts)
	if err != nil {
		t.Fatalf("mesh: %v", err)
	}
	return &Env{Server: srv, Mesh: m}
}
