package promote

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
	"github.com/promoter-dev/promoter/internal/render"
)

// The build records a pass saves beside the target branch: a pass that
// writes nothing (dry run) saves nothing; a pass over some canaries keeps
// the others' records; malformed records are reported, cost a build, and
// are replaced; a canary that is gone loses its record. Against a real
// Git server, through whole passes.
func TestBuildRecordsAcrossPasses(t *testing.T) {
	files := exampleFiles(t, "direct", "alpha", "beta")
	h := newHarness(t, files)
	ctx := context.Background()
	overlay := func(name string) string { return "apps/" + name + "/overlays/production/kustomization.yaml" }
	edit := func(name, owner string) {
		t.Helper()
		f := overlay(name)
		files[f] = strings.Replace(files[f], "resources:", "commonAnnotations:\n  owner: "+owner+"\nresources:", 1)
		gittest.CommitFiles(t, h.bare, "main", "annotate "+name, map[string]string{f: files[f]})
	}
	// pass runs one pass over sel's names (all when none) and returns how
	// many builds it ran.
	pass := func(what string, dryRun bool, names ...string) uint64 {
		t.Helper()
		h.now = h.now.Add(10 * time.Minute)
		p, done := h.promoter(ctx, dryRun)
		defer done()
		before := render.BuildCount()
		out, err := p.Run(ctx, Selection{Names: names})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, d := range out.Decisions {
			if d.Err != nil {
				t.Fatalf("%s: %s: %v", what, d.Canary, d.Err)
			}
		}
		return render.BuildCount() - before
	}
	records := func() string {
		t.Helper()
		out, err := gittest.GitErr(h.bare, "show", "refs/promoter/builds/main:records")
		if err != nil {
			return ""
		}
		return out
	}
	line := func(all, name string) string {
		for _, l := range strings.Split(all, "\n") {
			if strings.HasPrefix(l, name+" ") {
				return l
			}
		}
		return ""
	}

	pass("start both", false)
	pass("settle", false)
	edit("alpha", "team-a")
	edit("beta", "team-b")
	if n := pass("both edited", false); n < 2 {
		t.Fatalf("both overlays edited: %d builds, want one per canary at least", n)
	}
	saved := records()
	alpha, beta := line(saved, "alpha"), line(saved, "beta")
	if alpha == "" || beta == "" {
		t.Fatalf("after both built, records:\n%s", saved)
	}
	if n := pass("both held", false); n != 0 {
		t.Fatalf("records saved for both: %d builds, want none", n)
	}

	// A dry run builds what changed and saves nothing.
	edit("alpha", "team-c")
	if n := pass("dry run", true); n == 0 {
		t.Fatalf("alpha edited again: a dry run ran no build")
	}
	if got := records(); got != saved {
		t.Fatalf("a dry run changed the records:\n%s\nwas:\n%s", got, saved)
	}

	// A pass over alpha alone saves alpha's new record and keeps beta's.
	if n := pass("alpha alone", false, "alpha"); n == 0 {
		t.Fatalf("alpha's pass ran no build")
	}
	now := records()
	if a := line(now, "alpha"); a == "" || a == alpha {
		t.Errorf("alpha's record after its own pass = %q (was %q)", a, alpha)
	}
	if b := line(now, "beta"); b != beta {
		t.Errorf("beta's record after alpha's pass = %q, want it kept: %q", b, beta)
	}
	if n := pass("both held again", false); n != 0 {
		t.Fatalf("records hold for both: %d builds, want none", n)
	}

	// Malformed records, pushed by hand.
	gittest.PushRef(t, h.bare, "refs/promoter/builds/main", map[string]string{"records": "alpha\nbeta\n"})
	h.log.Reset()
	if n := pass("malformed records", false); n < 2 {
		t.Fatalf("malformed records: %d builds, want both canaries built", n)
	}
	if !strings.Contains(h.log.String(), "build records ignored") || !strings.Contains(h.log.String(), "records:1") {
		t.Errorf("malformed records not reported with their line:\n%s", h.log.String())
	}
	if got := records(); line(got, "alpha") == "" || line(got, "beta") == "" {
		t.Fatalf("malformed records not replaced:\n%s", got)
	}

	// beta is gone: a pass over every canary drops its record.
	gittest.CommitFiles(t, h.bare, "main", "remove beta", map[string]string{"apps/beta/canary.yaml": ""})
	pass("beta removed", false)
	if got := records(); line(got, "beta") != "" || line(got, "alpha") == "" {
		t.Errorf("after beta's spec was removed, records:\n%s", got)
	}
}
