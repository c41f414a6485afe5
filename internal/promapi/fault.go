package promapi

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault is what an injected failure does to one query request
// (/api/v1/query or /api/v1/query_range).
//
// The request is first held for Delay, and until Wait is closed when Wait
// is set, or until the client gives up. Then, in order of precedence: a set
// Body is written raw with Status (default 200), to test answers that are
// not Prometheus JSON; a set ErrorType answers with Prometheus's error
// envelope, Message and the type's status code (or Status); a set Status
// alone answers with an error envelope of type "internal" (or "timeout" for
// 503). A Fault with none of Body, ErrorType and Status lets the request
// through to the query after the hold: a slow Prometheus.
type Fault struct {
	Delay     time.Duration
	Wait      <-chan struct{}
	ErrorType ErrorType
	Status    int
	Message   string
	Body      string
}

// faults is the queue of injected faults, consumed one per query request.
type faults struct {
	mu    sync.Mutex
	queue []Fault
}

// InjectFaults makes each of the next n query requests suffer f, after the
// faults already queued.
func (a *API) InjectFaults(n int, f Fault) {
	a.faults.mu.Lock()
	defer a.faults.mu.Unlock()
	for range n {
		a.faults.queue = append(a.faults.queue, f)
	}
}

// PendingFaults is how many injected faults are still queued.
func (a *API) PendingFaults() int {
	a.faults.mu.Lock()
	defer a.faults.mu.Unlock()
	return len(a.faults.queue)
}

// ClearFaults drops every queued fault.
func (a *API) ClearFaults() {
	a.faults.mu.Lock()
	defer a.faults.mu.Unlock()
	a.faults.queue = nil
}

// takeFor pops the next fault if r is a query request.
func (fs *faults) takeFor(r *http.Request) (Fault, bool) {
	if !strings.HasPrefix(r.URL.Path, "/api/v1/query") {
		return Fault{}, false
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.queue) == 0 {
		return Fault{}, false
	}
	f := fs.queue[0]
	fs.queue = fs.queue[1:]
	return f, true
}

// apply holds the request and writes the fault's answer; it returns false
// when the request should be served normally.
func (f Fault) apply(a *API, w http.ResponseWriter, r *http.Request) bool {
	ctx := r.Context()
	// Read the body first: only then does the server notice a client that
	// hangs up, and cancel ctx.
	_ = r.ParseForm()
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return true // the client is gone: nobody reads an answer
		}
	}
	if f.Wait != nil {
		select {
		case <-f.Wait:
		case <-ctx.Done():
			return true
		}
	}
	switch {
	case f.Body != "":
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
	case f.ErrorType != "" || f.Status != 0:
		typ := f.ErrorType
		if typ == "" {
			typ = ErrInternal
			if f.Status == http.StatusServiceUnavailable {
				typ = ErrTimeout
			}
		}
		status := f.Status
		if status == 0 {
			status = typ.StatusCode()
		}
		msg := f.Message
		if msg == "" {
			msg = "injected fault"
		}
		a.write(w, r, status, encodeError(typ, msg))
	default:
		return false
	}
	return true
}
