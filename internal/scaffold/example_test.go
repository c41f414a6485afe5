package scaffold

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite examples/repo from the scaffold")

const exampleDir = "../../examples/repo"

// exampleOptions are the options that produce examples/repo: the same as
// `promoter init --name myapp --namespace canary-demo`.
func exampleOptions() Options {
	return Options{Name: "myapp", Namespace: "canary-demo", Runners: Runners}
}

// TestExampleRepo fails when examples/repo drifts from what init writes.
// go test ./internal/scaffold -run TestExampleRepo -update regenerates it.
func TestExampleRepo(t *testing.T) {
	files, err := Generate(exampleOptions())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.RemoveAll(exampleDir); err != nil {
			t.Fatal(err)
		}
		for p, data := range files {
			target := filepath.Join(exampleDir, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := map[string]bool{}
	err = fs.WalkDir(os.DirFS(exampleDir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		seen[p] = true
		want, ok := files[p]
		if !ok {
			t.Errorf("examples/repo/%s: not written by init; remove it or generate it", p)
			return nil
		}
		got, err := os.ReadFile(filepath.Join(exampleDir, p))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			t.Errorf("examples/repo/%s differs from what init writes (go test ./internal/scaffold -run TestExampleRepo -update):\n--- init\n%s\n--- examples/repo\n%s", p, want, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range files {
		if !seen[p] {
			t.Errorf("examples/repo/%s: missing (go test ./internal/scaffold -run TestExampleRepo -update)", p)
		}
	}
}

// TestGenerateIsDeterministic guards the byte-for-byte comparison above
// against map order and similar accidents.
func TestGenerateIsDeterministic(t *testing.T) {
	o := exampleOptions()
	o.Cookie, o.Regions = true, []string{"us-west-1", "eu_central"}
	first, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, err := Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != len(first) {
			t.Fatalf("%d files, then %d", len(first), len(again))
		}
		for p, data := range first {
			if !bytes.Equal(again[p], data) {
				t.Fatalf("%s differs between two runs", p)
			}
		}
	}
}
