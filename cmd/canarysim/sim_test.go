package main

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestLastLookEqualsEveryLook checks the shortcut used for runs without
// promotion: one evaluation at the last look finds exactly the look at which
// evaluating every run would first have rolled back.
func TestLastLookEqualsEveryLook(t *testing.T) {
	seq := policies(0.05)[3]
	if !seq.monotone {
		t.Fatalf("policy %s is not the sequential one", seq.Name)
	}
	sc := Scenario{Name: "x1.5", ErrorFactor: 1.5, LatencyFactor: 1, Looks: 30}
	rolled := 0
	for rep := range 40 {
		tr := generate(rand.New(rand.NewPCG(9, uint64(rep))), sc, 1, start)
		want := 0
		for look := 1; look <= sc.Looks; look++ {
			if seq.decideAt(tr, sc, start, look, false) == rollback {
				want = look
				break
			}
		}
		if got := seq.lastLookRollback(tr, sc, start, sc.Looks); got != want {
			t.Fatalf("rep %d: last-look evaluation says look %d, evaluating every look says %d", rep, got, want)
		}
		if want > 0 {
			rolled++
		}
	}
	if rolled == 0 || rolled == 40 {
		t.Errorf("%d of 40 replicates rolled back: the comparison needs both outcomes", rolled)
	}
}

func TestPoissonMoments(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, lam := range []float64{0.3, 4, 25, 900} {
		const n = 20000
		var s, s2 float64
		for range n {
			x := poisson(rng, lam)
			s += x
			s2 += x * x
		}
		mean := s / n
		v := s2/n - mean*mean
		if math.Abs(mean-lam) > 4*math.Sqrt(lam/n) || math.Abs(v/lam-1) > 0.06 {
			t.Errorf("poisson(%g): mean %g, variance %g", lam, mean, v)
		}
	}
}

func TestTrafficMatchesTheModel(t *testing.T) {
	sc := Scenario{Name: "x", ErrorFactor: 2, LatencyFactor: 1, Looks: 4}
	var nc, ns, yc, ys float64
	for rep := range 200 {
		tr := generate(rand.New(rand.NewPCG(3, uint64(rep))), sc, 100, start)
		tl := tr.Tiles[3] // 50%
		nc, ns, yc, ys = nc+tl.Requests.Canary, ns+tl.Requests.Stable, yc+tl.Errors.Canary, ys+tl.Errors.Stable
		if tl.CanaryLatency.Total() != tl.Requests.Canary {
			t.Fatalf("histogram total %g != requests %g", tl.CanaryLatency.Total(), tl.Requests.Canary)
		}
	}
	if math.Abs(nc/ns-1) > 0.01 || math.Abs(yc/nc-0.02) > 0.002 || math.Abs(ys/ns-0.01) > 0.001 {
		t.Errorf("50%% tile: canary %g req %g err, stable %g req %g err", nc, yc, ns, ys)
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# Benchmarks\n\nintro\n\n" + beginMarker + "\nold\n" + endMarker + "\n\n## Other section\n"
	got := replaceSection(doc, "new\n")
	want := "# Benchmarks\n\nintro\n\n" + beginMarker + "\nnew\n" + endMarker + "\n\n## Other section\n"
	if got != want {
		t.Errorf("replaceSection:\n%s\nwant\n%s", got, want)
	}
	if got := replaceSection("# B\n", "x\n"); !strings.HasSuffix(got, beginMarker+"\nx\n"+endMarker+"\n") || !strings.HasPrefix(got, "# B\n") {
		t.Errorf("appending markers: %q", got)
	}
}
