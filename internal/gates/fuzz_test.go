package gates

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// FuzzPrometheusAnswer serves arbitrary bytes as every Prometheus answer
// and runs them through the client, Observe and Judge: nothing panics, and
// an answer the client refuses never lets a gate pass.
//
//	go test ./internal/gates -run '^$' -fuzz FuzzPrometheusAnswer -fuzztime 5m -parallel 1
func FuzzPrometheusAnswer(f *testing.F) {
	var body atomic.Value
	body.Store([]byte{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body.Load().([]byte))
	}))
	defer srv.Close()
	c, err := NewClient(ClientOptions{URL: srv.URL, Retries: -1, Timeout: 5 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		okVector,
		matrixBody(`{"metric":{"destination_version":"v2"},"values":[[900,"1"],[1200,"NaN"]]},{"metric":{"destination_version":"v1"},"values":[[900,"-1"]]}`),
		matrixBody(`{"metric":{"destination_version":"v2","le":"+Inf"},"values":[[900,"1e308"]]},{"metric":{"destination_version":"v2","le":"x"},"values":[[900,"+Inf"]]}`),
		`{"status":"success","data":{"resultType":"vector","result":[null]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":null,"values":null}]}}`,
		`{"status":"error","errorType":"bad_data","error":"x"}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}`,
	} {
		f.Add([]byte(seed))
	}
	gates := []spec.Gate{
		{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("2%")},
		{Name: "p99", Type: spec.GateLatency, Quantile: 0.99, Max: spec.Q("300ms")},
		{Name: "count", Type: spec.GateRequestCount, Min: spec.Q("1")},
		{Name: "share", Type: spec.GateTrafficShare, Tolerance: 5},
		{Name: "regression", Type: spec.GateSequential, Alpha: 0.05},
		{Name: "custom", Type: spec.GateCustom, Query: `sum(up{namespace="{{ .Namespace }}"})`, Max: spec.Q("1")},
	}
	st := Stage{Weight: 10, Start: time.Unix(600, 0), Now: time.Unix(1800, 0)}
	f.Fuzz(func(t *testing.T, answer []byte) {
		body.Store(answer)
		_, qerr := c.Query(context.Background(), Query{Expr: "up", Time: time.Unix(900, 0)})
		cn := testCanary(gates...)
		obs, err := Observe(context.Background(), c, cn, st)
		if err != nil {
			t.Fatal(err)
		}
		r := Judge(cn, st, obs, Options{})
		if qerr != nil {
			for _, g := range r.all() {
				if g.Verdict == Pass && g.Type != spec.GateCustom {
					t.Fatalf("gate %s passed on an answer the client refuses (%v): %s", g.Name, qerr, g.Message)
				}
			}
		}
	})
}
