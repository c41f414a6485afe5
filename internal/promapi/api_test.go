package promapi_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/promoter-dev/promoter/internal/promapi"
	"github.com/promoter-dev/promoter/internal/promapi/promapitest"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newServer serves a store holding a counter per version: v1 grows by 10
// and v2 by 1 every 15s for an hour.
func newServer(t *testing.T) (*promapitest.Server, v1.API) {
	t.Helper()
	srv := promapitest.New(t, func() time.Time { return t0.Add(time.Hour) })
	var samples []promapi.Sample
	for i := 0; i <= 240; i++ {
		ts := t0.Add(time.Duration(i) * 15 * time.Second)
		samples = append(samples,
			promapi.Sample{Labels: labels.FromStrings("__name__", "requests_total", "version", "v1"), T: ts, V: float64(10 * i)},
			promapi.Sample{Labels: labels.FromStrings("__name__", "requests_total", "version", "v2"), T: ts, V: float64(i)},
		)
	}
	if err := srv.Store.Append(context.Background(), samples...); err != nil {
		t.Fatal(err)
	}
	c, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return srv, v1.NewAPI(c)
}

func TestInstantQueryThroughClient(t *testing.T) {
	_, prom := newServer(t)
	at := t0.Add(30 * time.Minute)
	v, _, _, err := prom.Query(context.Background(), `sum by (version) (increase(requests_total[5m]))`, at)
	if err != nil {
		t.Fatal(err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		t.Fatalf("result is %T, want a vector", v)
	}
	got := map[string]float64{}
	for _, s := range vec {
		if !s.Timestamp.Time().Equal(at) {
			t.Errorf("timestamp %s, want %s", s.Timestamp.Time(), at)
		}
		got[string(s.Metric["version"])] = float64(s.Value)
	}
	// 20 increments of 10 (v1) and 1 (v2) in 5 minutes, samples aligned
	// with the window: increase extrapolates nothing.
	want := map[string]float64{"v1": 200, "v2": 20}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("increase of %s = %v, want %v (all: %v)", k, got[k], w, got)
		}
	}
}

func TestRangeQueryThroughClient(t *testing.T) {
	_, prom := newServer(t)
	r := v1.Range{Start: t0.Add(10 * time.Minute), End: t0.Add(30 * time.Minute), Step: 5 * time.Minute}
	v, _, _, err := prom.QueryRange(context.Background(), `requests_total{version="v2"}`, r)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := v.(model.Matrix)
	if !ok || len(m) != 1 {
		t.Fatalf("result %v, want a matrix of one series", v)
	}
	if len(m[0].Values) != 5 {
		t.Fatalf("%d points, want 5", len(m[0].Values))
	}
	for i, p := range m[0].Values {
		wantT := r.Start.Add(time.Duration(i) * r.Step)
		wantV := float64(40 + 20*i) // one per 15s
		if !p.Timestamp.Time().Equal(wantT) || float64(p.Value) != wantV {
			t.Errorf("point %d = (%s, %v), want (%s, %v)", i, p.Timestamp.Time(), p.Value, wantT, wantV)
		}
	}
	if m[0].Metric["__name__"] != "requests_total" {
		t.Errorf("metric %v lost its name", m[0].Metric)
	}
}

func TestScalarAndString(t *testing.T) {
	_, prom := newServer(t)
	v, _, _, err := prom.Query(context.Background(), `scalar(requests_total{version="v1"}) * 2`, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := v.(*model.Scalar); !ok || float64(s.Value) != 80 {
		t.Errorf("got %v, want scalar 80", v)
	}
}

// get asks the API directly and returns the status and body.
func get(t *testing.T, srv *promapitest.Server, method, path string, params url.Values) (int, string) {
	t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequest(method, srv.URL+path, strings.NewReader(params.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequest(method, srv.URL+path+"?"+params.Encode(), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestExactJSON(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct {
		name, method, path string
		params             url.Values
		status             int
		body               string
	}{
		{
			name: "vector", method: http.MethodGet, path: "/api/v1/query",
			params: url.Values{"query": {`requests_total{version="v2"} / 8`}, "time": {"1740830610.5"}},
			status: 200,
			body:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"version":"v2"},"value":[1740830610.5,"1.75"]}]}}`,
		},
		{
			name: "vector by POST with RFC 3339 time", method: http.MethodPost, path: "/api/v1/query",
			params: url.Values{"query": {`requests_total{version="v1"}`}, "time": {"2025-03-01T12:01:00Z"}},
			status: 200,
			body:   `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"requests_total","version":"v1"},"value":[1740830460,"40"]}]}}`,
		},
		{
			name: "matrix", method: http.MethodPost, path: "/api/v1/query_range",
			params: url.Values{"query": {`requests_total{version="v2"}`}, "start": {"1740830400"}, "end": {"1740830430"}, "step": {"15s"}},
			status: 200,
			body:   `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"requests_total","version":"v2"},"values":[[1740830400,"0"],[1740830415,"1"],[1740830430,"2"]]}]}}`,
		},
		{
			name: "scalar infinities", method: http.MethodGet, path: "/api/v1/query",
			params: url.Values{"query": {`1/0`}, "time": {"1740830400"}},
			status: 200,
			body:   `{"status":"success","data":{"resultType":"scalar","result":[1740830400,"+Inf"]}}`,
		},
		{
			name: "string", method: http.MethodGet, path: "/api/v1/query",
			params: url.Values{"query": {`"a \"quoted\" word"`}, "time": {"1740830400.25"}},
			status: 200,
			body:   `{"status":"success","data":{"resultType":"string","result":[1740830400.25,"a \"quoted\" word"]}}`,
		},
		{
			name: "empty vector", method: http.MethodGet, path: "/api/v1/query",
			params: url.Values{"query": {`nothing_here`}, "time": {"1740830400"}},
			status: 200,
			body:   `{"status":"success","data":{"resultType":"vector","result":[]}}`,
		},
		{
			name: "parse error", method: http.MethodGet, path: "/api/v1/query",
			params: url.Values{"query": {`sum(`}, "time": {"1740830400"}},
			status: 400,
			body:   `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}`,
		},
		{
			name: "bad time", method: http.MethodGet, path: "/api/v1/query",
			params: url.Values{"query": {`1`}, "time": {"yesterday"}},
			status: 400,
			body:   `{"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp"}`,
		},
		{
			name: "zero step", method: http.MethodGet, path: "/api/v1/query_range",
			params: url.Values{"query": {`1`}, "start": {"1740830400"}, "end": {"1740830430"}, "step": {"0"}},
			status: 400,
			body:   `{"status":"error","errorType":"bad_data","error":"invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"}`,
		},
		{
			name: "end before start", method: http.MethodGet, path: "/api/v1/query_range",
			params: url.Values{"query": {`1`}, "start": {"1740830430"}, "end": {"1740830400"}, "step": {"15"}},
			status: 400,
			body:   `{"status":"error","errorType":"bad_data","error":"invalid parameter \"end\": end timestamp must not be before start time"}`,
		},
		{
			name: "many-to-many is an execution error", method: http.MethodGet, path: "/api/v1/query",
			params: url.Values{"query": {`requests_total + on() requests_total`}, "time": {"1740830460"}},
			status: 422,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, srv, tt.method, tt.path, tt.params)
			if status != tt.status {
				t.Errorf("status %d, want %d (body %s)", status, tt.status, body)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("body\n%s\nwant\n%s", body, tt.body)
			}
			if tt.body == "" && !strings.Contains(body, `"errorType":"execution"`) {
				t.Errorf("body %s, want an execution error", body)
			}
		})
	}
}

func TestInstantQueryDefaultsToTheClock(t *testing.T) {
	srv, _ := newServer(t)
	_, body := get(t, srv, http.MethodGet, "/api/v1/query", url.Values{"query": {`requests_total{version="v2"}`}})
	if !strings.Contains(body, `"value":[1740834000,"240"]`) {
		t.Errorf("body %s, want the sample at the injected clock's time", body)
	}
}

func TestStatusEndpoints(t *testing.T) {
	srv, prom := newServer(t)
	if code, _ := get(t, srv, http.MethodGet, "/-/ready", nil); code != 200 {
		t.Errorf("/-/ready answered %d", code)
	}
	info, err := prom.Buildinfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Version == "" || info.GoVersion == "" {
		t.Errorf("buildinfo %+v lacks a version", info)
	}
}

func TestClientSeesErrorTypes(t *testing.T) {
	_, prom := newServer(t)
	_, _, _, err := prom.Query(context.Background(), `sum(`, t0)
	var ae *v1.Error
	if !errors.As(err, &ae) || ae.Type != v1.ErrBadData {
		t.Errorf("parse error %v, want a bad_data API error", err)
	}
	_, _, _, err = prom.Query(context.Background(), `requests_total + on() requests_total`, t0.Add(time.Minute))
	if !errors.As(err, &ae) || ae.Type != v1.ErrExec {
		t.Errorf("matching error %v, want an execution API error", err)
	}
}

func TestClosedStoreFails(t *testing.T) {
	st := promapi.NewStore()
	ctx := context.Background()
	if err := st.Append(ctx, promapi.Sample{Labels: labels.FromStrings("__name__", "m"), T: t0, V: 1}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, promapi.Sample{Labels: labels.FromStrings("__name__", "m"), T: t0.Add(time.Minute), V: 2}); !errors.Is(err, promapi.ErrClosed) {
		t.Errorf("append after Close: %v, want ErrClosed", err)
	}
	if _, err := st.Querier(0, math.MaxInt64); !errors.Is(err, promapi.ErrClosed) {
		t.Errorf("querier after Close: %v, want ErrClosed", err)
	}
}
