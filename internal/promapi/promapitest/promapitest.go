// Package promapitest serves a [promapi.API] over HTTP on 127.0.0.1 for
// tests, with its store and server closed when the test ends.
package promapitest

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/promapi"
)

// Server is a Prometheus-compatible API served over HTTP.
type Server struct {
	// Store holds the samples; append to it at any time.
	Store *promapi.Store
	// API is the handler, for fault injection.
	API *promapi.API
	// URL is the base URL to give a Prometheus client ("http://127.0.0.1:N").
	URL string
}

// New starts a server over a new, empty store.
// now is the clock of instant queries that give no time.
func New(t testing.TB, now func() time.Time) *Server {
	t.Helper()
	st := promapi.NewStore()
	api := promapi.New(st, promapi.Options{Now: now})
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &Server{Store: st, API: api, URL: srv.URL}
}
