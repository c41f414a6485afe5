package gates

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// judgedReport returns a report of a real evaluation over the PromQL engine:
// a healthy canary with too few requests for minRequests, and a breached
// trigger.
func judgedReport(t *testing.T) *Report {
	t.Helper()
	q := newEngineQuerier(t, loadText(
		version{name: "v1", requests: 9, errRate: 0.01, buckets: healthyBuckets},
		version{name: "v2", requests: 1, errRate: 0.01, buckets: healthyBuckets},
	))
	c := testCanary(
		spec.Gate{Name: "error-rate", Type: spec.GateErrorRate, Max: spec.Q("2%")},
		spec.Gate{Name: "p99", Type: spec.GateLatency, Max: spec.Q("500ms")},
		spec.Gate{Name: "regression", Type: spec.GateSequential},
	)
	c.Spec.Analysis.MinRequests = 1000
	st := Stage{Weight: 10, Start: epoch.Add(15 * time.Minute), Now: epoch.Add(45 * time.Minute)}
	obs, err := Observe(context.Background(), q, c, st)
	if err != nil {
		t.Fatal(err)
	}
	return Judge(c, st, obs, Options{})
}

func TestReportJSONShape(t *testing.T) {
	r := judgedReport(t)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Verdict string `json:"verdict"`
		Gates   []map[string]any
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if got.Verdict != "inconclusive" {
		t.Errorf("verdict %q, want inconclusive (120 of 1000 requests)", got.Verdict)
	}
	if len(got.Gates) != 3 {
		t.Fatalf("%d gates, want 3", len(got.Gates))
	}
	for _, g := range got.Gates {
		for _, k := range []string{"name", "verdict", "value", "threshold", "samples", "message"} {
			if _, ok := g[k]; !ok {
				t.Errorf("gate %v has no %q", g["name"], k)
			}
		}
	}
	if msg := got.Gates[0]["message"].(string); !strings.HasPrefix(msg, "canary served 120 requests; 1000 needed before this gate can pass") {
		t.Errorf("message %q does not tell how many requests are needed", msg)
	}
}

func TestReportTextAndMarkdown(t *testing.T) {
	r := judgedReport(t)
	var text, md bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"canary web at 10%: INCONCLUSIVE", "query:  sum by (destination_version, pod) ((istio_requests_total{", "1000 needed"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	for _, want := range []string{"| error-rate | gate | ⏳ inconclusive |", "```mermaid\nxychart-beta", "x-axis [\"00:20\", \"00:25\"", "```promql"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown report lacks %q:\n%s", want, md.String())
		}
	}
}
