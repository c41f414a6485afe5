package gitops

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/promoter-dev/promoter/internal/lockdown"
)

// Bounds of the Git transport. A remote that stops answering ends the
// operation with a timeout error instead of stalling the pass: each
// network operation (clone, fetch, push, ls-remote) is bounded as a whole,
// and within it connecting, the TLS handshake, the wait for the answer's
// headers and every silence while reading a pack are bounded too.
//
// They are variables for the tests only.
var (
	gitConnectTimeout = 30 * time.Second
	gitIdleTimeout    = 2 * time.Minute
	gitOpTimeout      = 15 * time.Minute
)

// httpTransport is the HTTP(S) transport promoter's Git operations use.
func httpTransport() *http.Transport {
	t := lockdown.Transport()
	dialer := &net.Dialer{Timeout: gitConnectTimeout, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: gitIdleTimeout}, nil
	}
	t.TLSHandshakeTimeout = gitConnectTimeout
	t.ResponseHeaderTimeout = gitIdleTimeout
	t.Proxy = http.ProxyFromEnvironment
	return t
}

// idleConn fails a read or write that waits longer than idle.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func installHTTPTransport() {
	hc := &http.Client{Transport: httpTransport()}
	tr := githttp.NewClient(hc)
	client.InstallProtocol("http", tr)
	client.InstallProtocol("https", tr)
}

// bounded derives the context of one network operation.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, gitOpTimeout)
}
