package render

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the expected files of the golden tests")

// goldenStage is one stage rendered in a golden case; its output goes to
// testdata/<case>/expected/<label>/.
type goldenStage struct {
	label string
	stage Stage
	// committed checks the repository as committed instead of rendering.
	committed bool
}

func steps(c int) []goldenStage {
	weights := []int{5, 10, 25, 50, 75}
	out := []goldenStage{{label: "step-0", stage: Stage{}}}
	for i, w := range weights[:c] {
		out = append(out, goldenStage{label: "step-" + string(rune('1'+i)), stage: Stage{Step: i + 1, Weight: w}})
	}
	return out
}

func TestGolden(t *testing.T) {
	rolledBack := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name   string
		input  string
		stages []goldenStage
	}{
		{
			name:  "example",
			input: "../../examples/repo",
			stages: append(steps(5),
				goldenStage{label: "pinned-image", stage: Stage{Step: 1, Weight: 5, CanaryImage: "myapp:v2.1.0", CanaryReplicas: Replicas(2)}},
				goldenStage{label: "promoted", stage: Stage{Step: 6, Weight: 0, StableImage: "myapp:v2.0.0", CanaryReplicas: Replicas(0)}},
				goldenStage{label: "rolled-back", stage: Stage{Step: 0, Weight: 0, CanaryReplicas: Replicas(0), Rollback: &Rollback{
					Revision: "myapp:v2.0.0", Reason: "error-rate 4.1% > 1% for 5 checks", At: rolledBack, PreviousWeight: 25,
				}}},
				goldenStage{label: "as-committed", committed: true},
			),
		},
		{name: "match-routes", input: "testdata/match-routes/input", stages: steps(2)},
		{name: "canary-first", input: "testdata/canary-first/input", stages: steps(2)},
		{name: "moved-route", input: "testdata/moved-route/input", stages: []goldenStage{
			{label: "as-committed", committed: true},
			{label: "rerendered", stage: Stage{}},
		}},
		{name: "no-canary-subset", input: "testdata/no-canary-subset/input", stages: steps(1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			repo := os.DirFS(tc.input)
			cs, err := spec.Load(context.Background(), repo)
			if err != nil {
				t.Fatal(err)
			}
			c := cs[0]
			for _, gs := range tc.stages {
				t.Run(gs.label, func(t *testing.T) {
					got := map[string][]byte{}
					var res *Result
					var err error
					if gs.committed {
						var committed *Committed
						if committed, err = ReadStage(c, repo); err == nil {
							var out []byte
							out, err = Build(repo, c.Spec.Overlay, nil)
							if err == nil {
								var b *Base
								if b, err = Inspect(c, repo); err == nil {
									out, err = Check(c, repo, b, nil, committed.Stage)
								}
							}
							res = &Result{Manifests: out}
						}
					} else {
						res, err = Render(c, repo, gs.stage)
					}
					if err != nil {
						got["error.txt"] = []byte(err.Error() + "\n")
					} else {
						for p, data := range res.Files {
							if data != nil {
								got[strings.TrimPrefix(p, ComponentDir(c)+"/")] = data
							}
						}
						got["build.yaml"] = res.Manifests
					}
					compareDir(t, filepath.Join("testdata", tc.name, "expected", gs.label), got)
				})
			}
		})
	}
}

// compareDir compares got with the files of dir, or rewrites dir with -update.
func compareDir(t *testing.T, dir string, got map[string][]byte) {
	t.Helper()
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for name, data := range got {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := map[string][]byte{}
	err := fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(filepath.Join(dir, p))
		want[path.Clean(p)] = data
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s does not exist; run go test -update and review the result", dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: expected file not produced", name)
		} else if !bytes.Equal(g, data) {
			t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", name, dir, g, data)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: produced but not expected in %s", name, dir)
		}
	}
}
