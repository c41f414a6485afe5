package promapi

import (
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Options configure an [API].
type Options struct {
	// Now is the clock: the evaluation time of an instant query that gives
	// no time. Required; promoter always gives a time.
	Now func() time.Time
	// Timeout bounds each query (default 2m); a request's timeout
	// parameter may shorten it.
	Timeout time.Duration
	// MaxSamples is the most samples a query may hold in memory (default
	// 50,000,000, Prometheus's default).
	MaxSamples int
	// LookbackDelta is how far back an instant vector selector looks for a
	// sample (default 5m).
	LookbackDelta time.Duration
	// Log receives one debug record per request and the errors of
	// writing responses; nil discards.
	Log *slog.Logger
}

// API is the HTTP query API over a storage. It is an [http.Handler] and safe
// for concurrent use.
type API struct {
	q      storage.Queryable
	engine *promql.Engine
	opts   Options
	mux    *http.ServeMux
	faults faults
}

// maxPoints is Prometheus's limit of points per series of a range query.
const maxPoints = 11000

// New returns the API over q (usually a [*Store]). It panics if opts.Now is
// nil, a programming error.
func New(q storage.Queryable, opts Options) *API {
	if opts.Now == nil {
		panic("promapi: Options.Now is nil")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = 50_000_000
	}
	if opts.LookbackDelta <= 0 {
		opts.LookbackDelta = 5 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	a := &API{
		q:    q,
		opts: opts,
		engine: promql.NewEngine(promql.EngineOpts{
			Logger:               opts.Log,
			MaxSamples:           opts.MaxSamples,
			Timeout:              opts.Timeout,
			LookbackDelta:        opts.LookbackDelta,
			EnableAtModifier:     true,
			EnableNegativeOffset: true,
			NoStepSubqueryIntervalFn: func(int64) int64 {
				return time.Minute.Milliseconds()
			},
		}),
		mux: http.NewServeMux(),
	}
	a.mux.HandleFunc("/api/v1/query", a.query)
	a.mux.HandleFunc("/api/v1/query_range", a.queryRange)
	a.mux.HandleFunc("/api/v1/status/buildinfo", a.buildInfo)
	a.mux.HandleFunc("/-/ready", ready)
	a.mux.HandleFunc("/-/healthy", ready)
	return a
}

// ServeHTTP serves the API, applying any injected fault first.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.opts.Log.DebugContext(r.Context(), "prometheus api request", "method", r.Method, "path", r.URL.Path)
	if f, ok := a.faults.takeFor(r); ok {
		if served := f.apply(a, w, r); served {
			return
		}
	}
	a.mux.ServeHTTP(w, r)
}

// ErrorType is a Prometheus API error type.
type ErrorType string

// The error types of the Prometheus API.
const (
	ErrBadData   ErrorType = "bad_data"
	ErrExecution ErrorType = "execution"
	ErrTimeout   ErrorType = "timeout"
	ErrCanceled  ErrorType = "canceled"
	ErrInternal  ErrorType = "internal"
	ErrUnavail   ErrorType = "unavailable"
)

// StatusCode is the HTTP status Prometheus answers an error of type t with.
func (t ErrorType) StatusCode() int {
	switch t {
	case ErrBadData:
		return http.StatusBadRequest
	case ErrExecution:
		return http.StatusUnprocessableEntity
	case ErrTimeout, ErrUnavail:
		return http.StatusServiceUnavailable
	case ErrCanceled:
		return 499 // client closed the connection
	}
	return http.StatusInternalServerError
}

func (a *API) respondError(w http.ResponseWriter, r *http.Request, typ ErrorType, err error) {
	a.write(w, r, typ.StatusCode(), encodeError(typ, err.Error()))
}

func (a *API) write(w http.ResponseWriter, r *http.Request, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if _, err := w.Write(body); err != nil {
		a.opts.Log.DebugContext(r.Context(), "write response", "err", err)
	}
}

func (a *API) buildInfo(w http.ResponseWriter, r *http.Request) {
	body := `{"status":"success","data":{"version":"3.0.0-promapi","revision":"","branch":"","buildUser":"","buildDate":"","goVersion":"` + runtime.Version() + `"}}`
	a.write(w, r, http.StatusOK, []byte(body))
}

func ready(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("Prometheus Server is Ready.\n"))
}
