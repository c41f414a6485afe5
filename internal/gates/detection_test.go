package gates

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// TestDetectionThroughRealPrometheus replays canaries whose error rate is 5x
// stable's, at 10 requests/s with the canary at 5%, through a real
// Prometheus holding Istio-shaped counters: per pod and response code,
// scraped every 15s, a 5xx series appearing only with its pod's first
// error. The sequential test must decide from what Prometheus returns
// exactly as it decides from the requests that were served: the counting
// loses nothing (the detection rate against a real server is the
// simulation's, not lower).
func TestDetectionThroughRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test; skipped with -short")
	}
	const (
		canaries = 60
		pods     = 10 // stable's; the canary has one
		scrape   = 15 * time.Second
		rps      = 10.0
		weight   = 0.05
		errRate  = 0.01
	)
	start := time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
	canaryStart := start.Add(time.Hour)
	end := canaryStart.Add(5 * time.Minute)
	steps := int(end.Sub(start) / scrape)
	rng := rand.New(rand.NewPCG(13, 5))
	poisson := func(lam float64) float64 {
		l, k, p := math.Exp(-lam), 0.0, 1.0
		for {
			p *= rng.Float64()
			if p <= l {
				return k
			}
			k++
		}
	}

	dir := t.TempDir()
	om := filepath.Join(dir, "detect.om")
	f, err := os.Create(om)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	truth := make([][]Tile, canaries) // per canary: the baseline hour's tiles, then the canary's
	for c := range canaries {
		svc := fmt.Sprintf("svc-%d", c)
		tiles := make([]Tile, int(end.Sub(start)/(5*time.Minute)))
		for k := range tiles {
			tiles[k] = Tile{Start: start.Add(time.Duration(k) * 5 * time.Minute), End: start.Add(time.Duration(k+1) * 5 * time.Minute)}
			tiles[k].StablePods = make([]PodCounts, pods)
		}
		for pod := range pods + 1 {
			version, name, rate, share := "v1", fmt.Sprintf("%s-stable-%d", svc, pod), errRate, (1-weight)/pods
			if pod == pods {
				version, name, rate, share = "v2", svc+"-canary-0", 5*errRate, weight
			}
			l := fmt.Sprintf(`reporter="destination",destination_service_namespace="shop",destination_service_name="%s",destination_version="%s",pod="%s"`, svc, version, name)
			var ok, bad float64
			var okLines, badLines []string
			for s := range steps {
				at := start.Add(time.Duration(s+1) * scrape)
				mean := rps * scrape.Seconds() * share
				if !at.After(canaryStart) { // before the canary, stable serves everything
					mean = 0
					if version == "v1" {
						mean = rps * scrape.Seconds() / pods
					}
				}
				dok, dbad := poisson(mean*(1-rate)), poisson(mean*rate)
				ok, bad = ok+dok, bad+dbad
				k := int(at.Sub(start.Add(time.Nanosecond)) / (5 * time.Minute))
				tl := &tiles[k]
				if version == "v1" {
					tl.Requests.Stable += dok + dbad
					tl.Errors.Stable += dbad
					tl.StablePods[pod].Requests += dok + dbad
					tl.StablePods[pod].Errors += dbad
				} else {
					tl.Requests.Canary += dok + dbad
					tl.Errors.Canary += dbad
				}
				ts := at.Unix()
				okLines = append(okLines, fmt.Sprintf("istio_requests_total{%s,response_code=\"200\"} %g %d", l, ok, ts))
				if bad > 0 { // Istio creates the 5xx series with the first error
					badLines = append(badLines, fmt.Sprintf("istio_requests_total{%s,response_code=\"503\"} %g %d", l, bad, ts))
				}
			}
			for _, line := range append(okLines, badLines...) {
				fmt.Fprintln(w, line)
			}
		}
		truth[c] = tiles
	}
	fmt.Fprintln(w, "# EOF")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	url := startPrometheusFile(t, om)
	client, err := NewClient(ClientOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}

	caught, caughtTruth, differ := 0, 0, 0
	for c := range canaries {
		cn := testCanary(spec.Gate{Name: "regression", Type: spec.GateSequential})
		cn.Spec.Host = fmt.Sprintf("svc-%d", c)
		cn.Spec.Analysis.Lag = spec.D(time.Minute)
		st := Stage{Weight: 5, Start: canaryStart, CanaryStart: canaryStart, Now: end.Add(time.Minute)}
		obs, err := Observe(context.Background(), client, cn, st)
		if err != nil {
			t.Fatal(err)
		}
		r := Judge(cn, st, obs, Options{})
		n := len(truth[c])
		want := &Observations{BaselineTiles: truth[c][:n-1]}
		want.CanaryTiles.Tiles = truth[c][n-1:]
		want.StageTiles = want.CanaryTiles
		rt := Judge(cn, st, want, Options{})
		if r.Rollback {
			caught++
		}
		if rt.Rollback {
			caughtTruth++
		}
		if r.Rollback != rt.Rollback {
			differ++
			got, exp := obs.CanaryTiles.Tiles, want.CanaryTiles.Tiles
			if len(got) == 1 {
				t.Logf("svc-%d: Prometheus %+v %+v, served %+v %+v", c, got[0].Requests, got[0].Errors, exp[0].Requests, exp[0].Errors)
			}
		}
	}
	t.Logf("x5 errors at 10 req/s, 5%% weight: %d of %d rolled back in the first run through Prometheus, %d from the requests served", caught, canaries, caughtTruth)
	if differ > 0 {
		t.Errorf("%d of %d canaries decided differently through Prometheus than from the requests served", differ, canaries)
	}
	if caught < canaries/3 {
		t.Errorf("only %d of %d x5 canaries caught in the first run", caught, canaries)
	}
}
