package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/promoter-dev/promoter/internal/spec"
)

// naming is how an overlay's own namePrefix, nameSuffix and namespace
// rename the resources its components see. A nil *naming renames nothing.
type naming struct {
	prefix, suffix, ns string
}

func (n *naming) name(s string) string {
	if n == nil {
		return s
	}
	return n.prefix + s + n.suffix
}

func (n *naming) namespace(s string) string {
	if n == nil || n.ns == "" {
		return s
	}
	return n.ns
}

// overlayNaming reads the renaming fields of a kustomization (nil when it
// has none or does not parse).
func overlayNaming(data []byte) *naming {
	root, err := parseKustomization(data)
	if err != nil {
		return nil
	}
	value := func(k string) string {
		if v := lookup(root, k); v != nil && v.Kind == yaml.ScalarNode {
			return v.Value
		}
		return ""
	}
	n := &naming{prefix: value("namePrefix"), suffix: value("nameSuffix"), ns: value("namespace")}
	if *n == (naming{}) {
		return nil
	}
	return n
}

// Sentinels the probe component sets; whatever the overlay's own fields
// do to them shows in the built output.
const (
	probeAnnotation     = "promoter.dev/probe"
	probeStableWeight   = 13
	probeCanaryWeight   = 87
	probeCanaryReplicas = 9973
	probeTag            = "promoter-probe"
)

// probeComponent renders the probe that stands in for promoter's component
// while an overlay with fields after its components is inspected: it marks
// the VirtualService and both Deployments with probeAnnotation and sets
// sentinel weights on the split route, a sentinel image on the canary's
// container and sentinel replicas on the canary, through the same targets
// promoter's component uses.
func probeComponent(c *spec.Canary, b *Base) (Files, error) {
	dir := ComponentDir(c)
	cb := newComponent(dir)
	mark := func(apiVersion, kind, name, id string) stateFile {
		var sf stateFile
		sf.APIVersion, sf.Kind, sf.Metadata.Name = apiVersion, kind, name
		sf.Metadata.Annotations = map[string]string{probeAnnotation + "-" + id: "marked"}
		return sf
	}
	vsTarget := b.routeTarget()
	canary, stable := b.Canary.patchTarget(), b.Stable.patchTarget()
	r := fmt.Sprintf("/spec/%s/%d/%s", b.rulesKey(), b.Route, b.destsKey())
	ct := fmt.Sprintf("/spec/template/spec/containers/%d", b.Canary.Container)
	type probeStep struct {
		name   string
		target patchTarget
		v      any
	}
	steps := []probeStep{
		{"probe-vs.yaml", vsTarget, mark(b.VSAPIVersion, b.kind(), b.VSTarget, "vs")},
		{"probe-route.yaml", vsTarget, []patchOp{
			{"add", fmt.Sprintf("%s/%d/weight", r, b.StableDest), probeStableWeight},
			{"add", fmt.Sprintf("%s/%d/weight", r, b.CanaryDest), probeCanaryWeight},
		}},
		{"probe-canary.yaml", canary, mark("apps/v1", "Deployment", b.Canary.Target, "canary")},
		{"probe-canary-ops.yaml", canary, []patchOp{
			{"test", ct + "/name", b.Canary.ContainerName},
			{"replace", ct + "/image", probeImage(b.Canary.Image)},
			{"add", "/spec/replicas", probeCanaryReplicas},
		}},
		{"probe-stable.yaml", stable, mark("apps/v1", "Deployment", b.Stable.Target, "stable")},
	}
	if f := b.Flag; f != nil {
		steps = append(steps,
			probeStep{"probe-flag.yaml", f.patchTarget(), mark("v1", "ConfigMap", f.Target, "flag")},
			probeStep{"probe-flag-ops.yaml", f.patchTarget(), []patchOp{{"add", "/data/" + pointerToken(f.Key), probeFlagValue}}},
		)
	}
	for _, s := range steps {
		if err := cb.add(s.name, s.target, s.v); err != nil {
			return nil, err
		}
	}
	return cb.finish("")
}

// imageName is an image reference without its tag or digest: what an
// images: entry's name matches.
func imageName(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

func probeImage(ref string) string { return imageName(ref) + ":" + probeTag }

// OverrideKind says what of promoter's an overlay field overrides.
type OverrideKind string

// What an overlay can override.
const (
	OverrideImage    OverrideKind = "image"
	OverrideReplicas OverrideKind = "replicas"
	OverrideRoute    OverrideKind = "route"
	OverrideFlag     OverrideKind = "feature flag"
)

// Override is a field of the overlay, applied by kustomize after
// promoter's component, that undoes what the component sets.
type Override struct {
	Kind OverrideKind
	// File, Line and Field locate the overriding field (Line 0 and Field
	// "" when it could not be told apart).
	File  string
	Line  int
	Field string
	// Msg says what it overrides and what to change.
	Msg string
	// Pinned is the replica count the overlay pins (OverrideReplicas).
	Pinned int32
}

func (o Override) String() string {
	return spec.Problem{File: o.File, Line: o.Line, Field: o.Field, Message: o.Msg}.String()
}

// OverrideError refuses a stage that an overlay's fields would undo.
type OverrideError struct {
	Canary    string
	Overrides []Override
}

func (e *OverrideError) Error() string {
	lines := make([]string, len(e.Overrides))
	for i, o := range e.Overrides {
		lines[i] = o.String()
	}
	return fmt.Sprintf("canary %s: the overlay overrides what promoter's component sets (kustomize applies an overlay's own fields after its components):\n  %s", e.Canary, strings.Join(lines, "\n  "))
}

func (e *OverrideError) Unwrap() error { return ErrBase }

// finalProbed reads the overlay built with the probe component: the names
// as built, the routes and images as applied, and the overrides.
func (b *Base) finalProbed(c *spec.Canary, ms []manifest, repo fs.FS, overlay []byte) error {
	fail := func(field, format string, args ...any) error {
		return &BaseError{Canary: c.Metadata.Name, File: c.Source.File, Line: c.Source.LineOf(field), Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	marked := map[string]manifest{}
	targets := map[string]string{"vs": b.VSTarget, "stable": b.Stable.Target, "canary": b.Canary.Target}
	fields := map[string]string{"vs": c.Spec.RouteField("name"), "stable": "spec.deployments.stable", "canary": "spec.deployments.canary"}
	for _, id := range []string{"vs", "stable", "canary"} {
		var hit []string
		for _, m := range ms {
			if _, ok := m.Metadata.Annotations[probeAnnotation+"-"+id]; ok {
				marked[id] = m
				hit = append(hit, m.Metadata.Name)
			}
		}
		if len(hit) > 1 {
			return fail(fields[id], "a patch of promoter's component that targets %s %s would also change %s: kustomize matches a target's name against the name each resource had before a namePrefix or nameSuffix too; give %s a label the others do not have (promoter then selects it by that label as well)",
				marked[id].Kind, targets[id], strings.Join(hit, ", "), targets[id])
		}
	}
	vsm, ok := marked["vs"]
	if !ok {
		return fail(c.Spec.RouteField("name"), "%s %s is not in the overlay as built (%s drops or replaces it)", b.kind(), b.VSTarget, b.Overlay)
	}
	vs, err := decodeRoute(vsm, b.kind())
	if err != nil {
		return fail(c.Spec.RouteField("name"), "%s %s: %v", b.kind(), vsm.Metadata.Name, err)
	}
	b.VSAPIVersion, b.VSName, b.VSNamespace = vs.APIVersion, vs.Name, vs.Namespace
	b.baseHTTP = nil
	if h := lookup(vsm.node, "spec", b.rulesKey()); h != nil {
		for _, r := range h.Content {
			b.baseHTTP = append(b.baseHTTP, encodeNode(r))
		}
	}
	at := func(kind, target, image string) (int, string) {
		return attribute(repo, path.Dir(b.Overlay), overlay, ComponentRef(c), kind, target, image)
	}
	override := func(k OverrideKind, line int, field, msg string) Override {
		return Override{Kind: k, File: b.Overlay, Line: line, Field: field, Msg: msg}
	}
	routeOK := b.Route < len(vs.Rules)
	if routeOK {
		rt := vs.Rules[b.Route]
		dest := func(i int, host, subset string, weight int) bool {
			return i < len(rt.Dests) && rt.Dests[i].Host == host && rt.Dests[i].Subset == subset &&
				rt.Dests[i].Weight != nil && *rt.Dests[i].Weight == weight
		}
		routeOK = rt.Name == b.RouteName && dest(b.StableDest, b.StableHost, b.StableSubset, probeStableWeight) &&
			dest(b.CanaryDest, b.CanaryHost, b.CanarySubset, probeCanaryWeight)
	}
	if !routeOK {
		line, field := at(b.kind(), b.VSTarget, "")
		b.Overrides = append(b.Overrides, override(OverrideRoute, line, field, fmt.Sprintf(
			"changes %s %s of %s %s after promoter's component sets its weights; move the %s's %s into the base's %s (or a component listed before %s) and leave the weights to promoter",
			b.ruleWord(), routeLabel(b), b.kind(), b.VSName, b.ruleWord(), b.destWords(), b.kind(), ComponentRef(c))))
	}

	if err := b.probedFlag(c, ms, at, override); err != nil {
		return err
	}

	for _, w := range []struct {
		id string
		w  *Workload
	}{{"stable", &b.Stable}, {"canary", &b.Canary}} {
		m, ok := marked[w.id]
		if !ok {
			return fail("spec.deployments."+w.id, "Deployment %s is not in the overlay as built (%s drops or replaces it)", w.w.Target, b.Overlay)
		}
		var d deployment
		if err := m.decode(&d); err != nil {
			return fail("spec.deployments."+w.id, "Deployment %s: %v", m.Metadata.Name, err)
		}
		w.w.Name, w.w.Namespace = d.Metadata.Name, d.Metadata.Namespace
		cs := d.Spec.Template.Spec.Containers
		if w.w.Container >= len(cs) || cs[w.w.Container].Name != w.w.ContainerName {
			line, field := at("Deployment", w.w.Target, "")
			return &OverrideError{Canary: c.Metadata.Name, Overrides: []Override{override(OverrideImage, line, field,
				fmt.Sprintf("moves or renames container %s of Deployment %s after promoter's component", w.w.ContainerName, w.w.Name))}}
		}
		if w.id == "stable" {
			w.w.Image = cs[w.w.Container].Image
			continue
		}
		if got := cs[w.w.Container].Image; got != probeImage(b.Canary.Image) {
			line, field := at("image", w.w.Target, imageName(b.Canary.Image))
			b.Overrides = append(b.Overrides, override(OverrideImage, line, field, fmt.Sprintf(
				"sets the image of container %s of Deployment %s (to %s) after promoter's component, so promoter cannot set the canary's image; images: sets every container of that image, stable and canary alike: remove the entry and pin the stable image with a patch on Deployment %s instead",
				w.w.ContainerName, w.w.Name, got, b.Stable.Target)))
		}
		got := int32(1)
		if d.Spec.Replicas != nil {
			got = *d.Spec.Replicas
		}
		if got != probeCanaryReplicas {
			line, field := at("replicas", w.w.Target, "")
			o := override(OverrideReplicas, line, field, fmt.Sprintf(
				"pins the replicas of Deployment %s (to %d) after promoter's component, so promoter cannot scale the canary (to 0 on rollback and promotion); remove it and set the replicas in the base, or spec.deployments.canaryReplicas in the Canary spec",
				w.w.Name, got))
			o.Pinned = got
			b.Overrides = append(b.Overrides, o)
		}
	}
	return nil
}

// attribute finds the field of an overlay's kustomization that changes
// target after promoter's component (ref): for kind "image" an images:
// entry of that image name; for "replicas" a replicas: entry; then patches
// on the target of kind (Deployment for replicas), later components and
// transformers. It returns the entry's line and field path, or 0 and "".
func attribute(repo fs.FS, dir string, data []byte, ref, kind, target, image string) (int, string) {
	root, err := parseKustomization(data)
	if err != nil {
		return 0, ""
	}
	seq := func(key string) []*yaml.Node {
		if n := lookup(root, key); n != nil && n.Kind == yaml.SequenceNode {
			return n.Content
		}
		return nil
	}
	str := func(n *yaml.Node, keys ...string) string {
		if v := lookup(n, keys...); v != nil && v.Kind == yaml.ScalarNode {
			return v.Value
		}
		return ""
	}
	switch kind {
	case "image":
		for i, e := range seq("images") {
			if str(e, "name") == image {
				return e.Line, fmt.Sprintf("images[%d]", i)
			}
		}
		kind = "Deployment"
	case "replicas":
		for i, e := range seq("replicas") {
			// kustomize matches the name before a namePrefix or
			// nameSuffix too.
			if n := str(e, "name"); n != "" && strings.Contains(target, n) {
				return e.Line, fmt.Sprintf("replicas[%d] (name: %s)", i, n)
			}
		}
		kind = "Deployment"
	}
	// A patch: by its target, or by the resource it names.
	names := func(doc []byte) bool {
		dec := yaml.NewDecoder(bytes.NewReader(doc))
		for {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) || err != nil {
				return false
			}
			if o.Kind == kind && o.Metadata.Name == target {
				return true
			}
		}
	}
	patchMatches := func(e *yaml.Node) bool {
		if t := lookup(e, "target"); t != nil {
			k, n := str(t, "kind"), str(t, "name")
			return (k == "" || k == kind) && (n == "" || strings.Contains(target, n))
		}
		if e.Kind == yaml.ScalarNode { // patchesStrategicMerge: a path or an inline patch
			if strings.Contains(e.Value, "\n") {
				return names([]byte(e.Value))
			}
			doc, err := fs.ReadFile(repo, path.Join(dir, e.Value))
			return err == nil && names(doc)
		}
		if p := str(e, "patch"); p != "" {
			return names([]byte(p))
		}
		if p := str(e, "path"); p != "" {
			doc, err := fs.ReadFile(repo, path.Join(dir, p))
			return err == nil && names(doc)
		}
		return false
	}
	for _, key := range []string{"patches", "patchesStrategicMerge", "patchesJson6902"} {
		for i, e := range seq(key) {
			if patchMatches(e) {
				return e.Line, fmt.Sprintf("%s[%d]", key, i)
			}
		}
	}
	if i := listsComponent(root, ref); i >= 0 {
		cs := seq("components")
		if i+1 < len(cs) {
			return cs[i+1].Line, fmt.Sprintf("components[%d]", i+1)
		}
	}
	for _, key := range []string{"transformers", "replacements"} {
		if e := seq(key); len(e) > 0 {
			return e[0].Line, key + "[0]"
		}
	}
	return 0, ""
}

// selectTargets gives each Deployment target a label selector when
// another Deployment's name contains its name: a namePrefix or nameSuffix
// may have made that one from a resource of the same original name, which
// kustomize's patch targets also match. It reports whether any target
// may be ambiguous, and so needs the probe build to tell.
func (b *Base) selectTargets(ms []manifest) bool {
	ambiguous := false
	for _, w := range []*Workload{&b.Stable, &b.Canary} {
		var others []manifest
		var self *manifest
		for i, m := range ms {
			if m.Kind != "Deployment" || groupOf(m.APIVersion) != "apps" {
				continue
			}
			switch {
			case m.Metadata.Name == w.Target && (w.Namespace == "" || m.Metadata.Namespace == w.Namespace):
				self = &ms[i]
			case strings.Contains(m.Metadata.Name, w.Target):
				others = append(others, m)
			}
		}
		if self == nil || len(others) == 0 {
			continue
		}
		ambiguous = true
		keys := make([]string, 0, len(self.Metadata.Labels))
		for k := range self.Metadata.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := self.Metadata.Labels[k]
			if !slices.ContainsFunc(others, func(o manifest) bool { return o.Metadata.Labels[k] == v }) {
				w.Selector = k + "=" + v
				break
			}
		}
	}
	for _, m := range ms {
		if m.Kind == b.kind() && m.Metadata.Name != b.VSTarget && strings.Contains(m.Metadata.Name, b.VSTarget) {
			ambiguous = true
		}
	}
	return ambiguous
}
