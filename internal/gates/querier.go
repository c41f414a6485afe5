package gates

import (
	"context"
	"fmt"
	"time"
)

// Querier runs one PromQL query. It is the only thing the gates need from
// Prometheus.
//
// Query returns the series of an instant query (Step == 0; one point per
// series, at q.Time) or of a range query (Step > 0). An empty result is not
// an error. Errors are *QueryError values whose Kind says whether retrying
// can help; a Querier may already have retried transient failures.
type Querier interface {
	Query(ctx context.Context, q Query) ([]Series, error)
}

// Query is one PromQL query with its evaluation time set explicitly: never
// "now" as Prometheus sees it, so that the same query gives the same answer
// whichever run asks it.
type Query struct {
	Expr string
	// Time is the evaluation time of an instant query.
	Time time.Time
	// Start, End and Step make it a range query when Step > 0.
	Start, End time.Time
	Step       time.Duration
}

// IsRange reports whether q is a range query.
func (q Query) IsRange() bool { return q.Step > 0 }

// Series is one labelled series of a result.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one value of a series.
type Point struct {
	T time.Time
	V float64
}

// ErrorKind classifies a failed query by what the caller can do about it.
type ErrorKind int

// Error kinds.
const (
	// ErrUnreachable: Prometheus could not be reached (connection refused,
	// DNS). Transient.
	ErrUnreachable ErrorKind = iota + 1
	// ErrTimeout: the query or the request timed out. Transient.
	ErrTimeout
	// ErrServer: Prometheus answered 5xx. Transient.
	ErrServer
	// ErrBadQuery: Prometheus rejected the query (4xx, bad_data). Fix the
	// query or the spec; retrying does not help.
	ErrBadQuery
	// ErrBadResponse: the answer could not be understood (garbage JSON, an
	// unexpected result type). Check --prometheus points at a Prometheus API.
	ErrBadResponse
)

func (k ErrorKind) String() string {
	switch k {
	case ErrUnreachable:
		return "unreachable"
	case ErrTimeout:
		return "timeout"
	case ErrServer:
		return "server error"
	case ErrBadQuery:
		return "bad query"
	case ErrBadResponse:
		return "bad response"
	}
	return "unknown"
}

// Transient reports whether retrying the query later may succeed.
func (k ErrorKind) Transient() bool {
	return k == ErrUnreachable || k == ErrTimeout || k == ErrServer
}

// QueryError is a failed query.
type QueryError struct {
	Kind ErrorKind
	Expr string
	// Attempts is how many times the query was sent.
	Attempts int
	Err      error
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("prometheus query failed (%s, %d attempt(s)): %v", e.Kind, e.Attempts, e.Err)
}

func (e *QueryError) Unwrap() error { return e.Err }

// Hint tells a user what to do about the error.
func (e *QueryError) Hint() string {
	switch e.Kind {
	case ErrUnreachable:
		return "check that --prometheus (or PROMETHEUS_URL) points at a running Prometheus"
	case ErrTimeout:
		return "Prometheus is slow or overloaded; try again, or query a smaller window"
	case ErrServer:
		return "Prometheus answered with a server error; check its logs"
	case ErrBadQuery:
		return "Prometheus rejected the query; check the gate's query in the canary spec"
	case ErrBadResponse:
		return "the answer was not a Prometheus API response; check the --prometheus URL (it should be the server's base URL)"
	}
	return ""
}

// QuerierFunc adapts a function to a Querier (for fakes in tests and the
// simulator).
type QuerierFunc func(ctx context.Context, q Query) ([]Series, error)

// Query calls f.
func (f QuerierFunc) Query(ctx context.Context, q Query) ([]Series, error) { return f(ctx, q) }

var _ Querier = QuerierFunc(nil)
