package scaffold

import (
	"fmt"
	"path"
	"testing/fstest"

	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// Files maps slash paths, relative to the repository root, to contents.
type Files = render.Files

// kustomization is the part of a kustomization.yaml the scaffold writes.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources,omitempty"`
	Components []string `json:"components,omitempty"`
}

func newKustomization(resources ...string) kustomization {
	return kustomization{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization", Resources: resources}
}

// Generate returns every file of a new application described by o (see
// the package documentation), including promoter's component rendered at
// step 0. o is completed with its defaults first.
func Generate(o Options) (Files, error) {
	if err := o.Complete(); err != nil {
		return nil, err
	}
	files := Files{}
	add := func(p string, v any, header string, comments Comments) error {
		data, err := encode(v, header, comments)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		files[p] = data
		return nil
	}
	for _, gen := range []func(*Options, func(string, any, string, Comments) error) error{
		addBase, addMonitoring, addOverlay, addRunners,
	} {
		if err := gen(&o, add); err != nil {
			return nil, err
		}
	}
	c := newCanary(&o)
	data, err := encodeCanary(&o, c)
	if err != nil {
		return nil, err
	}
	files[path.Join(o.appDir(), "canary.yaml")] = data
	if err := addProse(&o, files); err != nil {
		return nil, err
	}

	component, err := renderComponent(files, path.Join(o.appDir(), "canary.yaml"))
	if err != nil {
		return nil, err
	}
	for p, data := range component {
		if data != nil {
			files[p] = data
		}
	}
	return files, nil
}

// renderComponent loads the generated spec as promoter does and renders
// its component at step 0 over the generated files, so that the component
// is byte for byte what promoter itself writes (and is checked the same
// way: built, and validated against the Istio schemas).
func renderComponent(files Files, specFile string) (Files, error) {
	fsys := fstest.MapFS{}
	for p, data := range files {
		fsys[p] = &fstest.MapFile{Data: data, Mode: 0o644}
	}
	cs, err := spec.LoadFile(fsys, specFile)
	if err != nil {
		return nil, fmt.Errorf("the generated canary spec is not valid: %w", err)
	}
	if len(cs) != 1 {
		return nil, fmt.Errorf("%s: want one canary, got %d", specFile, len(cs))
	}
	res, err := render.Render(cs[0], fsys, render.Stage{})
	if err != nil {
		return nil, fmt.Errorf("rendering promoter's component: %w", err)
	}
	return res.Files, nil
}

func addBase(o *Options, add func(string, any, string, Comments) error) error {
	dir := o.baseDir()
	vs, vsComments := newVirtualService(o)
	flags, err := featureFlags(o)
	if err != nil {
		return err
	}
	resources := []struct {
		file     string
		v        any
		comments Comments
	}{
		{"namespace.yaml", namespace(o), nil},
		{"deployment-stable.yaml", deployment(o, o.stableName(), stableVersion, o.Image, 3), nil},
		{"deployment-canary.yaml", deployment(o, o.canaryName(), canaryVersion, o.CanaryImage, 1), nil},
		{"service.yaml", service(o), nil},
		{"destinationrule.yaml", newDestinationRule(o), destinationRuleComments},
		{"virtualservice.yaml", vs, vsComments},
		{"envoyfilter-accesslog.yaml", newEnvoyFilter(o), nil},
		{"feature-flags.yaml", flags, nil},
	}
	if o.hostSplit() {
		resources[3].v, resources[4].v, resources[4].comments = versionServices(o), hostDestinationRules(o), nil
	}
	if o.ambient() {
		route, routeComments := newHTTPRoute(o)
		resources = []struct {
			file     string
			v        any
			comments Comments
		}{
			{"namespace.yaml", ambientNamespace(o), nil},
			{"waypoint.yaml", waypoint(o), nil},
			resources[1], resources[2],
			{"service.yaml", versionServices(o), nil},
			{"httproute.yaml", route, routeComments},
			{"feature-flags.yaml", flags, nil},
		}
	}
	var names []string
	for _, r := range resources {
		if err := add(path.Join(dir, r.file), r.v, "", r.comments); err != nil {
			return err
		}
		names = append(names, r.file)
	}
	return add(path.Join(dir, "kustomization.yaml"), newKustomization(names...), "", nil)
}

func addOverlay(o *Options, add func(string, any, string, Comments) error) error {
	k := newKustomization("../../base", "../../monitoring")
	k.Components = []string{"promoter/" + o.Name}
	return add(path.Join(o.overlayDir(), "kustomization.yaml"), k, "", Comments{
		"resources": "Production overlay for " + o.Name + ". Argo CD / Flux apply this directory.\n" +
			"../../monitoring needs prometheus-operator (PodMonitor, ServiceMonitor, PrometheusRule) in the cluster.",
		"components[0]": "Owned by promoter: the current canary stage (weights, images, replicas).",
	})
}
