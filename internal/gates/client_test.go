package gates

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/lockdown"
	"github.com/promoter-dev/promoter/internal/spec"
)

// vectorBody is a Prometheus API answer with one sample per version.
func matrixBody(points string) string {
	return `{"status":"success","data":{"resultType":"matrix","result":[` + points + `]}}`
}

func TestClientSendsWhatPrometheusExpects(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		got.Store(fmt.Sprintf("%s %s query=%s start=%s end=%s step=%s time=%s auth=%s org=%s",
			r.Method, r.URL.Path, r.Form.Get("query"), r.Form.Get("start"), r.Form.Get("end"), r.Form.Get("step"),
			r.Form.Get("time"), r.Header.Get("Authorization"), r.Header.Get("X-Scope-OrgID")))
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "query_range") {
			fmt.Fprint(w, matrixBody(`{"metric":{"destination_version":"v2"},"values":[[600,"12"],[900,"13.5"]]}`))
			return
		}
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"destination_version":"v1"},"value":[600,"7"]}]}}`)
	}))
	defer srv.Close()
	c, err := NewClient(ClientOptions{URL: srv.URL, BearerToken: "s3cret", Headers: map[string]string{"X-Scope-OrgID": "team-a"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		q      Query
		want   string
		points int
	}{
		{
			name:   "range",
			q:      Query{Expr: "up", Start: time.Unix(600, 0), End: time.Unix(900, 0), Step: 5 * time.Minute},
			want:   "POST /api/v1/query_range query=up start=600 end=900 step=300 time= auth=Bearer s3cret org=team-a",
			points: 2,
		},
		{
			name:   "instant",
			q:      Query{Expr: "up", Time: time.Unix(600, 0)},
			want:   "POST /api/v1/query query=up start= end= step= time=600 auth=Bearer s3cret org=team-a",
			points: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			series, err := c.Query(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if g := got.Load().(string); g != tt.want {
				t.Errorf("server received\n  %s\nwant\n  %s", g, tt.want)
			}
			if len(series) != 1 || len(series[0].Points) != tt.points {
				t.Fatalf("series = %+v", series)
			}
		})
	}
}

// faultServer answers every request with a fault, counting requests.
type faultServer struct {
	name     string
	handler  http.HandlerFunc
	down     bool
	wantKind ErrorKind
	// wantAttempts is how many requests the client makes (retries of
	// transient faults: 1 + 2).
	wantAttempts int32
	// wantVerdict is what a gate makes of it when the query "succeeds".
	wantVerdict Verdict
}

func TestPrometheusFaults(t *testing.T) {
	tests := []faultServer{
		{name: "down", down: true, wantKind: ErrUnreachable, wantVerdict: Error},
		{name: "slow", wantKind: ErrTimeout, wantAttempts: 3, wantVerdict: Error, handler: func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()    // read the body, so the server notices the client hanging up
			<-r.Context().Done() // never answers before the client gives up
		}},
		{name: "500", wantKind: ErrServer, wantAttempts: 3, wantVerdict: Error, handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}},
		{name: "bad query", wantKind: ErrBadQuery, wantAttempts: 1, wantVerdict: Error, handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
		}},
		{name: "garbage JSON", wantKind: ErrBadResponse, wantAttempts: 1, wantVerdict: Error, handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `<html>this is a login page`)
		}},
		{name: "empty", wantAttempts: 1, wantVerdict: Inconclusive, handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, matrixBody(""))
		}},
		// NaN counts are impossible data: an Error verdict, which holds.
		{name: "NaN", wantAttempts: 1, wantVerdict: Error, handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, matrixBody(`{"metric":{"destination_version":"v2"},"values":[[600,"NaN"],[900,"NaN"]]},{"metric":{"destination_version":"v1"},"values":[[600,"NaN"],[900,"NaN"]]}`))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				tt.handler(w, r)
			}))
			url := srv.URL
			if tt.down {
				srv.Close()
			} else {
				defer srv.Close()
			}
			var (
				mu    sync.Mutex
				waits []time.Duration
			)
			c, err := NewClient(ClientOptions{URL: url, Timeout: 100 * time.Millisecond, Sleep: func(ctx context.Context, d time.Duration) error {
				mu.Lock() // Observe queries concurrently
				defer mu.Unlock()
				waits = append(waits, d)
				return nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			q := Query{Expr: "up", Start: time.Unix(600, 0), End: time.Unix(900, 0), Step: 5 * time.Minute}
			_, qerr := c.Query(context.Background(), q)
			if !tt.down {
				if n := requests.Load(); n != tt.wantAttempts {
					t.Errorf("server saw %d requests, want %d", n, tt.wantAttempts)
				}
			}
			if tt.wantKind != 0 {
				var qe *QueryError
				if !errors.As(qerr, &qe) || qe.Kind != tt.wantKind {
					t.Fatalf("error %v, want kind %s", qerr, tt.wantKind)
				}
				if qe.Hint() == "" || strings.Contains(qerr.Error(), "s3cret") {
					t.Errorf("error %q: want a hint and no secrets", qerr)
				}
				if qe.Kind.Transient() && len(waits) != 2 || len(waits) == 2 && waits[1] != 2*waits[0] {
					t.Errorf("backoff waits %v, want two, doubling", waits)
				}
			} else if qerr != nil {
				t.Fatalf("unexpected error %v", qerr)
			}

			// Whatever the fault, no gate passes.
			c2 := testCanary(
				spec.Gate{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("1%")},
				spec.Gate{Name: "p99", Type: spec.GateLatency, Max: spec.Q("500ms")},
				spec.Gate{Name: "regression", Type: spec.GateSequential},
			)
			c2.Spec.Analysis.RollbackOn = []spec.Gate{{Name: "panic", Type: spec.GateErrorRate, Max: spec.Q("5%")}}
			st := Stage{Weight: 10, Start: time.Unix(300, 0), Now: time.Unix(900, 0)}
			obs, err := Observe(context.Background(), c, c2, st)
			if err != nil {
				t.Fatal(err)
			}
			r := Judge(c2, st, obs, Options{})
			if r.Verdict != tt.wantVerdict || r.Rollback {
				t.Errorf("report verdict %s rollback %v, want %s and no rollback", r.Verdict, r.Rollback, tt.wantVerdict)
			}
			for _, g := range r.all() {
				if g.Verdict == Pass {
					t.Errorf("gate %s passed on %s", g.Name, tt.name)
				}
				if g.Message == "" {
					t.Errorf("gate %s has no message", g.Name)
				}
			}
		})
	}
}

// The Prometheus client does not use http.DefaultTransport: with it
// refusing every request (as in the locked-down binary) queries still
// reach Prometheus. Not parallel: it swaps the process's default
// transport for its duration.
func TestClientWithTheDefaultTransportRefusing(t *testing.T) {
	saved, savedClient := http.DefaultTransport, http.DefaultClient
	lockdown.ForbidDefaultHTTP()
	t.Cleanup(func() { http.DefaultTransport, http.DefaultClient = saved, savedClient })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[600,"7"]}]}}`)
	}))
	defer srv.Close()
	c, err := NewClient(ClientOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	series, err := c.Query(context.Background(), Query{Expr: "up", Time: time.Unix(600, 0)})
	if err != nil || len(series) != 1 {
		t.Fatalf("series %+v, err %v", series, err)
	}
}
