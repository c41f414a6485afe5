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

// BaseError explains how the base does not match the spec.
type BaseError struct {
	Canary string
	Msg    string
}

func (e *BaseError) Error() string { return fmt.Sprintf("canary %s: %s", e.Canary, e.Msg) }
func (e *BaseError) Unwrap() error { return ErrBase }

// emptyComponent stands in for promoter's component while the base is
// inspected. kustomize refuses a kustomization with no fields at all; an
// explicit empty resources list is a component that changes nothing.
var emptyComponent = []byte("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: []\n")

// Base is what the overlay applies without promoter's component: where the
// split route and the containers are, and which images and replica counts
// the humans wrote.
type Base struct {
	// VirtualService identity as built.
	VSAPIVersion string
	VSName       string
	VSNamespace  string
	// Route is the index of the split route in spec.http; RouteName its
	// name ("" when unnamed).
	Route     int
	RouteName string
	// StableDest and CanaryDest index the route's destinations.
	StableDest, CanaryDest int
	StableHost, CanaryHost string

	Stable, Canary Workload

	// baseHTTP holds each HTTP route of the base as encoded YAML, so that
	// Check can prove the other routes are untouched.
	baseHTTP [][]byte
}

// Workload is one Deployment as the base builds it.
type Workload struct {
	Name          string
	Namespace     string
	Container     int // index of the revision container
	ContainerName string
	Image         string
	Replicas      int32
}

// Inspect builds the canary's overlay without promoter's component and
// locates everything the component patches. It fails with a *BuildError
// when the overlay does not build and a *BaseError when the base does not
// match the spec.
func Inspect(c *spec.Canary, repo fs.FS) (*Base, error) {
	out, err := Build(repo, c.Spec.Overlay, Files{path.Join(ComponentDir(c), fileKustomization): emptyComponent})
	if err != nil {
		return nil, err
	}
	ms, err := splitManifests(out)
	if err != nil {
		return nil, err
	}
	return inspect(c, ms)
}

func inspect(c *spec.Canary, ms []manifest) (*Base, error) {
	fail := func(format string, args ...any) error {
		return &BaseError{Canary: c.Metadata.Name, Msg: fmt.Sprintf(format, args...)}
	}
	s := &c.Spec
	m, err := find(ms, "networking.istio.io", "VirtualService", s.VirtualService.Name, s.VirtualService.Namespace)
	if err != nil {
		return nil, fail("%v", err)
	}
	var vs virtualService
	if err := m.decode(&vs); err != nil {
		return nil, fail("VirtualService %s: %v", s.VirtualService.Name, err)
	}
	b := &Base{VSAPIVersion: vs.APIVersion, VSName: vs.Metadata.Name, VSNamespace: vs.Metadata.Namespace, Route: -1}
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
			return nil, fail("VirtualService %s has no HTTP route named %q (routes: %s)", vs.Metadata.Name, s.VirtualService.Route, routeNames(vs))
		}
	} else {
		for i, r := range vs.Spec.HTTP {
			if len(r.Match) == 0 {
				if b.Route >= 0 {
					return nil, fail("VirtualService %s has several HTTP routes without match; name the one to split in spec.virtualService.route", vs.Metadata.Name)
				}
				b.Route = i
			}
		}
		if b.Route < 0 {
			return nil, fail("VirtualService %s has no HTTP route without match; name the one to split in spec.virtualService.route", vs.Metadata.Name)
		}
	}
	if err := checkReachable(vs, b.Route, s.VirtualService.Route); err != nil {
		return nil, fail("%v", err)
	}
	route := vs.Spec.HTTP[b.Route]
	b.RouteName = route.Name
	b.StableDest, b.CanaryDest = -1, -1
	for i, d := range route.Route {
		if !sameHost(d.Destination.Host, s.Host, vs.Metadata.Namespace) {
			continue
		}
		switch d.Destination.Subset {
		case s.Subsets.Stable:
			b.StableDest, b.StableHost = i, d.Destination.Host
		case s.Subsets.Canary:
			b.CanaryDest, b.CanaryHost = i, d.Destination.Host
		}
	}
	where := fmt.Sprintf("route %s of VirtualService %s", routeLabel(b), vs.Metadata.Name)
	if b.StableDest < 0 {
		return nil, fail("%s has no destination with host %s and subset %s", where, s.Host, s.Subsets.Stable)
	}
	if b.CanaryDest < 0 {
		return nil, fail("%s has no destination with host %s and subset %s; add one with weight: 0", where, s.Host, s.Subsets.Canary)
	}

	if err := checkSubsets(c, ms); err != nil {
		return nil, fail("%v", err)
	}
	if b.Stable, err = workload(ms, s.Deployments.Stable, s.VirtualService.Namespace, s.Deployments.Container); err != nil {
		return nil, fail("%v", err)
	}
	if b.Canary, err = workload(ms, s.Deployments.Canary, s.VirtualService.Namespace, s.Deployments.Container); err != nil {
		return nil, fail("%v", err)
	}
	return b, nil
}

// checkSubsets makes sure a DestinationRule for the host defines both
// subsets, since a route to an undefined subset fails every request.
func checkSubsets(c *spec.Canary, ms []manifest) error {
	var hosts []string
	for _, m := range ms {
		if m.Kind != "DestinationRule" || groupOf(m.APIVersion) != "networking.istio.io" {
			continue
		}
		var dr destinationRule
		if err := m.decode(&dr); err != nil {
			return fmt.Errorf("DestinationRule %s: %v", m.Metadata.Name, err)
		}
		hosts = append(hosts, dr.Spec.Host)
		if !sameHost(dr.Spec.Host, c.Spec.Host, c.Spec.VirtualService.Namespace) {
			continue
		}
		have := map[string]bool{}
		for _, s := range dr.Spec.Subsets {
			have[s.Name] = true
		}
		for _, want := range []string{c.Spec.Subsets.Stable, c.Spec.Subsets.Canary} {
			if !have[want] {
				return fmt.Errorf("DestinationRule %s (host %s) does not define subset %q", dr.Metadata.Name, dr.Spec.Host, want)
			}
		}
		return nil
	}
	return fmt.Errorf("no DestinationRule for host %s in the overlay (found hosts: %s); the subsets %s and %s must be defined", c.Spec.Host, listOrNone(hosts), c.Spec.Subsets.Stable, c.Spec.Subsets.Canary)
}

func workload(ms []manifest, name, namespace, container string) (Workload, error) {
	m, err := find(ms, "apps", "Deployment", name, namespace)
	if err != nil {
		return Workload{}, err
	}
	var d deployment
	if err := m.decode(&d); err != nil {
		return Workload{}, fmt.Errorf("Deployment %s: %v", name, err)
	}
	w := Workload{Name: d.Metadata.Name, Namespace: d.Metadata.Namespace, Container: -1, Replicas: 1}
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
		return Workload{}, fmt.Errorf("Deployment %s has no container %q (containers: %s)", name, container, listOrNone(names))
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
	var names []string
	for i, r := range vs.Spec.HTTP {
		if r.Name == "" {
			names = append(names, fmt.Sprintf("#%d (unnamed)", i))
		} else {
			names = append(names, r.Name)
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
