package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/promoter-dev/promoter/internal/spec"
)

// ErrCheck marks built manifests that do not apply what the stage says, or
// that Argo CD or Flux would fail to apply. promoter never pushes them.
var ErrCheck = errors.New("built manifests fail promoter's checks")

// CheckError lists what is wrong with the built manifests.
type CheckError struct {
	Canary   string
	Problems []string
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("canary %s: the built overlay is not safe to apply:\n  %s", e.Canary, strings.Join(e.Problems, "\n  "))
}

func (e *CheckError) Unwrap() error { return ErrCheck }

// Check builds the overlay of c with files written over repo and verifies
// that the result is valid and applies st: every Istio VirtualService and
// DestinationRule, and every Gateway API Gateway, HTTPRoute and GRPCRoute,
// validates against its CRD schema; the split route (a Gateway API route's
// split rule) sends 100-w to stable and w to canary and its weights sum to
// 100; every other route (rule) is exactly as in the base; the
// DestinationRule defines both subsets (both backends of a Gateway API
// route are Services of the overlay);
// images and replicas are those st pins (or the base's); the state
// annotations are present. It returns the built manifests.
func Check(c *spec.Canary, repo fs.FS, b *Base, files Files, st Stage) ([]byte, error) {
	out, err := Build(repo, c.Spec.Overlay, files)
	if err != nil {
		return nil, err
	}
	ms, err := splitManifests(out)
	if err != nil {
		return nil, err
	}
	var problems []string
	// Every problem but the schemas' names the spec field it comes from.
	fail := func(field, format string, args ...any) {
		problems = append(problems, specWhere(c, field)+fmt.Sprintf(format, args...))
	}

	for _, m := range ms {
		if validated(m) {
			if err := validateCRD(m); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	if b.gateway() {
		if err := checkBackendServices(c, ms, cmpOr(b.VSNamespace, c.Spec.RouteNamespace())); err != nil {
			fail(err.field, "%s", err.msg)
		}
	} else if err := checkSubsets(c, ms); err != nil {
		fail(subsetsField(c, err), "%v", err)
	}

	nameField := c.Spec.RouteField("name")
	m, err := find(ms, b.group(), b.kind(), b.VSName, b.VSNamespace)
	if err != nil {
		fail(nameField, "%v", err)
		return nil, &CheckError{Canary: c.Metadata.Name, Problems: problems}
	}
	checkRoutes(c, b, m, st, fail)

	for _, k := range sortedKeys(stateAnnotations(c, b, st)) {
		want := stateAnnotations(c, b, st)[k]
		if got := m.Metadata.Annotations[k]; got != want {
			fail(nameField, "%s %s: annotation %s is %q, want %q", b.kind(), b.VSName, k, got, want)
		}
	}

	canaryFail := fail
	if st.Rollback != nil && overridden(b, OverrideImage) {
		canaryFail = func(string, string, ...any) {} // reported as a warning by RenderOn
	}
	checkWorkload(ms, b.Canary, "spec.deployments.canary", cmpOr(st.CanaryImage, b.Canary.Image), st.CanaryReplicas, canaryFail)
	checkWorkload(ms, b.Stable, "spec.deployments.stable", cmpOr(st.StableImage, b.Stable.Image), nil, fail)
	if !(st.Rollback != nil && overridden(b, OverrideFlag)) {
		checkFlag(c, b, ms, st, fail)
	}

	if len(problems) > 0 {
		return nil, &CheckError{Canary: c.Metadata.Name, Problems: problems}
	}
	return out, nil
}

// versionLabel names a destination of the split route in messages.
func versionLabel(c *spec.Canary, subset, host string) string {
	if c.Spec.GatewayRoute() {
		return "backendRef " + host
	}
	if c.Spec.HostSplit() && subset == "" {
		return "host " + host
	}
	return "subset " + subset
}

// specWhere is the prefix of a problem that comes from the spec field at
// path: "canary.yaml:12: spec.deployments.canary: ".
func specWhere(c *spec.Canary, field string) string {
	var b strings.Builder
	if c.Source.File != "" {
		b.WriteString(c.Source.File)
		if l := c.Source.LineOf(field); l > 0 {
			fmt.Fprintf(&b, ":%d", l)
		}
		b.WriteString(": ")
	}
	b.WriteString(field + ": ")
	return b.String()
}

// subsetsField is the spec field a problem of checkSubsets comes from.
func subsetsField(c *spec.Canary, err error) string {
	var se *subsetError
	if errors.As(err, &se) {
		return se.field
	}
	return "spec.subsets"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func overridden(b *Base, k OverrideKind) bool {
	for _, o := range b.Overrides {
		if o.Kind == k {
			return true
		}
	}
	return false
}

// validated reports whether Check validates m against a CRD schema:
// Istio's VirtualServices and DestinationRules, and the Gateway API's
// Gateways, HTTPRoutes and GRPCRoutes.
func validated(m manifest) bool {
	switch groupOf(m.APIVersion) {
	case "networking.istio.io":
		return m.Kind == "VirtualService" || m.Kind == "DestinationRule"
	case spec.GatewayAPIGroup:
		return m.Kind == "Gateway" || m.Kind == spec.KindHTTPRoute || m.Kind == spec.KindGRPCRoute
	}
	return false
}

func checkRoutes(c *spec.Canary, b *Base, m manifest, st Stage, fail func(string, string, ...any)) {
	field := c.Spec.RouteField("route")
	kind, word := b.kind(), b.ruleWord()
	vs, err := decodeRoute(m, kind)
	if err != nil {
		fail(field, "%s %s: %v", kind, b.VSName, err)
		return
	}
	if b.Route >= len(vs.Rules) {
		fail(field, "%s %s: the split %s #%d is gone", kind, b.VSName, word, b.Route)
		return
	}
	route := vs.Rules[b.Route]
	if route.Name != b.RouteName {
		fail(field, "%s %s: %s #%d is %q, want %q", kind, b.VSName, word, b.Route, route.Name, b.RouteName)
	}
	sum := 0
	for i, d := range route.Dests {
		w := b.weightOf(d, len(route.Dests))
		switch i {
		case b.StableDest:
			if w != 100-st.Weight {
				fail(field, "%s %s: %s has weight %d, want %d", word, routeLabel(b), versionLabel(c, c.Spec.Subsets.Stable, b.StableHost), w, 100-st.Weight)
			}
		case b.CanaryDest:
			if w != st.Weight {
				fail(field, "%s %s: %s has weight %d, want %d", word, routeLabel(b), versionLabel(c, c.Spec.Subsets.Canary, b.CanaryHost), w, st.Weight)
			}
		default:
			if b.gateway() && w != 0 {
				// Gateway API splits by the ratio of every backendRef's
				// weight: a third backend takes its share.
				fail(field, "%s %s: backendRef #%d (%s) has weight %d (a backendRef without weight has 1), so stable and canary do not get the committed shares; give it weight: 0 or move it to a rule of its own", word, routeLabel(b), i, d.Host, w)
			}
		}
		sum += w
	}
	if sum != 100 {
		fail(field, "%s %s: weights sum to %d, not 100", word, routeLabel(b), sum)
	}
	// Every other route must be exactly as the humans wrote it.
	httpNode := lookup(m.node, "spec", b.rulesKey())
	if httpNode == nil || b.baseHTTP == nil {
		return
	}
	for i := range httpNode.Content {
		if i == b.Route || i >= len(b.baseHTTP) {
			continue
		}
		if got := encodeNode(httpNode.Content[i]); !bytes.Equal(got, b.baseHTTP[i]) {
			fail(field, "%s %s: %s #%d changed although promoter only patches %s %s", kind, b.VSName, word, i, word, routeLabel(b))
		}
	}
	if len(httpNode.Content) != len(b.baseHTTP) {
		if b.gateway() {
			fail(field, "%s %s: has %d rules, the base has %d", kind, b.VSName, len(httpNode.Content), len(b.baseHTTP))
		} else {
			fail(field, "%s %s: has %d HTTP routes, the base has %d", kind, b.VSName, len(httpNode.Content), len(b.baseHTTP))
		}
	}
}

// checkWorkload checks one Deployment of the built output; field is the
// spec field that names it.
func checkWorkload(ms []manifest, w Workload, field, image string, replicas *int32, fail func(string, string, ...any)) {
	m, err := find(ms, "apps", "Deployment", w.Name, w.Namespace)
	if err != nil {
		fail(field, "%v", err)
		return
	}
	var d deployment
	if err := m.decode(&d); err != nil {
		fail(field, "Deployment %s: %v", w.Name, err)
		return
	}
	cs := d.Spec.Template.Spec.Containers
	if w.Container >= len(cs) || cs[w.Container].Name != w.ContainerName {
		fail("spec.deployments.container", "Deployment %s: container %s moved", w.Name, w.ContainerName)
		return
	}
	if got := cs[w.Container].Image; got != image {
		fail(field, "Deployment %s: container %s has image %q, want %q", w.Name, w.ContainerName, got, image)
	}
	if replicas != nil {
		got := int32(1)
		if d.Spec.Replicas != nil {
			got = *d.Spec.Replicas
		}
		if got != *replicas {
			fail("spec.deployments.canaryReplicas", "Deployment %s: %d replicas, want %d", w.Name, got, *replicas)
		}
	}
}

// lookup follows mapping keys from n.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func encodeNode(n *yaml.Node) []byte {
	data, err := yaml.Marshal(n)
	if err != nil {
		return nil
	}
	return data
}
