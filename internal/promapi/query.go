package promapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/prometheus/promql"
)

// query serves /api/v1/query.
func (a *API) query(w http.ResponseWriter, r *http.Request) {
	if !a.form(w, r) {
		return
	}
	ts, err := timeParam(r, "time", a.opts.Now())
	if err != nil {
		a.respondError(w, r, ErrBadData, err)
		return
	}
	ctx, cancel, ok := a.withTimeout(w, r)
	if !ok {
		return
	}
	defer cancel()
	qry, err := a.engine.NewInstantQuery(ctx, a.q, nil, r.FormValue("query"), ts)
	a.run(ctx, w, r, qry, err)
}

// queryRange serves /api/v1/query_range.
func (a *API) queryRange(w http.ResponseWriter, r *http.Request) {
	if !a.form(w, r) {
		return
	}
	start, err := requiredTime(r, "start")
	if err != nil {
		a.respondError(w, r, ErrBadData, err)
		return
	}
	end, err := requiredTime(r, "end")
	if err != nil {
		a.respondError(w, r, ErrBadData, err)
		return
	}
	if end.Before(start) {
		a.respondError(w, r, ErrBadData, fmt.Errorf("invalid parameter %q: end timestamp must not be before start time", "end"))
		return
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		a.respondError(w, r, ErrBadData, fmt.Errorf("invalid parameter %q: %w", "step", err))
		return
	}
	if step <= 0 {
		a.respondError(w, r, ErrBadData, fmt.Errorf("invalid parameter %q: zero or negative query resolution step widths are not accepted. Try a positive integer", "step"))
		return
	}
	if end.Sub(start)/step > maxPoints {
		a.respondError(w, r, ErrBadData, errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
		return
	}
	ctx, cancel, ok := a.withTimeout(w, r)
	if !ok {
		return
	}
	defer cancel()
	qry, err := a.engine.NewRangeQuery(ctx, a.q, nil, r.FormValue("query"), start, end, step)
	a.run(ctx, w, r, qry, err)
}

// form accepts GET and POST and parses the parameters of both; it answers
// the request itself and returns false when they are unusable.
func (a *API) form(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		a.respondError(w, r, ErrBadData, fmt.Errorf("method %s not allowed", r.Method))
		return false
	}
	if err := r.ParseForm(); err != nil {
		a.respondError(w, r, ErrBadData, fmt.Errorf("error parsing form values: %w", err))
		return false
	}
	return true
}

func requiredTime(r *http.Request, name string) (time.Time, error) {
	if r.FormValue(name) == "" {
		return time.Time{}, fmt.Errorf("invalid parameter %q: cannot parse \"\" to a valid timestamp", name)
	}
	return timeParam(r, name, time.Time{})
}

// withTimeout derives the query's context from the request and its
// timeout parameter.
func (a *API) withTimeout(w http.ResponseWriter, r *http.Request) (context.Context, context.CancelFunc, bool) {
	d, err := timeoutParam(r)
	if err != nil {
		a.respondError(w, r, ErrBadData, err)
		return nil, nil, false
	}
	if d > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		return ctx, cancel, true
	}
	ctx, cancel := context.WithCancel(r.Context())
	return ctx, cancel, true
}

// run executes a constructed query and writes its result or error.
func (a *API) run(ctx context.Context, w http.ResponseWriter, r *http.Request, qry promql.Query, err error) {
	if err != nil {
		typ := ErrBadData
		if t := execErrorType(err); t == ErrTimeout || t == ErrCanceled {
			typ = t
		} else {
			err = fmt.Errorf("invalid parameter %q: %w", "query", err)
		}
		a.respondError(w, r, typ, err)
		return
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		a.respondError(w, r, execErrorType(res.Err), res.Err)
		return
	}
	warnings, infos := res.Warnings.AsStrings(qry.String(), 10, 10)
	body, err := encodeSuccess(res.Value, warnings, infos)
	if err != nil {
		a.respondError(w, r, ErrInternal, err)
		return
	}
	a.write(w, r, http.StatusOK, body)
}

// execErrorType classifies an engine error as Prometheus does.
func execErrorType(err error) ErrorType {
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		stor     promql.ErrStorage
	)
	switch {
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return ErrCanceled
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case errors.As(err, &stor):
		return ErrInternal
	}
	return ErrExecution
}
