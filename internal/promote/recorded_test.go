package promote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// A pass over a canary whose component records the build's inputs, and
// none changed, builds nothing; a human edit of anything the build reads
// (the overlay's own kustomization, a file of the base it reaches only
// through the base's kustomization) makes the next pass build and see
// what the edit did; an edit elsewhere does not; and every commit promoter
// pushes is built and checked first, even when the pass that decided it
// built nothing. Against a real Git server, through whole passes.
func TestRecordedBuildIsSkippedUntilAnInputChanges(t *testing.T) {
	hook := &recorder{status: http.StatusNotFound}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	files := withSpec(exampleFiles(t, "direct", "myapp"), "  pullRequests:", "  webhooks:\n    - {name: stop-button, type: rollback, url: "+srv.URL+"/stop}\n  pullRequests:")
	h := newHarness(t, files)
	ctx := context.Background()
	// pass runs one pass and returns its decision and how many builds it ran.
	pass := func(what string) (Decision, uint64) {
		t.Helper()
		h.now = h.now.Add(10 * time.Minute)
		before := render.BuildCount()
		d := h.run(ctx).Decisions[0]
		if d.Err != nil {
			t.Fatalf("%s: %v", what, d.Err)
		}
		return d, render.BuildCount() - before
	}
	edit := func(msg, file, from, to string) {
		t.Helper()
		if !strings.Contains(files[file], from) {
			t.Fatalf("%s does not contain %q", file, from)
		}
		files[file] = strings.Replace(files[file], from, to, 1)
		gittest.CommitFiles(t, h.bare, "main", msg, map[string]string{file: files[file]})
	}

	if d, n := pass("start"); d.Action != ActStart || !d.Landed || n == 0 {
		t.Fatalf("start: %+v after %d builds", d, n)
	}
	if d, n := pass("hold"); d.Action != ActHold || n != 0 {
		t.Fatalf("nothing changed since promoter's commit: want a hold with no build, got %s after %d builds", d.Action, n)
	}

	edit("docs", "deploy/README.md", "\n", "\nA line a human added.\n")
	if d, n := pass("unrelated edit"); d.Action != ActHold || n != 0 {
		t.Fatalf("an edit the build does not read: want a hold with no build, got %s after %d builds", d.Action, n)
	}

	// records is the canary's line in the build records on the server,
	// "" when it has none.
	records := func() string {
		t.Helper()
		out, err := gittest.GitErr(h.bare, "show", "refs/promoter/builds/main:records")
		if err != nil {
			return ""
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "myapp ") {
				return l
			}
		}
		return ""
	}
	if r := records(); r != "" {
		t.Fatalf("no build since promoter's commit, yet the records hold %q", r)
	}

	// The overlay's own kustomization: a build, and nothing to re-render.
	// What the build found is kept beside the branch, so the next pass
	// does not build again; a second edit of the same file does.
	edit("annotate", "apps/myapp/overlays/production/kustomization.yaml", "resources:", "commonAnnotations:\n  owner: team-a\nresources:")
	if d, n := pass("overlay edit"); d.Action != ActHold || n == 0 {
		t.Fatalf("an edit of the overlay's kustomization: want a build, got %s after %d builds", d.Action, n)
	}
	saved := records()
	if !strings.Contains(saved, "stable=myapp:v1.0.0 canary=myapp:v2.0.0 versions=v1,v2 sha256:") {
		t.Fatalf("after a pass that built: want the build's record saved, got %q", saved)
	}
	if d, n := pass("overlay edit, again"); d.Action != ActHold || n != 0 {
		t.Fatalf("the inputs the saved record holds for: want a hold with no build, got %s after %d builds", d.Action, n)
	}
	edit("annotate again", "apps/myapp/overlays/production/kustomization.yaml", "owner: team-a", "owner: team-b")
	if d, n := pass("second overlay edit"); d.Action != ActHold || n == 0 {
		t.Fatalf("an edit after the saved record: want a build, got %s after %d builds", d.Action, n)
	}
	if r := records(); r == saved || r == "" {
		t.Fatalf("after a build on new inputs: want a new record, got %q (was %q)", r, saved)
	}
	if d, n := pass("second overlay edit, again"); d.Action != ActHold || n != 0 {
		t.Fatalf("the inputs the new record holds for: want a hold with no build, got %s after %d builds", d.Action, n)
	}

	// A file of the base that only the base's kustomization names: the
	// split route moves to the front, so the component's patch indexes the
	// wrong route. The pass builds, sees the drift and re-renders.
	vs := "apps/myapp/base/virtualservice.yaml"
	split := files[vs][strings.Index(files[vs], "    # Everyone else"):]
	files[vs] = strings.Replace(files[vs], split, "", 1)
	edit("move the split route first", vs, "  http:\n", "  http:\n"+split)
	d, n := pass("moved route")
	if d.Action != ActRerender || !d.Landed || n == 0 {
		t.Fatalf("a moved route in the base: want a re-render, got %+v after %d builds", d, n)
	}
	if d, n := pass("hold after re-render"); d.Action != ActHold || n != 0 {
		t.Fatalf("after promoter's re-render: want a hold with no build, got %s after %d builds", d.Action, n)
	}
	if r := records(); r != "" {
		t.Fatalf("the re-rendered component records its own build, yet the records still hold %q", r)
	}

	// A change decided by a pass that built nothing is built and checked
	// before it is pushed.
	hook.mu.Lock()
	hook.status = http.StatusOK
	hook.mu.Unlock()
	if d, n := pass("rollback"); d.Action != ActRollback || !d.Landed || n == 0 {
		t.Fatalf("rollback: want a rollback built before it lands, got %+v after %d builds", d, n)
	}
	if d, n := pass("rolled back"); d.Action != ActNone || n != 0 {
		t.Fatalf("after the rollback: want nothing to do and no build, got %+v after %d builds", d, n)
	}
}

// A component rendered anywhere (here in memory, as a tool that prepares a
// repository would) records inputs that hold on the Git tree it is
// committed to: the pass over it builds nothing.
func TestRecordRenderedInMemoryHoldsInGit(t *testing.T) {
	files := exampleFiles(t, "direct", "myapp")
	canary := "apps/myapp/base/deployment-canary.yaml"
	files[canary] = strings.ReplaceAll(files[canary], "myapp:v2.0.0", "myapp:v1.0.0") // idle
	fsys := fstest.MapFS{}
	for p, data := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(data)}
	}
	cs, err := spec.Load(context.Background(), fsys)
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Render(cs[0], fsys, render.Stage{})
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range res.Files {
		if data == nil {
			delete(files, p)
		} else {
			files[p] = string(data)
		}
	}
	h := newHarness(t, files)
	before := render.BuildCount()
	d := h.run(context.Background()).Decisions[0]
	if d.Err != nil || d.Action != ActNone || d.Phase != Idle {
		t.Fatalf("want an idle canary with nothing to do, got %+v", d)
	}
	if n := render.BuildCount() - before; n != 0 {
		t.Errorf("the pass ran %d builds, want none", n)
	}
}
