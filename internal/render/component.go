package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/promoter-dev/promoter/internal/spec"
)

// Result is a rendered and checked stage.
type Result struct {
	Base *Base
	// Files is the whole component: every file promoter owns for the
	// canary, and nil for files of the directory that must be deleted.
	Files Files
	// Manifests is the overlay built with Files: what Argo CD or Flux
	// will apply.
	Manifests []byte
}

// Render inspects the base, renders the component of st and checks that
// the overlay builds with it and applies what st says.
func Render(c *spec.Canary, repo fs.FS, st Stage) (*Result, error) {
	b, err := Inspect(c, repo)
	if err != nil {
		return nil, err
	}
	return RenderOn(c, repo, b, st)
}

// RenderOn is Render over a base the caller has inspected already (on the
// same repo), which saves a build.
func RenderOn(c *spec.Canary, repo fs.FS, b *Base, st Stage) (*Result, error) {
	files, err := Component(c, b, st)
	if err != nil {
		return nil, err
	}
	// Files of an older layout in the directory are deleted.
	if entries, err := fs.ReadDir(repo, ComponentDir(c)); err == nil {
		for _, e := range entries {
			p := path.Join(ComponentDir(c), e.Name())
			if _, ok := files[p]; !ok && !e.IsDir() {
				files[p] = nil
			}
		}
	}
	out, err := Check(c, repo, b, files, st)
	if err != nil {
		return nil, err
	}
	return &Result{Base: b, Files: files, Manifests: out}, nil
}

// patchOp is one JSON 6902 operation.
type patchOp struct {
	Op    string `yaml:"op"`
	Path  string `yaml:"path"`
	Value any    `yaml:"value"`
}

type patchTarget struct {
	Group string `yaml:"group,omitempty"`
	Kind  string `yaml:"kind"`
	Name  string `yaml:"name"`
}

type patchRef struct {
	Path   string      `yaml:"path"`
	Target patchTarget `yaml:"target"`
}

type componentFile struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Patches    []patchRef `yaml:"patches"`
}

type stateFile struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
}

// Component renders the files of st for canary c over base b. It is pure.
func Component(c *spec.Canary, b *Base, st Stage) (Files, error) {
	if st.Weight < 0 || st.Weight > 100 {
		return nil, fmt.Errorf("canary %s: weight %d is outside 0..100", c.Metadata.Name, st.Weight)
	}
	dir := ComponentDir(c)
	vsTarget := patchTarget{Group: "networking.istio.io", Kind: "VirtualService", Name: b.VSName}
	k := componentFile{APIVersion: "kustomize.config.k8s.io/v1alpha1", Kind: "Component"}
	files := Files{}
	add := func(name string, target patchTarget, v any) error {
		data, err := marshal(v)
		if err != nil {
			return err
		}
		files[path.Join(dir, name)] = data
		k.Patches = append(k.Patches, patchRef{Path: name, Target: target})
		return nil
	}

	// The split route's weights, guarded by tests of its name and subsets.
	r := fmt.Sprintf("/spec/http/%d", b.Route)
	var route []patchOp
	if b.RouteName != "" {
		route = append(route, patchOp{"test", r + "/name", b.RouteName})
	}
	dest := func(i int) string { return fmt.Sprintf("%s/route/%d", r, i) }
	route = append(route,
		patchOp{"test", dest(b.StableDest) + "/destination/host", b.StableHost},
		patchOp{"test", dest(b.StableDest) + "/destination/subset", c.Spec.Subsets.Stable},
		patchOp{"test", dest(b.CanaryDest) + "/destination/host", b.CanaryHost},
		patchOp{"test", dest(b.CanaryDest) + "/destination/subset", c.Spec.Subsets.Canary},
		patchOp{"add", dest(b.StableDest) + "/weight", 100 - st.Weight},
		patchOp{"add", dest(b.CanaryDest) + "/weight", st.Weight},
	)
	if err := add(fileRoute, vsTarget, route); err != nil {
		return nil, err
	}

	var state stateFile
	state.APIVersion, state.Kind, state.Metadata.Name = b.VSAPIVersion, "VirtualService", b.VSName
	state.Metadata.Annotations = stateAnnotations(c, b, st)
	if err := add(fileState, vsTarget, state); err != nil {
		return nil, err
	}

	if ops := workloadOps(b.Canary, st.CanaryImage, st.CanaryReplicas); ops != nil {
		if err := add(fileCanaryPatch, patchTarget{Group: "apps", Kind: "Deployment", Name: b.Canary.Name}, ops); err != nil {
			return nil, err
		}
	}
	if ops := workloadOps(b.Stable, st.StableImage, nil); ops != nil {
		if err := add(fileStablePatch, patchTarget{Group: "apps", Kind: "Deployment", Name: b.Stable.Name}, ops); err != nil {
			return nil, err
		}
	}

	data, err := marshal(k)
	if err != nil {
		return nil, err
	}
	files[path.Join(dir, fileKustomization)] = append([]byte(componentHeaderDoc), data...)
	return files, nil
}

func stateAnnotations(c *spec.Canary, b *Base, st Stage) map[string]string {
	a := map[string]string{
		AnnotationCanary:         c.Metadata.Name,
		AnnotationStep:           strconv.Itoa(st.Step),
		AnnotationWeight:         strconv.Itoa(st.Weight),
		AnnotationCanaryRevision: cmpOr(st.CanaryImage, b.Canary.Image),
	}
	if st.SequentialTest != "" {
		a[AnnotationSequentialTest] = st.SequentialTest
	}
	if rb := st.Rollback; rb != nil {
		a[AnnotationRolledBackRevision] = rb.Revision
		a[AnnotationRollbackReason] = rb.Reason
		a[AnnotationRollbackAt] = rb.At.UTC().Format(time.RFC3339)
		a[AnnotationPreviousWeight] = strconv.Itoa(rb.PreviousWeight)
	}
	return a
}

// workloadOps pins a Deployment's image and replicas, guarded by a test of
// the container's name; nil when nothing is pinned.
func workloadOps(w Workload, image string, replicas *int32) []patchOp {
	if image == "" && replicas == nil {
		return nil
	}
	ct := fmt.Sprintf("/spec/template/spec/containers/%d", w.Container)
	ops := []patchOp{{"test", ct + "/name", w.ContainerName}}
	if image != "" {
		ops = append(ops, patchOp{"replace", ct + "/image", image})
	}
	if replicas != nil {
		ops = append(ops, patchOp{"add", "/spec/replicas", *replicas})
	}
	return ops
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
