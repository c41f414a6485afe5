package gates

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/creds/credstest"
)

const okVector = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[600,"1"]}]}}`

// The bearer token and X-Scope-OrgID go to the configured Prometheus only:
// a redirect to another host (or another port) is followed without them.
func TestPrometheusCredentialsDoNotFollowARedirect(t *testing.T) {
	var mu sync.Mutex
	var leaked []string
	record := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			for k, vs := range r.Header {
				if v := strings.Join(vs, ","); strings.Contains(v, "SECRET") {
					leaked = append(leaked, fmt.Sprintf("%s got %s: %s", name, k, v))
				}
			}
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, okVector)
		}
	}
	otherHost := credstest.Listen(t, "127.0.0.2:0", record("127.0.0.2"))
	otherPort := credstest.Listen(t, "127.0.0.1:0", record("another port"))
	for _, target := range []string{otherHost.URL, otherPort.URL} {
		var sawAuth bool
		home := credstest.Listen(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sawAuth = r.Header.Get("Authorization") == "Bearer SECRET-TOKEN" && r.Header.Get("X-Scope-OrgID") == "SECRET-TENANT"
			http.Redirect(w, r, target+r.URL.Path, http.StatusTemporaryRedirect)
		}))
		c, err := NewClient(ClientOptions{URL: home.URL, BearerToken: "SECRET-TOKEN", Headers: map[string]string{"X-Scope-OrgID": "SECRET-TENANT"}, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Query(context.Background(), Query{Expr: "up", Time: time.Unix(600, 0)}); err != nil {
			t.Fatalf("redirect to %s: %v", target, err)
		}
		if !sawAuth {
			t.Errorf("the configured Prometheus did not get the credentials")
		}
	}
	if len(leaked) > 0 {
		t.Errorf("credentials followed the redirect:\n%s", strings.Join(leaked, "\n"))
	}
}

// A Prometheus answer over the size limit is a bad response (the gate is
// Error), read no further than the limit.
func TestPrometheusAnswerOverTheLimitIsAnError(t *testing.T) {
	var written int64
	srv := credstest.Listen(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// An endless answer: valid JSON as far as it goes.
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`)
		chunk := strings.Repeat(`{"metric":{"a":"b"},"value":[600,"1"]},`, 1000)
		for i := 0; i < 1<<16; i++ {
			n, err := fmt.Fprint(w, chunk)
			written += int64(n)
			if err != nil {
				return
			}
		}
	}))
	c, err := NewClient(ClientOptions{URL: srv.URL, MaxResponseBytes: 1 << 20, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Query(context.Background(), Query{Expr: "up", Time: time.Unix(600, 0)})
	var qe *QueryError
	if !errors.As(err, &qe) || qe.Kind != ErrBadResponse {
		t.Fatalf("got %v, want a bad response", err)
	}
	if !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("the error does not say why: %v", err)
	}
}

// "result":[null] is a bad response, not a panic.
func TestNullSampleIsABadResponse(t *testing.T) {
	for _, body := range []string{
		`{"status":"success","data":{"resultType":"vector","result":[null]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[null]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":null}}`,
	} {
		srv := credstest.Listen(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, body)
		}))
		c, err := NewClient(ClientOptions{URL: srv.URL, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Query(context.Background(), Query{Expr: "up", Time: time.Unix(600, 0)})
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Kind != ErrBadResponse {
			t.Errorf("%s: got %v, want a bad response", body, err)
		}
	}
}

// A Prometheus URL that does not parse is an error that masks the
// password.
func TestUnparseablePrometheusURLIsRedacted(t *testing.T) {
	for _, u := range []string{"http://u:SECRETPW@127.0.0.1:abc/", "http://u:SECRETPW@h/%zz", "ftp://u:SECRETPW@h/", "http://u:SECRETPW@h/\x01"} {
		_, err := NewClient(ClientOptions{URL: u})
		if err == nil {
			t.Errorf("%q: no error", u)
			continue
		}
		if strings.Contains(err.Error(), "SECRETPW") {
			t.Errorf("%q: %v", u, err)
		}
	}
}
