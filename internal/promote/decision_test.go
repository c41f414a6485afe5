package promote

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/spec"
)

func TestJudge(t *testing.T) {
	gate := func(v gates.Verdict, msg string) []gates.GateResult {
		return []gates.GateResult{{Name: "error-rate", Verdict: v, Message: msg}}
	}
	tests := []struct {
		name    string
		report  gates.Report
		elapsed time.Duration
		final   bool
		want    Action
		reason  string
	}{
		{"rollback beats everything, even before the pause", gates.Report{Rollback: true, RollbackReasons: []string{"error-rate 6% > 5%"}, Verdict: gates.Fail}, time.Minute, false, ActRollback, "error-rate 6% > 5%"},
		{"pass before the pause holds", gates.Report{Verdict: gates.Pass}, 10 * time.Minute, false, ActHold, "stage live for 10m0s of its 30m0s pause"},
		{"pass after the pause promotes", gates.Report{Verdict: gates.Pass}, 30 * time.Minute, false, ActPromote, "every gate passed after the 30m0s pause"},
		{"pass at the last step finishes", gates.Report{Verdict: gates.Pass}, time.Hour, true, ActFinish, "every gate passed"},
		{"inconclusive holds", gates.Report{Verdict: gates.Inconclusive, Gates: gate(gates.Inconclusive, "canary served 312 requests; 1000 needed")}, time.Hour, false, ActHold, "canary served 312 requests; 1000 needed"},
		{"error never passes", gates.Report{Verdict: gates.Error, Gates: gate(gates.Error, "query failed")}, time.Hour, false, ActHold, "could not be evaluated"},
		{"fail below the threshold holds", gates.Report{Verdict: gates.Fail, Gates: gate(gates.Fail, "1.5% > 1%")}, time.Hour, true, ActHold, "1.5% > 1%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := judge(&tt.report, tt.elapsed, 30*time.Minute, tt.final)
			if j.action != tt.want {
				t.Errorf("action %s, want %s", j.action, tt.want)
			}
			if !strings.Contains(strings.Join(j.reasons, "\n"), tt.reason) {
				t.Errorf("reasons %q lack %q", j.reasons, tt.reason)
			}
		})
	}
}

func TestStageTimes(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC) }
	commit := func(step int, m int, action gitops.Action) gitops.Commit {
		return gitops.Commit{CommitTime: at(m), Message: gitops.Message{Trailers: gitops.Trailers{Canary: "c", Step: step, Action: action}}}
	}
	// Newest first: a re-render of step 2 at 50 must not restart its clock.
	attempt := []gitops.Commit{
		commit(2, 50, gitops.ActionPromote),
		commit(2, 40, gitops.ActionPromote),
		commit(1, 10, gitops.ActionPromote),
		commit(0, 5, gitops.ActionStart),
	}
	stage, canary := stageTimes(attempt, 2)
	if !stage.Equal(at(40)) || !canary.Equal(at(10)) {
		t.Errorf("stage %s canary %s, want 00:40 and 00:10", stage, canary)
	}
}

// TestClocksOfAHandWrittenStep: a step written by hand (no commit of
// promoter's at it) starts the stage clock at the tip, but the canary keeps
// the attempt's start, so the sequential test is not restarted by a commit.
func TestClocksOfAHandWrittenStep(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC) }
	commit := func(step int, m int) gitops.Commit {
		return gitops.Commit{CommitTime: at(m), Message: gitops.Message{Trailers: gitops.Trailers{Canary: "c", Step: step, Action: gitops.ActionPromote}}}
	}
	attempt := []gitops.Commit{commit(2, 30), commit(1, 10)}
	stage, canary, changes := clocks(attempt, 3, at(45))
	if !stage.Equal(at(45)) || !canary.Equal(at(10)) {
		t.Errorf("hand-written step 3: stage %s canary %s, want 00:45 and 00:10", stage, canary)
	}
	if len(changes) != 2 || !changes[0].Equal(at(30)) || !changes[1].Equal(at(45)) {
		t.Errorf("changes %v, want 00:30 and 00:45", changes)
	}
	stage, canary, _ = clocks(nil, 1, at(45))
	if !stage.Equal(at(45)) || !canary.Equal(at(45)) {
		t.Errorf("no attempt: stage %s canary %s, want both at the tip", stage, canary)
	}
	stage, canary, changes = clocks(attempt, 2, at(45))
	if !stage.Equal(at(30)) || !canary.Equal(at(10)) || len(changes) != 1 || !changes[0].Equal(at(30)) {
		t.Errorf("promoter's step 2: stage %s canary %s changes %v", stage, canary, changes)
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
	b := "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\n"
	got := unifiedDiff("before", "after", a, b, 1)
	want := "--- before\n+++ after\n@@ -3,3 +3,3 @@\n c\n-d\n+D\n e\n@@ -10,1 +10,2 @@\n j\n+k\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if unifiedDiff("x", "y", a, a, 3) != "" {
		t.Error("equal inputs must give an empty diff")
	}
}

func TestShardsAreStableAndCover(t *testing.T) {
	counts := map[int]int{}
	for i := range 1000 {
		name := "app-" + strings.Repeat("x", i%7) + string(rune('a'+i%26))
		k := shardOf(name, 4)
		if k < 1 || k > 4 {
			t.Fatalf("shard %d out of 1..4", k)
		}
		if shardOf(name, 4) != k {
			t.Fatal("shard is not stable")
		}
		counts[k]++
	}
	if len(counts) != 4 {
		t.Errorf("names spread over %d shards, want 4", len(counts))
	}
}

// Shards split the canaries: every canary in exactly one shard.
func TestShardSelection(t *testing.T) {
	files := exampleFiles(t, "direct", "alpha", "beta", "gamma", "delta", "epsilon")
	fsys := fstest.MapFS{}
	for p, data := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(data)}
	}
	p := New(Options{})
	seen := map[string]int{}
	for k := 1; k <= 3; k++ {
		cs, _, err := p.load(context.Background(), fsys, Selection{ShardK: k, ShardN: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			seen[c.Metadata.Name]++
		}
	}
	if len(seen) != 5 {
		t.Errorf("shards cover %d canaries, want 5: %v", len(seen), seen)
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s is in %d shards", name, n)
		}
	}
}

// TestPinSequentialTest: the first step records the sequential test's
// alpha, margins and the latency bounds chosen from stable's hour before the
// start, in the form the gates read back.
func TestPinSequentialTest(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := &spec.Canary{}
	c.Metadata.Name = "web"
	c.Spec.Host = "web"
	c.Spec.Analysis = spec.Analysis{Versions: spec.Versions{Stable: "v1", Canary: "v2"},
		Gates: []spec.Gate{{Name: "regression", Type: spec.GateSequential, Alpha: 0.02, Margin: 1.1}}}
	c.Normalize()
	// Stable's buckets: 1000 requests a tile, 10% above 100ms, 1% above 250ms.
	q := gates.QuerierFunc(func(_ context.Context, qq gates.Query) ([]gates.Series, error) {
		if !strings.Contains(qq.Expr, "duration") {
			return nil, nil
		}
		var out []gates.Series
		for le, v := range map[string]float64{"50": 500, "100": 900, "250": 990, "500": 1000, "+Inf": 1000} {
			s := gates.Series{Labels: map[string]string{"destination_version": "v1", "le": le, "pod": "a"}}
			for at := qq.Start; !at.After(qq.End); at = at.Add(qq.Step) {
				s.Points = append(s.Points, gates.Point{T: at, V: v})
			}
			out = append(out, s)
		}
		return out, nil
	})
	p := New(Options{Querier: q, Clock: func() time.Time { return now }})
	got := p.pinSequentialTest(context.Background(), c)
	pin, err := gates.ParsePinned(got)
	if err != nil {
		t.Fatalf("pinned %q: %v", got, err)
	}
	if pin.Alpha != 0.02 || pin.Margin != 1.1 || !slices.Equal(pin.Bounds, []float64{50, 100, 250}) {
		t.Errorf("pinned %q, want alpha 0.02, margin 1.1, bounds 50,100,250", got)
	}
	failing := gates.QuerierFunc(func(context.Context, gates.Query) ([]gates.Series, error) {
		return nil, errors.New("connection refused")
	})
	if got := New(Options{Querier: failing, Clock: func() time.Time { return now }}).pinSequentialTest(context.Background(), c); got != "" {
		t.Errorf("stable's history unreadable: pinned %q, want nothing", got)
	}
}
