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
	// Warnings are what a rollback could not do because the overlay
	// overrides it.
	Warnings []string
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
//
// The files include the overlay's kustomization with promoter's
// components entry when it does not list it yet (the first run), so what
// is checked is the tree as it will be after promoter's commit.
//
// A stage that fields of the overlay would undo (Base.Overrides) is
// refused with an *OverrideError, except a rollback: traffic back to
// stable is what matters then, so a rollback only needs the route. Its
// canary replicas stay as the overlay pins them, and Result.Warnings says
// so.
func RenderOn(c *spec.Canary, repo fs.FS, b *Base, st Stage) (*Result, error) {
	var warnings []string
	if len(b.Overrides) > 0 {
		if st.Rollback == nil {
			return nil, &OverrideError{Canary: c.Metadata.Name, Overrides: b.Overrides}
		}
		for _, o := range b.Overrides {
			switch o.Kind {
			case OverrideRoute:
				return nil, &OverrideError{Canary: c.Metadata.Name, Overrides: []Override{o}}
			case OverrideReplicas:
				st.CanaryReplicas = nil
				warnings = append(warnings, fmt.Sprintf("the canary Deployment %s keeps %d replicas as the overlay pins them (%s)", b.Canary.Name, o.Pinned, o.String()))
			case OverrideImage:
				warnings = append(warnings, fmt.Sprintf("the overlay sets the canary's image (%s)", o.String()))
			case OverrideFlag:
				warnings = append(warnings, fmt.Sprintf("the overlay sets the feature flag's ConfigMap (%s)", o.String()))
			}
		}
	}
	// The component records its build's inputs (inputs.go): rendered
	// with a placeholder first, hashed with the tree as it will be, then
	// rendered with the hash.
	st.Build = recordOf(b, hashPlaceholder)
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
	add, err := EnsureComponent(c, repo)
	if err != nil {
		return nil, err
	}
	for p, data := range add {
		files[p] = data
	}
	h, err := inputsHash(c, repo, files, hashPlaceholder)
	if err != nil {
		return nil, err
	}
	st.Build = recordOf(b, h)
	recorded, err := Component(c, b, st)
	if err != nil {
		return nil, err
	}
	for p, data := range recorded {
		files[p] = data
	}
	out, err := Check(c, repo, b, files, st)
	if err != nil {
		return nil, err
	}
	return &Result{Base: b, Files: files, Manifests: out, Warnings: warnings}, nil
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
	// LabelSelector narrows a name that kustomize would also match
	// against another resource's original name (see Workload.Selector).
	LabelSelector string `yaml:"labelSelector,omitempty"`
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
	vsTarget := b.routeTarget()
	cb := newComponent(dir)

	// The split route's weights, guarded by tests of its name and its
	// destinations (a Gateway API rule's backendRefs).
	r := fmt.Sprintf("/spec/%s/%d", b.rulesKey(), b.Route)
	var route []patchOp
	if b.RouteName != "" {
		route = append(route, patchOp{"test", r + "/name", b.RouteName})
	}
	dest := func(i int) string { return fmt.Sprintf("%s/%s/%d", r, b.destsKey(), i) }
	guard := func(i int, host, subset string) {
		if b.gateway() {
			route = append(route, patchOp{"test", dest(i) + "/name", host})
			return
		}
		route = append(route, patchOp{"test", dest(i) + "/destination/host", host})
		if subset != "" || !c.Spec.HostSplit() {
			route = append(route, patchOp{"test", dest(i) + "/destination/subset", subset})
		}
	}
	guard(b.StableDest, b.StableHost, cmpOr(b.StableSubset, c.Spec.Subsets.Stable))
	guard(b.CanaryDest, b.CanaryHost, cmpOr(b.CanarySubset, c.Spec.Subsets.Canary))
	route = append(route,
		patchOp{"add", dest(b.StableDest) + "/weight", 100 - st.Weight},
		patchOp{"add", dest(b.CanaryDest) + "/weight", st.Weight},
	)
	if err := cb.add(routeFileName(c), vsTarget, route); err != nil {
		return nil, err
	}

	var state stateFile
	state.APIVersion, state.Kind, state.Metadata.Name = b.VSAPIVersion, b.kind(), cmpOr(b.VSTarget, b.VSName)
	state.Metadata.Annotations = stateAnnotations(c, b, st)
	if err := cb.add(stateFileName(c), vsTarget, state); err != nil {
		return nil, err
	}

	if ops := workloadOps(b.Canary, st.CanaryImage, st.CanaryReplicas); ops != nil {
		if err := cb.add(fileCanaryPatch, b.Canary.patchTarget(), ops); err != nil {
			return nil, err
		}
	}
	if ops := workloadOps(b.Stable, st.StableImage, nil); ops != nil {
		if err := cb.add(fileStablePatch, b.Stable.patchTarget(), ops); err != nil {
			return nil, err
		}
	}
	ops, err := flagOps(c, b, st)
	if err != nil {
		return nil, err
	}
	if ops != nil {
		if err := cb.add(fileFlag, b.Flag.patchTarget(), ops); err != nil {
			return nil, err
		}
	}

	return cb.finish(componentHeaderDoc)
}

// componentBuilder collects a Component's patch files and its
// kustomization, in the order the patches are added.
type componentBuilder struct {
	dir   string
	k     componentFile
	files Files
}

func newComponent(dir string) *componentBuilder {
	return &componentBuilder{dir: dir, k: componentFile{APIVersion: "kustomize.config.k8s.io/v1alpha1", Kind: "Component"}, files: Files{}}
}

// add writes v as the patch file name applied to target.
func (cb *componentBuilder) add(name string, target patchTarget, v any) error {
	data, err := marshal(v)
	if err != nil {
		return err
	}
	cb.files[path.Join(cb.dir, name)] = data
	cb.k.Patches = append(cb.k.Patches, patchRef{Path: name, Target: target})
	return nil
}

// finish writes the kustomization, after header, and returns every file.
func (cb *componentBuilder) finish(header string) (Files, error) {
	data, err := marshal(cb.k)
	if err != nil {
		return nil, err
	}
	cb.files[path.Join(cb.dir, fileKustomization)] = append([]byte(header), data...)
	return cb.files, nil
}

// routeTarget selects the split route as promoter's component sees it.
func (b *Base) routeTarget() patchTarget {
	return patchTarget{Group: b.group(), Kind: b.kind(), Name: cmpOr(b.VSTarget, b.VSName)}
}

func (w Workload) patchTarget() patchTarget {
	return patchTarget{Group: "apps", Kind: "Deployment", Name: cmpOr(w.Target, w.Name), LabelSelector: w.Selector}
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
	if st.Build != "" {
		a[AnnotationBuild] = st.Build
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
