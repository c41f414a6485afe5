package render

import (
	"fmt"
	"strings"

	"github.com/promoter-dev/promoter/internal/spec"
)

// A Gateway API route (HTTPRoute or GRPCRoute) is split like a
// VirtualService's HTTP route: the rule is the route, its backendRefs the
// destinations, and promoter's component sets the weights of the two
// backendRefs that name spec.hosts.stable and spec.hosts.canary, guarded
// by tests of the rule's name and the backendRefs' names.

// kind is the route's kind: VirtualService, HTTPRoute or GRPCRoute.
func (b *Base) kind() string { return cmpOr(b.Kind, spec.KindVirtualService) }

func (b *Base) gateway() bool { return b.kind() != spec.KindVirtualService }

// group is the route's API group.
func (b *Base) group() string {
	if b.gateway() {
		return spec.GatewayAPIGroup
	}
	return "networking.istio.io"
}

// rulesKey is the field of spec that lists the routes (rules) and
// destsKey the field of each that lists the destinations (backendRefs).
func (b *Base) rulesKey() string {
	if b.gateway() {
		return "rules"
	}
	return "http"
}

func (b *Base) destsKey() string {
	if b.gateway() {
		return "backendRefs"
	}
	return "route"
}

// ruleWord names a route of the kind in messages: "route" or "rule".
func (b *Base) ruleWord() string {
	if b.gateway() {
		return "rule"
	}
	return "route"
}

// destWords names the destinations of a rule in messages.
func (b *Base) destWords() string {
	if b.gateway() {
		return "backendRefs"
	}
	return "destinations"
}

// weightOf is the weight a destination gets: a VirtualService's missing
// weight is 0 (100 for a lone destination); a Gateway API backendRef's
// missing weight is 1.
func (b *Base) weightOf(d destView, n int) int {
	switch {
	case d.Weight != nil:
		return *d.Weight
	case b.gateway():
		return 1
	case n == 1:
		return 100
	}
	return 0
}

// StateFile is the file of c's component that holds the state
// annotations, repository-relative.
func StateFile(c *spec.Canary) string { return ComponentDir(c) + "/" + stateFileName(c) }

func stateFileName(c *spec.Canary) string {
	if c.Spec.GatewayRoute() {
		return strings.ToLower(c.Spec.Route.Kind) + "-state.yaml"
	}
	return fileState
}

func routeFileName(c *spec.Canary) string {
	if c.Spec.GatewayRoute() {
		return strings.ToLower(c.Spec.Route.Kind) + "-rule.yaml"
	}
	return fileRoute
}

// inspectGateway locates the split rule of a Gateway API route in ms and
// its stable and canary backendRefs.
func inspectGateway(c *spec.Canary, ms []manifest, rename *naming, fail func(field, format string, args ...any) error) (*Base, error) {
	s := &c.Spec
	kind := s.Route.Kind
	m, err := findAs(ms, spec.GatewayAPIGroup, kind, s.Route.Name, s.Route.Namespace, rename)
	if err != nil {
		return nil, fail("spec.route.name", "%v", err)
	}
	var gr gatewayRoute
	if err := m.decode(&gr); err != nil {
		return nil, fail("spec.route.name", "%s %s: %v", kind, s.Route.Name, err)
	}
	b := &Base{Kind: kind, VSAPIVersion: gr.APIVersion, VSName: gr.Metadata.Name, VSNamespace: gr.Metadata.Namespace, VSTarget: gr.Metadata.Name, Route: -1}
	if rs := lookup(m.node, "spec", "rules"); rs != nil {
		for _, r := range rs.Content {
			b.baseHTTP = append(b.baseHTTP, encodeNode(r))
		}
	}
	ns := cmpOr(gr.Metadata.Namespace, s.Route.Namespace)
	// backend finds the backendRef of rule r that names Service host.
	backend := func(r gatewayRule, host string) int {
		for i, ref := range r.BackendRefs {
			if ref.isService() && ref.Name == host && (ref.Namespace == "" || ref.Namespace == ns) {
				return i
			}
		}
		return -1
	}
	both := func(r gatewayRule) bool { return backend(r, s.Hosts.Stable) >= 0 && backend(r, s.Hosts.Canary) >= 0 }
	names := gatewayRuleNames(gr)
	if s.Route.Rule != "" {
		var same []string
		for i, r := range gr.Spec.Rules {
			if r.Name == s.Route.Rule {
				b.Route = i
				same = append(same, fmt.Sprintf("#%d", i))
			}
		}
		if b.Route < 0 {
			return nil, fail("spec.route.rule", "%s %s has no rule named %q (rules: %s)", kind, gr.Metadata.Name, s.Route.Rule, names)
		}
		if len(same) > 1 {
			return nil, fail("spec.route.rule", "%s %s has %d rules named %q (%s): give each rule its own name", kind, gr.Metadata.Name, len(same), s.Route.Rule, strings.Join(same, ", "))
		}
	} else {
		var hits []string
		for i, r := range gr.Spec.Rules {
			if both(r) {
				if b.Route < 0 {
					b.Route = i
				}
				hits = append(hits, ruleLabel(r.Name, i))
			}
		}
		if len(hits) > 1 {
			return nil, fail("spec.route.rule", "%s %s has %d rules whose backendRefs name both Services %s and %s (%s); name the one to split in spec.route.rule", kind, gr.Metadata.Name, len(hits), s.Hosts.Stable, s.Hosts.Canary, strings.Join(hits, ", "))
		}
		if b.Route < 0 {
			// Name the Service that is missing: the canary's when some
			// rule has the stable one.
			field, missing := "spec.hosts", fmt.Sprintf("Services %s and %s", s.Hosts.Stable, s.Hosts.Canary)
			for _, r := range gr.Spec.Rules {
				switch st, cn := backend(r, s.Hosts.Stable) >= 0, backend(r, s.Hosts.Canary) >= 0; {
				case st && !cn:
					field, missing = "spec.hosts.canary", "Service "+s.Hosts.Canary
				case cn && !st && field == "spec.hosts":
					field, missing = "spec.hosts.stable", "Service "+s.Hosts.Stable
				}
			}
			return nil, fail(field, "%s %s has no rule whose backendRefs name both Services %s and %s (rules: %s); add a backendRef to %s, with weight: 0, to the rule that serves the stable version, or name that rule in spec.route.rule",
				kind, gr.Metadata.Name, s.Hosts.Stable, s.Hosts.Canary, gatewayRuleBackends(gr), missing)
		}
	}
	rule := gr.Spec.Rules[b.Route]
	b.RouteName = rule.Name
	b.StableDest, b.CanaryDest = backend(rule, s.Hosts.Stable), backend(rule, s.Hosts.Canary)
	where := fmt.Sprintf("rule %s of %s %s", ruleLabel(rule.Name, b.Route), kind, gr.Metadata.Name)
	if b.StableDest < 0 {
		return nil, fail("spec.hosts.stable", "%s has no backendRef to Service %s (backendRefs: %s)", where, s.Hosts.Stable, backendList(rule))
	}
	if b.CanaryDest < 0 {
		return nil, fail("spec.hosts.canary", "%s has no backendRef to Service %s (backendRefs: %s); add one with weight: 0", where, s.Hosts.Canary, backendList(rule))
	}
	b.StableHost, b.CanaryHost = rule.BackendRefs[b.StableDest].Name, rule.BackendRefs[b.CanaryDest].Name
	if err := checkBackendServices(c, ms, ns); err != nil {
		return nil, fail(err.field, "%s", err.msg)
	}
	return b, nil
}

// checkBackendServices makes sure both backends are Services in the
// overlay: a backendRef to a Service that does not exist gets a 500 for
// its share of the requests.
func checkBackendServices(c *spec.Canary, ms []manifest, ns string) *subsetError {
	var have []string
	for _, m := range ms {
		if m.Kind == "Service" && m.APIVersion == "v1" && (m.Metadata.Namespace == "" || m.Metadata.Namespace == ns) {
			have = append(have, m.Metadata.Name)
		}
	}
	for _, h := range []struct{ field, name string }{{"spec.hosts.stable", c.Spec.Hosts.Stable}, {"spec.hosts.canary", c.Spec.Hosts.Canary}} {
		found := false
		for _, n := range have {
			found = found || n == h.name
		}
		if !found {
			return &subsetError{field: h.field, msg: fmt.Sprintf("no Service %s in namespace %s in the overlay (Services: %s); the route's backendRef to it would fail every request it gets", h.name, ns, listOrNone(have))}
		}
	}
	return nil
}

func ruleLabel(name string, i int) string {
	if name != "" {
		return name
	}
	return fmt.Sprintf("#%d", i)
}

func gatewayRuleNames(gr gatewayRoute) string {
	return ruleNames(gr.Spec.Rules, func(r gatewayRule) string { return r.Name })
}

// gatewayRuleBackends lists every rule with its backendRefs.
func gatewayRuleBackends(gr gatewayRoute) string {
	var out []string
	for i, r := range gr.Spec.Rules {
		out = append(out, fmt.Sprintf("%s -> %s", ruleLabel(r.Name, i), backendList(r)))
	}
	return listOrNone(out)
}

func backendList(r gatewayRule) string {
	var refs []string
	for _, ref := range r.BackendRefs {
		refs = append(refs, ref.label())
	}
	if len(refs) == 0 {
		return "none"
	}
	return strings.Join(refs, " + ")
}
