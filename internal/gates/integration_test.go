package gates

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// omSeries is one series of synthetic traffic for the OpenMetrics backfill:
// a counter growing by inc every 15s.
type omSeries struct {
	name, labels string
	inc          float64
}

// writeOpenMetrics writes the series from start for n scrapes of 15s, each
// series' samples together and in time order, as promtool expects.
func writeOpenMetrics(t *testing.T, path string, series []omSeries, start time.Time, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	sort.SliceStable(series, func(i, j int) bool { return series[i].name < series[j].name })
	for _, s := range series {
		for k := range n {
			ts := start.Add(time.Duration(k) * 15 * time.Second)
			fmt.Fprintf(w, "%s{%s} %g %d\n", s.name, s.labels, s.inc*float64(k), ts.Unix())
		}
	}
	fmt.Fprintln(w, "# EOF")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// istioSeries returns the Istio metrics of one version of a service.
func istioSeries(service, version string, perScrape, errRate float64, buckets map[string]float64) []omSeries {
	l := fmt.Sprintf(`reporter="destination",destination_service_namespace="shop",destination_service_name="%s",destination_version="%s"`, service, version)
	out := []omSeries{
		{"istio_requests_total", l + `,response_code="200"`, perScrape * (1 - errRate)},
		{"istio_requests_total", l + `,response_code="503"`, perScrape * errRate},
	}
	for le, f := range buckets {
		out = append(out, omSeries{"istio_request_duration_milliseconds_bucket", l + fmt.Sprintf(`,le="%s"`, le), perScrape * f})
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPrometheus backfills the series into a fresh TSDB with promtool and
// starts a Prometheus server on it, on 127.0.0.1 and a free port. The
// server is killed when the test ends. It returns the server's URL.
func startPrometheus(t *testing.T, series []omSeries, start time.Time, n int) string {
	t.Helper()
	om := filepath.Join(t.TempDir(), "input.om")
	writeOpenMetrics(t, om, series, start, n)
	return startPrometheusFile(t, om)
}

// startPrometheusFile backfills an OpenMetrics file into a fresh TSDB with
// promtool and starts a Prometheus server on it (see startPrometheus).
func startPrometheusFile(t *testing.T, om string) string {
	t.Helper()
	prom, err1 := exec.LookPath("prometheus")
	promtool, err2 := exec.LookPath("promtool")
	if err1 != nil || err2 != nil {
		msg := "prometheus binary not found: install the Debian package prometheus (apt-get install prometheus) to run this integration test against a real Prometheus server"
		if os.Getenv("PROMOTER_REQUIRE_PROMETHEUS") != "" {
			t.Fatal(msg + " (PROMOTER_REQUIRE_PROMETHEUS is set: CI must run it)")
		}
		t.Skip("SKIPPED: " + msg)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", om, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 15s\nscrape_configs: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+data, "--web.listen-address="+addr,
		"--storage.tsdb.retention.time=3650d")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	url := "http://" + addr
	// Wait for readiness: a bounded number of polls, not a timing assertion.
	for i := 0; ; i++ {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if i > 600 {
			log, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("prometheus at %s not ready: %v\n%s", url, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestAgainstRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test; skipped with -short")
	}
	// Two hours of data that ended an hour ago (recent enough for any
	// retention, old enough to be only in backfilled blocks).
	start := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	var series []omSeries
	series = append(series, istioSeries("good", "v1", 9, 0.01, healthyBuckets)...)
	series = append(series, istioSeries("good", "v2", 1, 0.01, healthyBuckets)...)
	series = append(series, istioSeries("bad", "v1", 9, 0.01, healthyBuckets)...)
	series = append(series, istioSeries("bad", "v2", 1, 0.10, slowBuckets)...)
	url := startPrometheus(t, series, start, 2*240)

	client, err := NewClient(ClientOptions{URL: url, Headers: map[string]string{"X-Scope-OrgID": "tenant-1"}})
	if err != nil {
		t.Fatal(err)
	}
	gs := []spec.Gate{
		{Name: "error-rate", Type: spec.GateErrorRate, Max: spec.Q("2%")},
		{Name: "p99", Type: spec.GateLatency, Quantile: 0.99, Max: spec.Q("300ms")},
		{Name: "share", Type: spec.GateTrafficShare},
		{Name: "regression", Type: spec.GateSequential},
	}
	tests := []struct {
		service  string
		want     Verdict
		rollback bool
		gate     map[string]Verdict
	}{
		{service: "good", want: Pass, gate: map[string]Verdict{"error-rate": Pass, "p99": Pass, "share": Pass, "regression": Pass}},
		{service: "bad", want: Fail, rollback: true, gate: map[string]Verdict{"error-rate": Fail, "p99": Fail, "share": Pass, "regression": Fail}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			c := testCanary(gs...)
			c.Spec.Host = tt.service
			c.Spec.Analysis.MinRequests = 150
			// The canary started 30 minutes in; the stage at 10% 20 minutes
			// later; evaluated 95 minutes in (a partial tile at the end).
			st := Stage{Weight: 10, CanaryStart: start.Add(30 * time.Minute), Start: start.Add(50 * time.Minute), Now: start.Add(97 * time.Minute)}
			obs, err := Observe(context.Background(), client, c, st)
			if err != nil {
				t.Fatal(err)
			}
			for _, ts := range []TileSet{obs.CanaryTiles, obs.StageTiles} {
				for f, err := range ts.Errs {
					t.Fatalf("%s query failed: %v", f, err)
				}
			}
			if n := len(obs.CanaryTiles.Tiles); n != 13 {
				t.Errorf("%d canary tiles, want 13 (30m..95m)", n)
			}
			if n := len(obs.StageTiles.Tiles); n != 9 {
				t.Errorf("%d stage tiles, want 9 (50m..95m)", n)
			}
			// increase() over a 5m tile of 15s scrapes: 20 scrapes' worth.
			tile := obs.StageTiles.Tiles[0]
			near(t, "canary requests per tile", tile.Requests.Canary, 20, 1e-6)
			near(t, "stable requests per tile", tile.Requests.Stable, 180, 1e-6)
			if obs.Baseline.Total() <= 0 {
				t.Errorf("no stable latency before the canary started")
			}
			r := Judge(c, st, obs, Options{})
			if r.Verdict != tt.want || r.Rollback != tt.rollback {
				t.Errorf("verdict %s rollback %v, want %s %v: %v", r.Verdict, r.Rollback, tt.want, tt.rollback, r.RollbackReasons)
			}
			for _, g := range r.Gates {
				if g.Verdict != tt.gate[g.Name] {
					t.Errorf("gate %s: %s, want %s (%s)", g.Name, g.Verdict, tt.gate[g.Name], g.Message)
				}
			}
			var text strings.Builder
			if err := r.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			t.Logf("report:\n%s", text.String())
		})
	}
}
