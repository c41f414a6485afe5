package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/promoter-dev/promoter/internal/spec"
)

// ErrBase marks a base that does not fit the canary's spec (a missing
// route, subset, Deployment or container). The repository needs a human.
var ErrBase = errors.New("the base does not match the canary spec")

// BaseError explains how the base does not match the spec. File, Line and
// Field locate the spec field the problem comes from, when known.
type BaseError struct {
	Canary string
	File   string
	Line   int
	Field  string
	Msg    string
}

func (e *BaseError) Error() string {
	return "canary " + e.Canary + ": " + spec.Problem{File: e.File, Line: e.Line, Field: e.Field, Message: e.Msg}.String()
}
func (e *BaseError) Unwrap() error { return ErrBase }

// emptyComponent stands in for promoter's component while the base is
// inspected. kustomize refuses a kustomization with no fields at all; an
// explicit empty resources list is a component that changes nothing.
var emptyComponent = []byte("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: []\n")

// Base is what the overlay applies without promoter's component: where the
// split route and the containers are, and which images and replica counts
// the humans wrote.
//
// kustomize runs a kustomization's components after its resources and
// generators but before its own transformers (namePrefix, nameSuffix,
// namespace, labels, patches, images, replicas). So a Base knows each
// resource twice: the Target names that promoter's patches select, as the
// component sees them, and the names as finally built, which the checks
// judge.
type Base struct {
	// Kind is the kind of the split route: VirtualService ("" means it),
	// HTTPRoute or GRPCRoute. The VS* fields below name the route of
	// either kind, Route indexes its rules (a VirtualService's HTTP routes)
	// and StableDest and CanaryDest the rule's backendRefs (destinations).
	Kind string
	// VirtualService identity as built.
	VSAPIVersion string
	VSName       string
	VSNamespace  string
	// VSTarget is the VirtualService's name when promoter's component runs.
	VSTarget string
	// Route is the index of the split route in spec.http; RouteName its
	// name ("" when unnamed).
	Route     int
	RouteName string
	// StableDest and CanaryDest index the route's destinations.
	StableDest, CanaryDest int
	StableHost, CanaryHost string
	// StableSubset and CanarySubset are the destinations' subsets ("" in
	// a split by host).
	StableSubset, CanarySubset string

	Stable, Canary Workload

	// StableVersion and CanaryVersion are the version label values the
	// DestinationRule's subsets select ("" when they select none).
	StableVersion, CanaryVersion string

	// Overlay is the overlay's kustomization file; Listed reports whether
	// it lists promoter's component already.
	Overlay string
	Listed  bool

	// Overrides are fields of the overlay applied after promoter's
	// component that undo what it sets.
	Overrides []Override

	// Flag is the ConfigMap of spec.featureFlag (nil without one).
	Flag *Flag

	// baseHTTP holds each HTTP route (Gateway API rule) of the base as
	// encoded YAML, so that Check can prove the other routes are untouched.
	baseHTTP [][]byte
}

// Workload is one Deployment as the base builds it.
type Workload struct {
	Name      string
	Namespace string
	// Target is the Deployment's name when promoter's component runs.
	Target string
	// Selector, when set, is a label selector that tells the Deployment
	// from others whose original name (before a namePrefix or nameSuffix)
	// is Target: kustomize matches a patch target's name against both.
	Selector      string
	Container     int // index of the revision container
	ContainerName string
	Image         string
	Replicas      int32
}

// Inspect builds the canary's overlay without promoter's component (but
// with its components entry, as the first commit adds it) and locates
// everything the component patches. It fails with a *BuildError when the
// overlay does not build and a *BaseError when the base does not match
// the spec. Overlay fields that override the component are returned in
// Base.Overrides.
//
// An overlay whose kustomization applies nothing after its components is
// built once. Otherwise promoter builds the resources as its component
// sees them, then the overlay with a probe component that marks the
// resources it found and sets sentinel weights, image and replicas: what
// survives the overlay's own transformers shows the names as built and
// which of promoter's settings the overlay overrides.
func Inspect(c *spec.Canary, repo fs.FS) (*Base, error) {
	file, data, err := OverlayFile(c, repo)
	if err != nil {
		return nil, &BuildError{Overlay: c.Spec.Overlay, Err: err}
	}
	ref := ComponentRef(c)
	listed, changed, err := addComponent(data, ref)
	if err != nil {
		return nil, &BuildError{Overlay: c.Spec.Overlay, Err: fmt.Errorf("%s: %w", file, err)}
	}
	overrides := Files{path.Join(ComponentDir(c), fileKustomization): emptyComponent}
	if changed {
		overrides[file] = listed
	}
	pre, after, err := preComponent(data, ref)
	if err != nil {
		return nil, &BuildError{Overlay: c.Spec.Overlay, Err: fmt.Errorf("%s: %w", file, err)}
	}
	var (
		preMs []manifest
		b     *Base
	)
	if !after {
		// The overlay applies nothing after its components: it builds
		// what promoter's component sees.
		if preMs, err = buildManifests(repo, c.Spec.Overlay, overrides); err != nil {
			return nil, err
		}
		if b, err = inspect(c, preMs, nil); err != nil {
			return nil, err
		}
		if b.Flag, err = inspectFlag(c, preMs, nil, repo); err != nil {
			return nil, err
		}
		b.Overlay, b.Listed = file, !changed
		if !b.selectTargets(preMs) {
			return b, nil
		}
	} else {
		// The resources as promoter's component sees them.
		if preMs, err = buildManifests(repo, c.Spec.Overlay, Files{file: pre}); err != nil {
			return nil, err
		}
		if b, err = inspect(c, preMs, overlayNaming(data)); err != nil {
			return nil, explainPatched(c, repo, file, data, err)
		}
		if b.Flag, err = inspectFlag(c, preMs, overlayNaming(data), repo); err != nil {
			return nil, err
		}
		b.Overlay, b.Listed = file, !changed
		b.selectTargets(preMs)
	}
	probe, err := probeComponent(c, b)
	if err != nil {
		return nil, err
	}
	for p, d := range probe {
		overrides[p] = d
	}
	ms, err := buildManifests(repo, c.Spec.Overlay, overrides)
	if err != nil {
		return nil, err
	}
	if err := b.finalProbed(c, ms, repo, data); err != nil {
		return nil, err
	}
	return b, nil
}

// explainPatched adds to a missing split destination which field of the
// overlay adds it too late: after promoter's component.
func explainPatched(c *spec.Canary, repo fs.FS, file string, data []byte, err error) error {
	var be *BaseError
	if !errors.As(err, &be) || (be.Field != "spec.subsets.canary" && be.Field != "spec.subsets.stable" && (!c.Spec.GatewayRoute() || !strings.HasPrefix(be.Field, "spec.hosts"))) {
		return err
	}
	line, field := attribute(repo, path.Dir(file), data, ComponentRef(c), c.Spec.RouteKind(), c.Spec.RouteName(), "")
	if field == "" {
		return err
	}
	out := *be
	out.Msg = strings.TrimSuffix(out.Msg, "; add one with weight: 0")
	out.Msg += fmt.Sprintf(" when promoter's component runs; %s:%d: %s changes the %s after it (kustomize applies an overlay's own patches after its components): put the destination in the base's %s, or in a component listed before %s", file, line, field, c.Spec.RouteKind(), c.Spec.RouteKind(), ComponentRef(c))
	return &out
}

func buildManifests(repo fs.FS, overlay string, overrides Files) ([]manifest, error) {
	out, err := Build(repo, overlay, overrides)
	if err != nil {
		return nil, err
	}
	return splitManifests(out)
}

// inspect locates the split route and the Deployments in ms, the resources
// as promoter's component sees them. rename maps a name there to the name
// the overlay builds (nil when they are the same); the spec may use
// either.
func inspect(c *spec.Canary, ms []manifest, rename *naming) (*Base, error) {
	s := &c.Spec
	fail := func(field, format string, args ...any) error {
		return &BaseError{Canary: c.Metadata.Name, File: c.Source.File, Line: c.Source.LineOf(field), Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	var (
		b   *Base
		err error
	)
	if s.GatewayRoute() {
		b, err = inspectGateway(c, ms, rename, fail)
	} else {
		b, err = inspectVirtualService(c, ms, rename, fail)
	}
	if err != nil {
		return nil, err
	}
	ns := s.RouteNamespace()
	if b.Stable, err = workload(ms, s.Deployments.Stable, ns, s.Deployments.Container, rename); err != nil {
		return nil, fail(workloadField(err, "spec.deployments.stable"), "%v", err)
	}
	if b.Canary, err = workload(ms, s.Deployments.Canary, ns, s.Deployments.Container, rename); err != nil {
		return nil, fail(workloadField(err, "spec.deployments.canary"), "%v", err)
	}
	return b, nil
}

// inspectVirtualService locates the split route of the VirtualService in
// ms, its stable and canary destinations and their subsets.
func inspectVirtualService(c *spec.Canary, ms []manifest, rename *naming, fail func(field, format string, args ...any) error) (*Base, error) {
	s := &c.Spec
	m, err := findAs(ms, "networking.istio.io", "VirtualService", s.VirtualService.Name, s.VirtualService.Namespace, rename)
	if err != nil {
		return nil, fail("spec.virtualService.name", "%v", err)
	}
	var vs virtualService
	if err := m.decode(&vs); err != nil {
		return nil, fail("spec.virtualService.name", "VirtualService %s: %v", s.VirtualService.Name, err)
	}
	b := &Base{VSAPIVersion: vs.APIVersion, VSName: vs.Metadata.Name, VSNamespace: vs.Metadata.Namespace, VSTarget: vs.Metadata.Name, Route: -1}
	if h := lookup(m.node, "spec", "http"); h != nil {
		for _, r := range h.Content {
			b.baseHTTP = append(b.baseHTTP, encodeNode(r))
		}
	}

	if s.VirtualService.Route != "" {
		for i, r := range vs.Spec.HTTP {
			if r.Name == s.VirtualService.Route {
				b.Route = i
			}
		}
		if b.Route < 0 {
			return nil, fail("spec.virtualService.route", "VirtualService %s has no HTTP route named %q (routes: %s)", vs.Metadata.Name, s.VirtualService.Route, routeNames(vs))
		}
	} else {
		for i, r := range vs.Spec.HTTP {
			if len(r.Match) == 0 {
				if b.Route >= 0 {
					return nil, fail("spec.virtualService", "VirtualService %s has several HTTP routes without match (routes: %s); name the one to split in spec.virtualService.route", vs.Metadata.Name, routeNames(vs))
				}
				b.Route = i
			}
		}
		if b.Route < 0 {
			return nil, fail("spec.virtualService", "VirtualService %s has no HTTP route without match (routes: %s); name the one to split in spec.virtualService.route", vs.Metadata.Name, routeNames(vs))
		}
	}
	if err := checkReachable(vs, b.Route, s.VirtualService.Route); err != nil {
		return nil, fail("spec.virtualService.route", "%v", err)
	}
	route := vs.Spec.HTTP[b.Route]
	b.RouteName = route.Name
	b.StableDest, b.CanaryDest = -1, -1
	stableHost, canaryHost := s.Host, s.Host
	stableField, canaryField := "spec.subsets.stable", "spec.subsets.canary"
	if s.HostSplit() {
		stableHost, canaryHost = s.Hosts.Stable, s.Hosts.Canary
		stableField, canaryField = "spec.hosts.stable", "spec.hosts.canary"
	}
	for i, d := range route.Route {
		dh, ds := d.Destination.Host, d.Destination.Subset
		switch {
		case b.StableDest < 0 && sameHost(dh, stableHost, vs.Metadata.Namespace) && ds == s.Subsets.Stable:
			b.StableDest, b.StableHost, b.StableSubset = i, dh, ds
		case b.CanaryDest < 0 && sameHost(dh, canaryHost, vs.Metadata.Namespace) && ds == s.Subsets.Canary:
			b.CanaryDest, b.CanaryHost, b.CanarySubset = i, dh, ds
		}
	}
	where := fmt.Sprintf("route %s of VirtualService %s", routeLabel(b), vs.Metadata.Name)
	if b.StableDest < 0 {
		return nil, fail(stableField, "%s has no destination %s (destinations: %s)", where, destLabel(stableHost, s.Subsets.Stable), destinations(route))
	}
	if b.CanaryDest < 0 {
		return nil, fail(canaryField, "%s has no destination %s (destinations: %s); add one with weight: 0", where, destLabel(canaryHost, s.Subsets.Canary), destinations(route))
	}

	if err := checkSubsets(c, ms); err != nil {
		return nil, fail(subsetsField(c, err), "%v", err)
	}
	b.StableVersion, b.CanaryVersion = subsetVersion(c, ms, b.StableHost, b.StableSubset), subsetVersion(c, ms, b.CanaryHost, b.CanarySubset)
	return b, nil
}

func destLabel(host, subset string) string {
	if subset == "" {
		return "with host " + host
	}
	return fmt.Sprintf("with host %s and subset %s", host, subset)
}

func destinations(r httpRoute) string {
	var ds []string
	for _, d := range r.Route {
		if d.Destination.Subset != "" {
			ds = append(ds, d.Destination.Host+" subset "+d.Destination.Subset)
		} else {
			ds = append(ds, d.Destination.Host)
		}
	}
	return listOrNone(ds)
}

// containerError is a Deployment without the spec's container.
type containerError struct{ msg string }

func (e *containerError) Error() string { return e.msg }

func workloadField(err error, field string) string {
	var ce *containerError
	if errors.As(err, &ce) {
		return "spec.deployments.container"
	}
	return field
}

// checkSubsets makes sure a DestinationRule for each destination's host
// defines its subset, since a route to an undefined subset fails every
// request. A split by host without subsets needs none.
func checkSubsets(c *spec.Canary, ms []manifest) error {
	s := &c.Spec
	// hostField and subsetField are the spec fields that name them.
	type want struct{ host, subset, hostField, subsetField string }
	var wants []want
	if s.HostSplit() {
		if s.Subsets.Stable != "" {
			wants = append(wants, want{s.Hosts.Stable, s.Subsets.Stable, "spec.hosts.stable", "spec.subsets.stable"},
				want{s.Hosts.Canary, s.Subsets.Canary, "spec.hosts.canary", "spec.subsets.canary"})
		}
	} else {
		wants = append(wants, want{s.Host, s.Subsets.Stable, "spec.host", "spec.subsets.stable"},
			want{s.Host, s.Subsets.Canary, "spec.host", "spec.subsets.canary"})
	}
	var hosts []string
	rules := map[string]destinationRule{}
	for _, m := range ms {
		if m.Kind != "DestinationRule" || groupOf(m.APIVersion) != "networking.istio.io" {
			continue
		}
		var dr destinationRule
		if err := m.decode(&dr); err != nil {
			return fmt.Errorf("DestinationRule %s: %v", m.Metadata.Name, err)
		}
		hosts = append(hosts, dr.Spec.Host)
		rules[dr.Spec.Host] = dr
	}
	for _, w := range wants {
		var dr *destinationRule
		for h, r := range rules {
			if sameHost(h, w.host, s.VirtualService.Namespace) {
				dr = &r
				break
			}
		}
		if dr == nil {
			return subsetErrorf(w.hostField, "no DestinationRule for host %s in the overlay (found hosts: %s); the subset %s must be defined", w.host, listOrNone(hosts), w.subset)
		}
		have := map[string]bool{}
		var names []string
		for _, sub := range dr.Spec.Subsets {
			have[sub.Name] = true
			names = append(names, sub.Name)
		}
		if !have[w.subset] {
			return subsetErrorf(w.subsetField, "DestinationRule %s (host %s) does not define subset %q (subsets: %s)", dr.Metadata.Name, dr.Spec.Host, w.subset, listOrNone(names))
		}
	}
	return nil
}

// subsetError is a problem of checkSubsets and the spec field it comes
// from.
type subsetError struct{ field, msg string }

func (e *subsetError) Error() string { return e.msg }

func subsetErrorf(field, format string, args ...any) error {
	return &subsetError{field: field, msg: fmt.Sprintf(format, args...)}
}

// subsetVersion is the version label a DestinationRule's subset selects.
func subsetVersion(c *spec.Canary, ms []manifest, host, subset string) string {
	if subset == "" {
		return ""
	}
	for _, m := range ms {
		if m.Kind != "DestinationRule" || groupOf(m.APIVersion) != "networking.istio.io" {
			continue
		}
		var dr destinationRule
		if m.decode(&dr) != nil || !sameHost(dr.Spec.Host, host, c.Spec.VirtualService.Namespace) {
			continue
		}
		for _, s := range dr.Spec.Subsets {
			if s.Name == subset {
				return s.Labels["version"]
			}
		}
	}
	return ""
}

// WithVersions returns c with analysis.versions taken from the version
// labels its DestinationRule's subsets select, when the spec left them to
// their default (the subset names); otherwise c itself. Istio's
// destination_version is the pods' version label, which subsets named
// primary and canary select as, say, v1 and v2.
func WithVersions(c *spec.Canary, b *Base) *spec.Canary {
	v := c.Spec.Analysis.Versions
	if !v.Defaulted || c.Spec.HostSplit() || b.StableVersion == "" || b.CanaryVersion == "" || b.StableVersion == b.CanaryVersion {
		return c
	}
	if v.Stable == b.StableVersion && v.Canary == b.CanaryVersion {
		return c
	}
	cc := *c
	cc.Spec.Analysis.Versions.Stable, cc.Spec.Analysis.Versions.Canary = b.StableVersion, b.CanaryVersion
	return &cc
}

func workload(ms []manifest, name, namespace, container string, rename *naming) (Workload, error) {
	m, err := findAs(ms, "apps", "Deployment", name, namespace, rename)
	if err != nil {
		return Workload{}, err
	}
	var d deployment
	if err := m.decode(&d); err != nil {
		//lint:ignore ST1005 the message starts with the Kubernetes kind, as every other message of the check does
		return Workload{}, fmt.Errorf("Deployment %s: %v", name, err)
	}
	w := Workload{Name: d.Metadata.Name, Namespace: d.Metadata.Namespace, Target: d.Metadata.Name, Container: -1, Replicas: 1}
	if d.Spec.Replicas != nil {
		w.Replicas = *d.Spec.Replicas
	}
	var names []string
	for i, ct := range d.Spec.Template.Spec.Containers {
		names = append(names, ct.Name)
		if ct.Name == container {
			w.Container, w.ContainerName, w.Image = i, ct.Name, ct.Image
		}
	}
	if w.Container < 0 {
		return Workload{}, &containerError{fmt.Sprintf("Deployment %s has no container %q (containers: %s)", name, container, listOrNone(names))}
	}
	return w, nil
}

// sameHost compares Istio hosts, treating a short name and its in-cluster
// FQDN as the same service.
func sameHost(a, b, namespace string) bool {
	short := func(h string) string {
		if n, ok := strings.CutSuffix(h, ".svc.cluster.local"); ok {
			h = n
		}
		if n, ok := strings.CutSuffix(h, "."+namespace); ok && namespace != "" {
			h = n
		}
		return h
	}
	return a == b || short(a) == short(b)
}

func routeNames(vs virtualService) string {
	return ruleNames(vs.Spec.HTTP, func(r httpRoute) string { return r.Name })
}

// ruleNames lists the names of a route's rules (a VirtualService's HTTP
// routes, a Gateway API route's rules), an unnamed one by its index.
func ruleNames[R any](rules []R, name func(R) string) string {
	var names []string
	for i, r := range rules {
		if n := name(r); n != "" {
			names = append(names, n)
		} else {
			names = append(names, fmt.Sprintf("#%d (unnamed)", i))
		}
	}
	return listOrNone(names)
}

func routeLabel(b *Base) string {
	if b.RouteName != "" {
		return b.RouteName
	}
	return fmt.Sprintf("#%d", b.Route)
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
