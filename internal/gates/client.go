package gates

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// ClientOptions configure a [Client].
type ClientOptions struct {
	// URL is the Prometheus (or Thanos, Mimir, Cortex) API base URL.
	URL string
	// BearerToken is sent as "Authorization: Bearer ..." when set. It never
	// appears in logs or errors.
	BearerToken string
	// Headers are added to every request, e.g. X-Scope-OrgID for Mimir.
	Headers map[string]string
	// TLS configures the connection to an https URL.
	TLS TLSOptions
	// Timeout bounds each attempt (default 30s); the caller's ctx bounds
	// the whole query including retries.
	Timeout time.Duration
	// Retries is the number of retries of a transient failure (5xx,
	// timeouts, connection errors); default 2, negative for none.
	Retries int
	// Backoff is the wait before the first retry (default 500ms), doubled
	// for each further retry.
	Backoff time.Duration
	// Log receives one debug record per attempt; nil discards.
	Log *slog.Logger
	// Sleep waits d or until ctx is done; nil uses a timer. Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// TLSOptions configure TLS to Prometheus.
type TLSOptions struct {
	// CAFile is a PEM bundle of CAs to trust instead of the system's.
	CAFile string
	// CertFile and KeyFile are a client certificate for mutual TLS.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the server's certificate.
	ServerName string
	// InsecureSkipVerify disables certificate checks. For tests only.
	InsecureSkipVerify bool
}

// Client is a [Querier] over the Prometheus HTTP API.
type Client struct {
	api  v1.API
	opts ClientOptions
}

var _ Querier = (*Client)(nil)

// NewClient returns a client of the Prometheus API at opts.URL.
func NewClient(opts ClientOptions) (*Client, error) {
	if opts.URL == "" {
		return nil, errors.New("no Prometheus URL")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Retries == 0 {
		opts.Retries = 2
	}
	if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	tlsConfig, err := opts.TLS.config()
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	c, err := api.NewClient(api.Config{
		Address:      opts.URL,
		RoundTripper: headerTransport{base: transport, token: opts.BearerToken, headers: opts.Headers},
	})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", opts.URL, err)
	}
	return &Client{api: v1.NewAPI(c), opts: opts}, nil
}

func (o TLSOptions) config() (*tls.Config, error) {
	cfg := &tls.Config{ServerName: o.ServerName, InsecureSkipVerify: o.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("prometheus CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("prometheus CA file %s: no PEM certificates", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("prometheus client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// headerTransport adds the bearer token and the extra headers.
type headerTransport struct {
	base    http.RoundTripper
	token   string
	headers map[string]string
}

func (t headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range t.headers {
		req.Header.Set(k, v)
	}
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	return t.base.RoundTrip(req)
}

// Query runs q, retrying transient failures with exponential backoff until
// the retries are spent or ctx is done.
func (c *Client) Query(ctx context.Context, q Query) ([]Series, error) {
	wait := c.opts.Backoff
	for attempt := 1; ; attempt++ {
		series, err := c.once(ctx, q)
		if err == nil {
			return series, nil
		}
		kind := classify(err)
		c.opts.Log.DebugContext(ctx, "prometheus query failed", "attempt", attempt, "kind", kind.String(), "err", err)
		if !kind.Transient() || attempt > c.opts.Retries || ctx.Err() != nil {
			return nil, &QueryError{Kind: kind, Expr: q.Expr, Attempts: attempt, Err: err}
		}
		if serr := c.opts.Sleep(ctx, wait); serr != nil {
			return nil, &QueryError{Kind: kind, Expr: q.Expr, Attempts: attempt, Err: err}
		}
		wait *= 2
	}
}

func (c *Client) once(ctx context.Context, q Query) ([]Series, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var (
		v   model.Value
		err error
	)
	if q.IsRange() {
		v, _, _, err = c.api.QueryRange(ctx, q.Expr, v1.Range{Start: q.Start, End: q.End, Step: q.Step}, v1.WithTimeout(c.opts.Timeout))
	} else {
		v, _, _, err = c.api.Query(ctx, q.Expr, q.Time, v1.WithTimeout(c.opts.Timeout))
	}
	if err != nil {
		return nil, err
	}
	return convert(v)
}

// errUnexpected marks an answer of a type the gates cannot use.
var errUnexpected = errors.New("unexpected result type")

func convert(v model.Value) ([]Series, error) {
	labels := func(m model.Metric) map[string]string {
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[string(k)] = string(v)
		}
		return out
	}
	switch v := v.(type) {
	case nil:
		return nil, nil
	case model.Vector:
		out := make([]Series, 0, len(v))
		for _, s := range v {
			out = append(out, Series{Labels: labels(s.Metric), Points: []Point{{T: s.Timestamp.Time(), V: float64(s.Value)}}})
		}
		return out, nil
	case model.Matrix:
		out := make([]Series, 0, len(v))
		for _, s := range v {
			ps := make([]Point, 0, len(s.Values))
			for _, p := range s.Values {
				ps = append(ps, Point{T: p.Timestamp.Time(), V: float64(p.Value)})
			}
			out = append(out, Series{Labels: labels(s.Metric), Points: ps})
		}
		return out, nil
	case *model.Scalar:
		return []Series{{Labels: map[string]string{}, Points: []Point{{T: v.Timestamp.Time(), V: float64(v.Value)}}}}, nil
	}
	return nil, fmt.Errorf("%w %s", errUnexpected, v.Type())
}

// classify maps a client error to what the caller can do about it.
func classify(err error) ErrorKind {
	var ae *v1.Error
	var ne net.Error
	switch {
	case errors.As(err, &ae):
		switch ae.Type {
		case v1.ErrServer:
			return ErrServer
		case v1.ErrTimeout, v1.ErrCanceled:
			return ErrTimeout
		case v1.ErrBadData, v1.ErrClient, v1.ErrExec:
			return ErrBadQuery
		}
		return ErrBadResponse
	case errors.Is(err, errUnexpected):
		return ErrBadResponse
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The attempt's timeout, or the caller's ctx (which stops retries).
		return ErrTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	}
	// Connection refused, DNS failures and other transport errors.
	return ErrUnreachable
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// finite reports whether v is a usable number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
