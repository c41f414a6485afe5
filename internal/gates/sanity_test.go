package gates

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// fakeProm answers range queries the way Prometheus does (JSON over HTTP),
// with per-tile values of each version for requests and errors and
// cumulative latency buckets; values are strings so that "NaN" and "+Inf"
// travel as Prometheus sends them.
func fakeProm(t *testing.T, canaryErrors string, canaryBuckets map[string]string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		q := r.Form.Get("query")
		start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
		if step == 0 { // the instant baseline query
			start, end, step = 0, 0, 1
		}
		points := func(v string) [][2]any {
			var out [][2]any
			for ts := start; ts <= end; ts += step {
				out = append(out, [2]any{ts, v})
			}
			return out
		}
		var result []map[string]any
		add := func(labels map[string]string, v string) {
			if r.Form.Get("step") == "" {
				result = append(result, map[string]any{"metric": labels, "value": [2]any{start, v}})
				return
			}
			result = append(result, map[string]any{"metric": labels, "values": points(v)})
		}
		switch {
		case strings.Contains(q, "_bucket"):
			for _, le := range []string{"50", "100", "250", "+Inf"} {
				add(map[string]string{"destination_version": "v1", "le": le}, map[string]string{"50": "800", "100": "880", "250": "895", "+Inf": "900"}[le])
				add(map[string]string{"destination_version": "v2", "le": le}, canaryBuckets[le])
			}
		case strings.Contains(q, "response_code"):
			add(map[string]string{"destination_version": "v1"}, "9")
			add(map[string]string{"destination_version": "v2"}, canaryErrors)
		default:
			add(map[string]string{"destination_version": "v1"}, "900")
			add(map[string]string{"destination_version": "v2"}, "100")
		}
		typ := "matrix"
		if r.Form.Get("step") == "" {
			typ = "vector"
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": typ, "result": result}})
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(ClientOptions{URL: srv.URL, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var healthyCanaryBuckets = map[string]string{"50": "88", "100": "98", "250": "99", "+Inf": "100"}

// Impossible samples never pass and never roll back: every gate that reads
// them is Error, and the message names the query and the sample.
func TestImpossibleDataNeverDecides(t *testing.T) {
	gates := []spec.Gate{
		{Name: "errors", Type: spec.GateErrorRate, Max: spec.Q("2%")},
		{Name: "p99", Type: spec.GateLatency, Quantile: 0.99, Max: spec.Q("300ms")},
		{Name: "regression", Type: spec.GateSequential, Alpha: 0.05},
	}
	st := Stage{Weight: 10, Start: epoch.Add(15 * time.Minute), Now: epoch.Add(45*time.Minute + 20*time.Second)}

	// The healthy answer passes: the fake is good enough to decide on.
	c := testCanary(gates...)
	obs, err := Observe(context.Background(), fakeProm(t, "1", healthyCanaryBuckets), c, st)
	if err != nil {
		t.Fatal(err)
	}
	if r := Judge(c, st, obs, Options{}); r.Gates[0].Verdict != Pass || r.Rollback {
		t.Fatalf("healthy answer: errors gate %s (%s), rollback %v", r.Gates[0].Verdict, r.Gates[0].Message, r.Rollback)
	}

	for _, tt := range []struct {
		name, errors string
		buckets      map[string]string
		gate, want   string
	}{
		{"NaN errors", "NaN", healthyCanaryBuckets, "errors", "a count is NaN"},
		{"infinite errors", "+Inf", healthyCanaryBuckets, "errors", "a count is infinite"},
		{"negative errors", "-5", healthyCanaryBuckets, "errors", "a count is negative"},
		{"errors above requests", "200", healthyCanaryBuckets, "errors", "more errors than the 100 requests"},
		{"falling buckets", "1", map[string]string{"50": "88", "100": "40", "250": "99", "+Inf": "100"}, "p99", "le=100 counts fewer observations than le=50"},
		{"negative bucket", "1", map[string]string{"50": "-88", "100": "98", "250": "99", "+Inf": "100"}, "p99", "a count is negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := testCanary(gates...)
			obs, err := Observe(context.Background(), fakeProm(t, tt.errors, tt.buckets), c, st)
			if err != nil {
				t.Fatal(err)
			}
			r := Judge(c, st, obs, Options{})
			if r.Rollback || r.Verdict == Pass {
				t.Errorf("impossible data decided: verdict %s, rollback %v %v", r.Verdict, r.Rollback, r.RollbackReasons)
			}
			var found bool
			for _, g := range r.Gates {
				if g.Name != tt.gate {
					continue
				}
				found = true
				if g.Verdict != Error {
					t.Errorf("gate %s: %s, want error (%s)", g.Name, g.Verdict, g.Message)
				}
				if !strings.Contains(g.Message, tt.want) || !strings.Contains(g.Message, "query: sum by") || !strings.Contains(g.Message, `destination_version="v2"`) {
					t.Errorf("gate %s: message does not name the query and sample: %s", g.Name, g.Message)
				}
			}
			if !found {
				t.Fatalf("no gate %s", tt.gate)
			}
		})
	}
}

func TestImpossibleDataErrorMessage(t *testing.T) {
	e := &ImpossibleDataError{Family: FamilyErrors, Query: "q", Labels: map[string]string{"b": "2", "a": "1"}, At: epoch, Value: -1, Reason: "a count is negative"}
	want := `impossible errors data (a count is negative): sample {a="1", b="2"} at 1970-01-01T00:00:00Z is -1; query: q`
	if got := e.Error(); got != want {
		t.Errorf("got %s\nwant %s", got, fmt.Sprint(want))
	}
}

// Query templates are text and field substitutions: anything that could
// run long, grow without bound or reach outside is refused before it runs.
func TestCustomQueryTemplatesAreBounded(t *testing.T) {
	tg := TargetOf(testCanary())
	for tmpl, want := range map[string]string{
		`{{ range 100000000000 }}x{{ end }}`:                   "only text and field substitutions",
		`{{ readFile "/etc/passwd" }}`:                         `function "readFile" not defined`,
		`up{namespace="{{ .Nmespace }}"}`:                      "{{ .Nmespace }} is not a field",
		`{{ printf "%0999999999d" 1 }}`:                        "only field substitutions",
		`{{ $x := .Name }}{{ $x }}`:                            "only field substitutions",
		`{{ define "a" }}x{{ end }}{{ template "a" }}`:         "only",
		`{{ if .Name }}x{{ end }}`:                             "only text and field substitutions",
		strings.Repeat("x", maxTemplateBytes+1):                "over the limit",
		strings.Repeat(`{{ .Namespace }}`, 1000):               "",
		`sum(rate(x{ns="{{ .Namespace }}"}[{{ .Interval }}]))`: "",
	} {
		_, err := tg.CustomQuery(tmpl, 5*time.Minute)
		switch {
		case want == "" && err != nil:
			t.Errorf("%.60s: %v", tmpl, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%.60s: got %v, want an error saying %q", tmpl, err, want)
		}
	}
}
