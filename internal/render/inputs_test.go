package render

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/promoter-dev/promoter/internal/spec"
)

// committedRepo renders step 1 of the example and returns the repository
// as it is once promoter's commit is in, with the base promoter inspected.
func committedRepo(t *testing.T) (fstest.MapFS, *Base) {
	t.Helper()
	c, repo := loadExample(t)
	res, err := Render(c, repo, Stage{Step: 1, Weight: 5})
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range res.Files {
		if data == nil {
			delete(repo, p)
		} else {
			repo[p] = &fstest.MapFile{Data: data}
		}
	}
	return repo, res.Base
}

func recordOn(t *testing.T, repo fstest.MapFS) *Recorded {
	t.Helper()
	c, _ := loadExample(t)
	committed, err := ReadStage(c, repo)
	if err != nil {
		t.Fatal(err)
	}
	r, err := unchanged(c, repo, committed)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The record of a rendered component holds on the tree promoter commits,
// with the base's facts; any change of what the overlay's build reads
// (a file it names, one it reaches through another kustomization, the
// listing of a directory it copies, the Canary spec, promoter's own files)
// voids it, and a change elsewhere does not.
func TestRecordedInputs(t *testing.T) {
	repo, b := committedRepo(t)
	r := recordOn(t, repo)
	if r == nil {
		t.Fatal("the record does not hold on the tree it was rendered for")
	}
	want := Recorded{StableImage: b.Stable.Image, CanaryImage: b.Canary.Image, StableVersion: b.StableVersion, CanaryVersion: b.CanaryVersion, Hash: r.Hash}
	if *r != want {
		t.Errorf("record %+v, want %+v", *r, want)
	}
	c, _ := loadExample(t)
	state := StateFile(c)
	appendTo := func(p, s string) func(fstest.MapFS) {
		return func(m fstest.MapFS) { m[p] = &fstest.MapFile{Data: append([]byte(string(m[p].Data)), s...)} }
	}
	replace := func(p, from, to string) func(fstest.MapFS) {
		return func(m fstest.MapFS) {
			if !strings.Contains(string(m[p].Data), from) {
				t.Fatalf("%s does not contain %q", p, from)
			}
			m[p] = &fstest.MapFile{Data: []byte(strings.Replace(string(m[p].Data), from, to, 1))}
		}
	}
	for _, tc := range []struct {
		name  string
		edit  func(fstest.MapFS)
		holds bool
	}{
		{"a file outside the overlay's roots", appendTo("deploy/README.md", "\nmore\n"), true},
		{"a file of another application", func(m fstest.MapFS) { m["apps/other/base/x.yaml"] = &fstest.MapFile{Data: []byte("a: b\n")} }, true},
		{"the overlay's kustomization", appendTo("apps/myapp/overlays/production/kustomization.yaml", "commonAnnotations: {a: b}\n"), false},
		{"a base file named by the base's kustomization", replace("apps/myapp/base/service.yaml", "8080", "8081"), false},
		{"a file of the second root", appendTo("apps/myapp/monitoring/servicemonitor.yaml", "\n# edited\n"), false},
		{"a new file in a copied directory", func(m fstest.MapFS) { m["apps/myapp/base/new.yaml"] = &fstest.MapFile{Data: []byte("a: b\n")} }, false},
		{"a removed file in a copied directory", func(m fstest.MapFS) { delete(m, "apps/myapp/base/envoyfilter-accesslog.yaml") }, false},
		{"the Canary spec", appendTo("apps/myapp/canary.yaml", "# a comment\n"), false},
		{"promoter's route patch, by hand", appendTo(ComponentDir(c)+"/virtualservice-route.yaml", "# by hand\n"), false},
		{"a new file in promoter's directory", func(m fstest.MapFS) { m[ComponentDir(c)+"/notes.txt"] = &fstest.MapFile{Data: []byte("x")} }, false},
		{"the facts of the record, by hand", replace(state, "stable="+b.Stable.Image, "stable=other:v9"), false},
		{"the hash of the record, by hand", replace(state, r.Hash, "sha256:"+strings.Repeat("1", 64)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := maps.Clone(repo)
			tc.edit(m)
			got := recordOn(t, m)
			if tc.holds && got == nil {
				t.Errorf("the record no longer holds")
			}
			if !tc.holds && got != nil {
				t.Errorf("the record still holds")
			}
		})
	}
}

// A kustomization that starts to list a directory that was there all along
// (but not read) voids the record, and the new directory's files then
// count: editing them voids the record taken after it.
func TestRecordedInputsFollowNewReferences(t *testing.T) {
	repo, _ := committedRepo(t)
	repo["apps/myapp/extra/kustomization.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n")}
	repo["apps/myapp/extra/cm.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: canary-demo}\ndata: {a: b}\n")}
	if recordOn(t, repo) == nil {
		t.Fatal("a directory nothing references voided the record")
	}
	k := "apps/myapp/overlays/production/kustomization.yaml"
	repo[k] = &fstest.MapFile{Data: []byte(strings.Replace(string(repo[k].Data), "  - ../../monitoring\n", "  - ../../monitoring\n  - ../../extra\n", 1))}
	if recordOn(t, repo) != nil {
		t.Fatal("listing a new root did not void the record")
	}
	// Promoter renders again on the new tree: the record holds, and now
	// covers the new root.
	c, _ := loadExample(t)
	res, err := Render(c, repo, Stage{Step: 1, Weight: 5})
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range res.Files {
		repo[p] = &fstest.MapFile{Data: data}
	}
	if recordOn(t, repo) == nil {
		t.Fatal("the record of the new tree does not hold")
	}
	repo["apps/myapp/extra/cm.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: canary-demo}\ndata: {a: c}\n")}
	if recordOn(t, repo) != nil {
		t.Fatal("an edit in the new root did not void the record")
	}
}

// A component written without a record (by an older promoter) holds none:
// the run builds. A record that does not parse is an error naming the
// file and the annotation.
func TestRecordMissingOrMalformed(t *testing.T) {
	repo, _ := committedRepo(t)
	c, _ := loadExample(t)
	committed, err := ReadStage(c, repo)
	if err != nil {
		t.Fatal(err)
	}
	old := *committed
	old.Build = ""
	if r, err := unchanged(c, repo, &old); r != nil || err != nil {
		t.Errorf("no record: got %+v, %v", r, err)
	}
	bad := *committed
	bad.Build = "stable=x"
	_, err = unchanged(c, repo, &bad)
	if err == nil || !strings.Contains(err.Error(), StateFile(c)) || !strings.Contains(err.Error(), AnnotationBuild) {
		t.Errorf("malformed record: %v", err)
	}
}

// The record does not depend on the filesystem the tree is read from: a
// record taken on one holds on another holding the same files (here a
// directory on disk, whose errors for missing paths read differently).
func TestRecordHoldsAcrossFilesystems(t *testing.T) {
	repo, _ := committedRepo(t)
	dir := t.TempDir()
	for p, f := range repo {
		writeFile(t, filepath.Join(dir, filepath.FromSlash(p)), f.Data)
	}
	if recordOn(t, fstest.MapFS(repo)) == nil {
		t.Fatal("the record does not hold on its own tree")
	}
	c, _ := loadExample(t)
	disk := os.DirFS(dir)
	committed, err := ReadStage(c, disk)
	if err != nil {
		t.Fatal(err)
	}
	r, err := unchanged(c, disk, committed)
	if err != nil {
		t.Fatal(err)
	}
	if r == nil {
		t.Fatal("the record taken in memory does not hold on the same files on disk")
	}
}

// The record of promoter's first commit, which creates its directory,
// holds on the tree that commit makes.
func TestRecordOfTheFirstCommit(t *testing.T) {
	c, repo := loadExample(t)
	for p := range repo {
		if strings.HasPrefix(p, "apps/myapp/overlays/production/promoter/") {
			delete(repo, p)
		}
	}
	res, err := Render(c, repo, Stage{})
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range res.Files {
		if data != nil {
			repo[p] = &fstest.MapFile{Data: data}
		}
	}
	if recordOn(t, repo) == nil {
		t.Fatal("the record of the first commit does not hold on the tree it makes")
	}
}

// The kustomize version that records hash is the one promoter builds
// with: go.mod requires it and go.sum holds its hash.
func TestRecordedKustomizeVersion(t *testing.T) {
	version, sum, _ := strings.Cut(kustomizeAPI, " ")
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "\tsigs.k8s.io/kustomize/api "+version+"\n") {
		t.Errorf("go.mod does not require sigs.k8s.io/kustomize/api %s: update kustomizeAPI (and RenderVersion if rendering changes)", version)
	}
	gosum, err := os.ReadFile("../../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gosum), "sigs.k8s.io/kustomize/api "+version+" "+sum+"\n") {
		t.Errorf("go.sum has no %s %s for sigs.k8s.io/kustomize/api: update kustomizeAPI", version, sum)
	}
}

// unchanged reports whether the build recorded in the committed component
// of c still holds on repo: the hash of the build's inputs is the one
// recorded. It returns the record when it holds; nil when the component
// records no build (written by an older promoter, or by hand) or the
// inputs changed. An error means the record or the inputs could not be
// read: the caller builds, and the build reports what is wrong.
func unchanged(c *spec.Canary, repo fs.FS, committed *Committed) (*Recorded, error) {
	if committed == nil || committed.Build == "" {
		return nil, nil
	}
	h, err := InputsHash(c, repo, committed)
	if err != nil {
		return nil, err
	}
	return Holds(committed.Build, h)
}
