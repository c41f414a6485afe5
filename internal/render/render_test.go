package render

import (
	"github.com/promoter-dev/promoter/internal/kustomizetest"
	"maps"

	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"gopkg.in/yaml.v3"

	"github.com/promoter-dev/promoter/internal/spec"
)

func loadExample(t testing.TB) (*spec.Canary, fstest.MapFS) {
	t.Helper()
	repo := fstest.MapFS{}
	root := "../../examples/repo"
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		repo[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := spec.Load(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	return cs[0], repo
}

// builtResource returns the resource of the build output manifests with
// that group, kind, name and namespace ("" for any), failing the test
// when there is none.
func builtResource(t *testing.T, manifests []byte, group, kind, name, namespace string) manifest {
	t.Helper()
	ms, err := splitManifests(manifests)
	if err != nil {
		t.Fatal(err)
	}
	m, err := find(ms, group, kind, name, namespace)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// splitRoute returns the weights of the built canary-route by subset.
func splitRoute(t *testing.T, manifests []byte) map[string]int {
	t.Helper()
	m := builtResource(t, manifests, "networking.istio.io", "VirtualService", "myapp-routing", "")
	var vs virtualService
	if err := m.decode(&vs); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range vs.Spec.HTTP {
		if r.Name != "canary-route" {
			continue
		}
		for _, d := range r.Route {
			out[d.Destination.Subset] = *d.Weight
		}
	}
	return out
}

func TestRenderEveryStepOfTheExample(t *testing.T) {
	c, repo := loadExample(t)
	for i, st := range c.Spec.Steps {
		res, err := Render(c, repo, Stage{Step: i + 1, Weight: st.Weight})
		if err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
		got := splitRoute(t, res.Manifests)
		if got["stable"] != 100-st.Weight || got["canary"] != st.Weight {
			t.Errorf("step %d: weights %v, want stable %d canary %d", i+1, got, 100-st.Weight, st.Weight)
		}
		// What promoter renders, it reads back.
		for p, data := range res.Files {
			repo[p] = &fstest.MapFile{Data: data}
		}
		back, err := ReadStage(c, repo)
		if err != nil {
			t.Fatal(err)
		}
		if back.Step != i+1 || back.Weight != st.Weight || back.CanaryRevision != "myapp:v2.0.0" {
			t.Errorf("read back %+v, want step %d weight %d", back, i+1, st.Weight)
		}
	}
}

func TestReadStageRoundTrip(t *testing.T) {
	c, repo := loadExample(t)
	want := Stage{Step: 6, Weight: 0, CanaryImage: "myapp:v3", StableImage: "myapp:v3", CanaryReplicas: Replicas(0),
		Rollback:       &Rollback{Revision: "myapp:v2", Reason: "p99 too high", PreviousWeight: 50},
		SequentialTest: "alpha=0.05 margin=1 promoteRatio=2 bounds=25,50,100,250"}
	res, err := Render(c, repo, want)
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range res.Files {
		repo[p] = &fstest.MapFile{Data: data}
	}
	got, err := ReadStage(c, repo)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != want.Step || got.CanaryImage != want.CanaryImage || got.StableImage != want.StableImage ||
		got.CanaryReplicas == nil || *got.CanaryReplicas != 0 || got.Rollback == nil ||
		got.Rollback.Revision != "myapp:v2" || got.Rollback.Reason != "p99 too high" || got.Rollback.PreviousWeight != 50 {
		t.Errorf("read back %+v (rollback %+v), want %+v", got, got.Rollback, want)
	}
	if got.CanaryRevision != "myapp:v3" {
		t.Errorf("canary revision %q, want the pinned image", got.CanaryRevision)
	}
	if got.SequentialTest != want.SequentialTest {
		t.Errorf("sequential test %q, want %q", got.SequentialTest, want.SequentialTest)
	}

	delete(repo, ComponentDir(c)+"/"+fileState)
	delete(repo, ComponentDir(c)+"/"+fileKustomization)
	if _, err := ReadStage(c, repo); !errors.Is(err, ErrNoComponent) {
		t.Errorf("without a component: %v, want ErrNoComponent", err)
	}
}

func TestHeaderRoutesUntouched(t *testing.T) {
	c, repo := loadExample(t)
	base, err := Build(repo, c.Spec.Overlay, Files{ComponentDir(c) + "/kustomization.yaml": emptyComponent})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Render(c, repo, Stage{Step: 3, Weight: 25})
	if err != nil {
		t.Fatal(err)
	}
	routes := func(manifests []byte) map[string]string {
		ms, err := splitManifests(manifests)
		if err != nil {
			t.Fatal(err)
		}
		m, err := find(ms, "networking.istio.io", "VirtualService", "myapp-routing", "")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range lookup(m.node, "spec", "http").Content {
			out[lookup(r, "name").Value] = string(encodeNode(r))
		}
		return out
	}
	before, after := routes(base), routes(res.Manifests)
	for _, name := range []string{"canary-header", "beta-users"} {
		if before[name] == "" || before[name] != after[name] {
			t.Errorf("route %s changed:\n%s\n---\n%s", name, before[name], after[name])
		}
	}
	if before["canary-route"] == after["canary-route"] {
		t.Error("canary-route did not change at 25%")
	}
}

// The same overlay built by the kustomize CLI gives identical output.
func TestSameOutputAsKustomizeCLI(t *testing.T) {
	bin := kustomizeCLI(t)
	c, repo := loadExample(t)
	res, err := Render(c, repo, Stage{Step: 3, Weight: 25})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for p, f := range repo {
		writeFile(t, filepath.Join(dir, p), f.Data)
	}
	for p, data := range res.Files {
		writeFile(t, filepath.Join(dir, p), data)
	}
	cmd := exec.Command(bin, "build", filepath.Join(dir, c.Spec.Overlay))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build: %v\n%s", err, stderr.String())
	}
	if !bytes.Equal(out, res.Manifests) {
		t.Errorf("kustomize CLI and promoter disagree:\n--- CLI\n%s\n--- promoter\n%s", out, res.Manifests)
	}
}

// kustomizeCLI finds kustomize v5.8.2 (see kustomizetest.CLI).
func kustomizeCLI(t *testing.T) string { return kustomizetest.CLI(t) }

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBuildRefusesRemoteAndEscapes(t *testing.T) {
	tests := []struct {
		name, kustomization, want string
	}{
		{"remote git base", "resources:\n- github.com/example/repo//base?ref=v1\n", `remote resource "github.com/example/repo//base?ref=v1" is not supported`},
		{"remote url", "resources:\n- https://example.com/all.yaml\n", `remote resource "https://example.com/all.yaml" is not supported`},
		{"escape", "resources:\n- ../../../../outside\n", "leaves the repository"},
		{"file outside root", "resources:\n- ../secret.yaml\n", "'/app/secret.yaml' doesn't exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := fstest.MapFS{
				"app/overlay/kustomization.yaml": {Data: []byte(tt.kustomization)},
				"app/secret.yaml":                {Data: []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")},
			}
			_, err := Build(repo, "app/overlay", nil)
			if !errors.Is(err, ErrBuild) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want a build error containing %q", err, tt.want)
			}
		})
	}
}

func TestCheckCatchesWrongOutput(t *testing.T) {
	c, repo := loadExample(t)
	b, err := Inspect(c, repo)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Component(c, b, Stage{Step: 2, Weight: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Checking the files against a different stage must fail: the check
	// compares what was built with what the stage says.
	// Each problem names the spec's file:line: field: it comes from.
	_, err = Check(c, repo, b, files, Stage{Step: 2, Weight: 25, CanaryImage: "myapp:v9", CanaryReplicas: Replicas(0)})
	var ce *CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a CheckError", err)
	}
	want := []string{
		"apps/myapp/canary.yaml:12: spec.virtualService.route: route canary-route: subset stable has weight 90, want 75",
		"apps/myapp/canary.yaml:12: spec.virtualService.route: route canary-route: subset canary has weight 10, want 25",
		`apps/myapp/canary.yaml:10: spec.virtualService.name: VirtualService myapp-routing: annotation promoter.dev/canary-revision is "myapp:v2.0.0", want "myapp:v9"`,
		`apps/myapp/canary.yaml:10: spec.virtualService.name: VirtualService myapp-routing: annotation promoter.dev/weight is "10", want "25"`,
		`apps/myapp/canary.yaml:15: spec.deployments.canary: Deployment myapp-canary: container myapp has image "myapp:v2.0.0", want "myapp:v9"`,
		"apps/myapp/canary.yaml:15: spec.deployments.canaryReplicas: Deployment myapp-canary: 1 replicas, want 0",
		`apps/myapp/canary.yaml:45: spec.featureFlag.name: ConfigMap feature-flags: flag "myapp-canary" has rollout_percentage 10, want 25`,
	}
	if got := strings.Join(ce.Problems, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("problems\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}

	// A subset the built DestinationRule no longer defines names
	// spec.subsets.canary; a Deployment gone from the output names
	// spec.deployments.stable and lists what is built.
	noSubset := maps.Clone(repo)
	dr := repo["apps/myapp/base/destinationrule.yaml"]
	noSubset["apps/myapp/base/destinationrule.yaml"] = &fstest.MapFile{Data: bytes.Replace(dr.Data, []byte("name: canary"), []byte("name: next"), 1)}
	_, err = Check(c, noSubset, b, files, Stage{Step: 2, Weight: 10})
	if !errors.As(err, &ce) || len(ce.Problems) != 1 ||
		ce.Problems[0] != `apps/myapp/canary.yaml:14: spec.subsets.canary: DestinationRule myapp-destination (host myapp) does not define subset "canary" (subsets: stable, next)` {
		t.Errorf("got %v, want the missing subset at spec.subsets.canary", err)
	}
	gone := *b
	gone.Stable.Name = "myapp-old"
	_, err = Check(c, repo, &gone, files, Stage{Step: 2, Weight: 10})
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.HasPrefix(ce.Problems[0], "apps/myapp/canary.yaml:15: spec.deployments.stable: ") ||
		!strings.Contains(ce.Problems[0], "myapp-stable") {
		t.Errorf("got %v, want the missing Deployment at spec.deployments.stable, listing what is built", err)
	}

	// A typo in the base VirtualService is caught by the Istio schema.
	vs := repo["apps/myapp/base/virtualservice.yaml"]
	repo["apps/myapp/base/virtualservice.yaml"] = &fstest.MapFile{Data: bytes.Replace(vs.Data, []byte("perTryTimeout"), []byte("perTryTimeOut"), 1)}
	_, err = Render(c, repo, Stage{Step: 1, Weight: 5})
	if err == nil || !strings.Contains(err.Error(), "spec.http[2].retries.perTryTimeOut: unknown field") {
		t.Fatalf("got %v, want the unknown field reported", err)
	}
	repo["apps/myapp/base/virtualservice.yaml"] = &fstest.MapFile{Data: bytes.Replace(vs.Data, []byte("attempts: 3"), []byte("attempts: three"), 1)}
	_, err = Render(c, repo, Stage{Step: 1, Weight: 5})
	if err == nil || !strings.Contains(err.Error(), "attempts") {
		t.Fatalf("got %v, want the type error reported", err)
	}
}

func TestEnsureComponent(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "appends to an existing list, keeping comments",
			in:   "# production\nresources:\n- ../../base  # the app\ncomponents:\n- ../../components/tls # keep\n\n# trailing comment\n",
			want: "# production\nresources:\n- ../../base  # the app\ncomponents:\n- ../../components/tls # keep\n- promoter/myapp\n\n# trailing comment\n",
		},
		{
			name: "indented list",
			in:   "resources:\n  - ../../base\ncomponents:\n  - other\n",
			want: "resources:\n  - ../../base\ncomponents:\n  - other\n  - promoter/myapp\n",
		},
		{
			name: "no components yet",
			in:   "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base # base\n",
			want: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base # base\ncomponents:\n  - promoter/myapp\n",
		},
		{
			name: "no trailing newline",
			in:   "resources:\n- ../../base",
			want: "resources:\n- ../../base\ncomponents:\n- promoter/myapp\n",
		},
		{
			name: "already listed",
			in:   "components:\n- ./promoter/myapp\n",
			want: "",
		},
		{
			name: "CRLF line endings and a byte-order mark",
			in:   "\xef\xbb\xbfresources:\r\n  - ../../base # base\r\n",
			want: "\xef\xbb\xbfresources:\r\n  - ../../base # base\r\ncomponents:\r\n  - promoter/myapp\r\n",
		},
		{
			name: "CRLF, appended to a block list",
			in:   "components:\r\n- other\r\nresources:\r\n- ../../base\r\n",
			want: "components:\r\n- other\r\n- promoter/myapp\r\nresources:\r\n- ../../base\r\n",
		},
		{
			name: "flow list keeps its style and comment",
			in:   "resources: [../../base]\ncomponents: [../../components/tls]   # shared\n",
			want: "resources: [../../base]\ncomponents: [../../components/tls, promoter/myapp]   # shared\n",
		},
		{
			name: "empty flow list",
			in:   "resources: [../../base]\ncomponents: []\n",
			want: "resources: [../../base]\ncomponents: [promoter/myapp]\n",
		},
		{
			name: "components key without a value",
			in:   "components:\nresources:\n- ../../base\n",
			want: "components:\n- promoter/myapp\nresources:\n- ../../base\n",
		},
		{
			name: "multi-line last item",
			in:   "components:\n- \"../../components/a\"\n# end\n",
			want: "components:\n- \"../../components/a\"\n- promoter/myapp\n# end\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := addComponent([]byte(tt.in), "promoter/myapp")
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if changed {
					t.Fatalf("changed an overlay that lists the component:\n%s", out)
				}
				return
			}
			if string(out) != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", out, tt.want)
			}
			var v map[string]any
			if err := yaml.Unmarshal(bytes.TrimPrefix(out, []byte("\xef\xbb\xbf")), &v); err != nil {
				t.Errorf("result is not YAML: %v", err)
			}
		})
	}
}

// A kustomization nested in the overlay's directory whose references leave
// it builds (the kustomize CLI builds it too).
func TestBuildNestedRoots(t *testing.T) {
	repo := fstest.MapFS{
		"app/base/kustomization.yaml":           {Data: []byte("resources:\n- cm.yaml\n")},
		"app/base/cm.yaml":                      {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n")},
		"app/overlay/kustomization.yaml":        {Data: []byte("resources:\n- nested\n")},
		"app/overlay/nested/kustomization.yml":  {Data: []byte("resources:\n- ../../base\nnamePrefix: n-\n")},
		"app/overlay/nested/unrelated/data.txt": {Data: []byte("x")},
	}
	out, err := Build(repo, "app/overlay", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "name: n-cm") {
		t.Errorf("got:\n%s", out)
	}
}

// "not found" names what the overlay builds.
func TestNotFoundListsWhatExists(t *testing.T) {
	c, repo := loadExample(t)
	c.Spec.Deployments.Canary = "myapp-nxt"
	_, err := Inspect(c, repo)
	want := "spec.deployments.canary: Deployment canary-demo/myapp-nxt not found in the overlay (Deployments as built: canary-demo/myapp-canary, canary-demo/myapp-stable)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want it to contain %q", err, want)
	}
}
