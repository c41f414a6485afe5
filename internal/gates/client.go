package gates

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/promoter-dev/promoter/internal/bounded"
	"github.com/promoter-dev/promoter/internal/creds"
	"github.com/promoter-dev/promoter/internal/lockdown"
	"github.com/promoter-dev/promoter/internal/wait"
)

// ClientOptions configure a [Client].
type ClientOptions struct {
	// URL is the Prometheus (or Thanos, Mimir, Cortex) API base URL.
	URL string
	// BearerToken is sent as "Authorization: Bearer ..." when set. It never
	// appears in logs or errors.
	BearerToken string
	// Headers are added to every request to URL's host, e.g. X-Scope-OrgID
	// for Mimir. Like the token, they are never sent to another host: a
	// redirect elsewhere goes without them.
	Headers map[string]string
	// MaxResponseBytes bounds one answer (default 32 MiB); a larger answer
	// is an error of kind ErrBadResponse, so the gate is Error.
	MaxResponseBytes int64
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
	u, err := url.Parse(opts.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold credentials
		}
		return nil, fmt.Errorf("prometheus URL %q: %w", creds.Redact(opts.URL), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("prometheus URL %q: not an http:// or https:// URL", creds.Redact(opts.URL))
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = 32 << 20
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
		opts.Sleep = wait.Sleep
	}
	tlsConfig, err := opts.TLS.config()
	if err != nil {
		return nil, err
	}
	transport := lockdown.Transport()
	transport.TLSClientConfig = tlsConfig
	transport.ResponseHeaderTimeout = opts.Timeout
	header := http.Header{}
	for k, v := range opts.Headers {
		header.Set(k, v)
	}
	if opts.BearerToken != "" {
		header.Set("Authorization", "Bearer "+opts.BearerToken)
	}
	c, err := api.NewClient(api.Config{
		Address: opts.URL,
		Client: &http.Client{
			Transport: limitTransport{
				base:  &creds.Transport{Base: transport, Origin: creds.OriginOf(u), Header: header},
				limit: opts.MaxResponseBytes,
			},
			CheckRedirect: creds.StripOnRedirect,
		},
	})
	if err != nil {
		return nil, creds.Error(fmt.Errorf("prometheus client for %s: %w", opts.URL, err))
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

// limitTransport bounds the size of every answer.
type limitTransport struct {
	base  http.RoundTripper
	limit int64
}

// errTooLarge marks an answer over ClientOptions.MaxResponseBytes.
var errTooLarge = errors.New("answer too large")

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.limit {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d", errTooLarge, resp.ContentLength, t.limit)
	}
	limit := t.limit
	resp.Body = &limitedBody{Closer: resp.Body, Reader: bounded.Reader{R: resp.Body, Left: limit, Over: func() error {
		return fmt.Errorf("%w: over the limit of %d bytes", errTooLarge, limit)
	}}}
	return resp, nil
}

// limitedBody fails the read that goes over the limit: a truncated answer
// must not parse as a smaller one.
type limitedBody struct {
	bounded.Reader
	io.Closer
}

// Query runs q, retrying transient failures with exponential backoff until
// the retries are spent or ctx is done.
func (c *Client) Query(ctx context.Context, q Query) (_ []Series, err error) {
	// A panic on a hostile answer is that query's error, never the run's
	// death (the gates query from their own goroutines).
	defer func() {
		if r := recover(); r != nil {
			err = &QueryError{Kind: ErrBadResponse, Expr: q.Expr, Attempts: 1, Err: fmt.Errorf("%w: internal error reading the answer: %v", errUnexpected, r)}
		}
	}()
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
		for i, s := range v {
			if s == nil {
				return nil, fmt.Errorf("%w: sample %d of the vector is null", errUnexpected, i)
			}
			out = append(out, Series{Labels: labels(s.Metric), Points: []Point{{T: s.Timestamp.Time(), V: float64(s.Value)}}})
		}
		return out, nil
	case model.Matrix:
		out := make([]Series, 0, len(v))
		for i, s := range v {
			if s == nil {
				return nil, fmt.Errorf("%w: series %d of the matrix is null", errUnexpected, i)
			}
			ps := make([]Point, 0, len(s.Values))
			for _, p := range s.Values {
				ps = append(ps, Point{T: p.Timestamp.Time(), V: float64(p.Value)})
			}
			out = append(out, Series{Labels: labels(s.Metric), Points: ps})
		}
		return out, nil
	case *model.Scalar:
		if v == nil {
			return nil, fmt.Errorf("%w: null scalar", errUnexpected)
		}
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
	case errors.Is(err, errUnexpected), errors.Is(err, errTooLarge):
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

// finite reports whether v is a usable number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
