package gates

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// sampled is a counter series given by its samples, scraped every 15s.
type sampled struct {
	labels string
	from   time.Time
	values []float64
}

// counter returns the samples of a counter from `from` for n scrapes that
// grows by inc a scrape from first (its value at its first scrape), reset
// to zero before scrape resetAt (0: never).
func counter(labels string, from time.Time, n int, first, inc float64, resetAt int) sampled {
	s := sampled{labels: labels, from: from}
	v := first
	for k := range n {
		if k > 0 {
			v += inc
		}
		if resetAt > 0 && k == resetAt {
			v = inc
		}
		s.values = append(s.values, v)
	}
	return s
}

// sparse is a counter that appears with value 1 (its first failure) and
// grows by one every `every` scrapes, as Istio's 5xx series of a mostly
// healthy pod does.
func sparse(labels string, from time.Time, n, every int) sampled {
	s := sampled{labels: labels, from: from}
	for k := range n {
		s.values = append(s.values, float64(1+k/every))
	}
	return s
}

// served returns the requests the counter counted in (a, b]: the sum of its
// increments scraped in the window, a series' first sample counted from
// zero and a reset's first sample as its value.
func (s sampled) served(a, b time.Time) float64 {
	var n, prev float64
	for k, v := range s.values {
		at := s.from.Add(time.Duration(k) * 15 * time.Second)
		inc := v - prev
		if v < prev {
			inc = v
		}
		prev = v
		if at.After(a) && !at.After(b) {
			n += inc
		}
	}
	return n
}

// TestTileCountsMatchServedRequests backfills a real Prometheus with
// request counters that exist from the start, one that appears in the middle
// of a tile (as Istio's 5xx series does with the first error), and one whose
// pod restarted (a counter reset), and checks that the tile counts promoter
// reads match the requests the counters counted.
func TestTileCountsMatchServedRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test; skipped with -short")
	}
	start := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	const n = 2 * 240 // two hours of 15s scrapes
	l := func(version, pod, code string) string {
		return fmt.Sprintf(`reporter="destination",destination_service_namespace="shop",destination_service_name="web",destination_version="%s",pod="%s",response_code="%s"`, version, pod, code)
	}
	late := start.Add(37*time.Minute + 15*time.Second) // inside the tile (35m, 40m]
	series := []sampled{
		counter(l("v1", "web-1", "200"), start, n, 0, 9, 0),
		counter(l("v1", "web-2", "200"), start, n, 0, 9, 4*52+2), // restarts at 52m30s
		counter(l("v2", "web-canary-1", "200"), start, n, 0, 1, 0),
		sparse(l("v2", "web-canary-1", "503"), late, n-4*37-1, 8),
	}
	url := startPrometheusSamples(t, series)
	client, err := NewClient(ClientOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	c := testCanary(spec.Gate{Name: "error-rate", Type: spec.GateErrorRate, Max: spec.Q("50%")})
	st := Stage{Weight: 10, CanaryStart: start.Add(30 * time.Minute), Start: start.Add(30 * time.Minute), Now: start.Add(70 * time.Minute)}
	obs, err := Observe(context.Background(), client, c, st)
	if err != nil {
		t.Fatal(err)
	}
	for f, err := range obs.CanaryTiles.Errs {
		t.Fatalf("%s query failed: %v", f, err)
	}
	if len(obs.CanaryTiles.Tiles) != 8 {
		t.Fatalf("%d tiles, want 8", len(obs.CanaryTiles.Tiles))
	}
	for _, tl := range obs.CanaryTiles.Tiles {
		var want Counts
		var wantErr float64
		for i, s := range series {
			v := s.served(tl.Start, tl.End)
			if i < 2 {
				want.Stable += v
			} else {
				want.Canary += v
			}
			if i == 3 {
				wantErr = v
			}
		}
		within := func(name string, got, want float64) {
			t.Helper()
			if math.Abs(got-want) > 0.03*want+1e-9 {
				t.Errorf("tile ending %s: %s %g, the counters counted %g", tl.End.Sub(start), name, got, want)
			}
		}
		within("stable requests", tl.Requests.Stable, want.Stable)
		within("canary requests", tl.Requests.Canary, want.Canary)
		within("canary errors", tl.Errors.Canary, wantErr)
		if len(tl.StablePods) != 2 {
			t.Errorf("tile ending %s: %d stable pods, want 2", tl.End.Sub(start), len(tl.StablePods))
		}
	}
	// The tile in which the 5xx series appeared counts its first errors.
	if got := obs.CanaryTiles.Tiles[1].Errors.Canary; got != 2 {
		t.Errorf("tile (35m, 40m]: %g canary errors, want the 2 of the new series", got)
	}
}

// startPrometheusSamples backfills the series and starts a server on them.
func startPrometheusSamples(t *testing.T, series []sampled) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "samples.om")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for _, s := range series {
		for k, v := range s.values {
			fmt.Fprintf(w, "istio_requests_total{%s} %g %d\n", s.labels, v, s.from.Add(time.Duration(k)*15*time.Second).Unix())
		}
	}
	fmt.Fprintln(w, "# EOF")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return startPrometheusFile(t, path)
}
