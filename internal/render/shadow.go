package render

import (
	"fmt"
	"strings"
)

// checkReachable refuses a split route Istio would never use: Istio takes
// the first HTTP route whose match fits a request, so a route after one
// that matches every request receives nothing, and of several routes with
// the same name the first is the one that acts.
func checkReachable(vs virtualService, split int, name string) error {
	if name != "" {
		var same []string
		for i, r := range vs.Spec.HTTP {
			if r.Name == name {
				same = append(same, fmt.Sprintf("#%d", i))
			}
		}
		if len(same) > 1 {
			return fmt.Errorf("VirtualService %s has %d HTTP routes named %q (%s): give each route its own name", vs.Metadata.Name, len(same), name, strings.Join(same, ", "))
		}
	}
	for i, r := range vs.Spec.HTTP[:split] {
		if matchesEverything(r) {
			label := r.Name
			if label == "" {
				label = fmt.Sprintf("#%d", i)
			}
			return fmt.Errorf("VirtualService %s: the split route %s is never used: route %s before it matches every request, and Istio takes the first route that matches; move the split route above it or give %s a match",
				vs.Metadata.Name, routeName(vs, split), label, label)
		}
	}
	return nil
}

func routeName(vs virtualService, i int) string {
	if n := vs.Spec.HTTP[i].Name; n != "" {
		return n
	}
	return fmt.Sprintf("#%d", i)
}

// matchesEverything reports a route without match, or with a match
// condition that sets nothing but a name or a "/" URI prefix.
func matchesEverything(r httpRoute) bool {
	if len(r.Match) == 0 {
		return true
	}
	for _, m := range r.Match {
		cond, ok := m.(map[string]any)
		if !ok {
			continue
		}
		all := true
		for k, v := range cond {
			switch k {
			case "name":
			case "uri":
				u, ok := v.(map[string]any)
				if !ok || len(u) != 1 || u["prefix"] != "/" {
					all = false
				}
			default:
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}
