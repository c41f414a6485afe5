// Package credstest starts HTTP servers on distinct loopback hosts, for
// tests that credentials stay with their host.
package credstest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Listen starts h on addr and closes it when the test ends. Another
// loopback address (127.0.0.2 beside 127.0.0.1) is another host to a
// client: the tests of redirects across hosts need both.
func Listen(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}
