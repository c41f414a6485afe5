package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/promoter-dev/promoter/internal/sandbox"
	"github.com/promoter-dev/promoter/internal/spec"
)

// fileFlag is the component's patch of the feature-flags ConfigMap.
const fileFlag = "configmap-feature-flag.yaml"

// Flag is the ConfigMap of spec.featureFlag as the overlay builds it
// without promoter's component.
type Flag struct {
	// Target is the ConfigMap's name when promoter's component runs;
	// Name and Namespace are as built.
	Target, Name, Namespace string
	// Key is the data key holding the flags' JSON, Authored that JSON as
	// written.
	Key      string
	Authored string
	doc      *flagDoc
}

// AuthoredPercentage is the flag's rollout_percentage as written in the
// ConfigMap ("" when it has none): what applies before a canary starts
// and after a rollback.
func (f *Flag) AuthoredPercentage() string { return f.doc.percentage() }

// FlagPercentage is the rollout_percentage that stage st gives the
// canary's feature flag, and false when st leaves the flag as written in
// the ConfigMap: without spec.featureFlag, before the first step and after
// a rollback. While progressing it is the canary's weight; once promoted,
// 100.
func FlagPercentage(c *spec.Canary, st Stage) (int, bool) {
	if c.Spec.FeatureFlag == nil || st.Rollback != nil || st.Step <= 0 {
		return 0, false
	}
	if st.Step > len(c.Spec.Steps) {
		return 100, true
	}
	return st.Weight, true
}

// flagOps is the JSON 6902 patch that sets the flag of st: a test that the
// JSON is still what the base holds (so that an edit of the base's flags is
// never overwritten with what they were: the build fails and promoter
// re-renders), then the JSON with the flag's rollout_percentage set. nil
// when st leaves the flag as written.
func flagOps(c *spec.Canary, b *Base, st Stage) ([]patchOp, error) {
	p, ok := FlagPercentage(c, st)
	if !ok || b.Flag == nil {
		return nil, nil
	}
	data, err := b.Flag.doc.with(p)
	if err != nil {
		return nil, err
	}
	ptr := "/data/" + pointerToken(b.Flag.Key)
	return []patchOp{{"test", ptr, b.Flag.Authored}, {"replace", ptr, string(data)}}, nil
}

func (f *Flag) patchTarget() patchTarget { return patchTarget{Kind: "ConfigMap", Name: f.Target} }

// pointerToken escapes a JSON pointer reference token (RFC 6901).
func pointerToken(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// inspectFlag finds the ConfigMap of spec.featureFlag in ms (the resources
// as promoter's component sees them) and decodes the flag. Problems name
// the spec field and, where it is found, the file and line of the
// ConfigMap's data key.
func inspectFlag(c *spec.Canary, ms []manifest, rename *naming, repo fs.FS) (*Flag, error) {
	ff := c.Spec.FeatureFlag
	if ff == nil {
		return nil, nil
	}
	fail := func(field, format string, args ...any) error {
		return &BaseError{Canary: c.Metadata.Name, File: c.Source.File, Line: c.Source.LineOf(field), Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	m, err := findAs(ms, "", "ConfigMap", ff.ConfigMap, c.Spec.VirtualService.Namespace, rename)
	if err != nil {
		for _, o := range ms {
			if o.Kind == "ConfigMap" && strings.HasPrefix(o.Metadata.Name, ff.ConfigMap+"-") && generatedHash(strings.TrimPrefix(o.Metadata.Name, ff.ConfigMap+"-")) {
				return nil, fail("spec.featureFlag.configMap", "ConfigMap %s is generated with a content hash in its name (%s), which every change of the flags would rename: set options: {disableNameSuffixHash: true} on its configMapGenerator entry (or generatorOptions.disableNameSuffixHash: true)", ff.ConfigMap, o.Metadata.Name)
			}
		}
		return nil, fail("spec.featureFlag.configMap", "%v; add the ConfigMap to the overlay (promoter init writes %s) or name yours in spec.featureFlag.configMap", err, spec.DefaultFlagConfigMap)
	}
	var keys []string
	var value *yaml.Node
	if d := lookup(m.node, "data"); d != nil && d.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(d.Content); i += 2 {
			keys = append(keys, d.Content[i].Value)
			if d.Content[i].Value == ff.Key {
				value = d.Content[i+1]
			}
		}
	}
	// where is the ConfigMap's file and the line of its data key, or, for
	// a problem at line jsonLine of a block scalar, that line of the file.
	where := func(jsonLine int) string {
		file, line, block := locateData(repo, c.Spec.Overlay, m.Metadata.Name, ff.Key)
		if file == "" {
			return ""
		}
		if block && jsonLine > 0 {
			line += jsonLine
		}
		return fmt.Sprintf("%s:%d: ", file, line)
	}
	if value == nil || value.Kind != yaml.ScalarNode {
		return nil, fail("spec.featureFlag.key", "ConfigMap %s has no data key %s (keys: %s)", m.Metadata.Name, ff.Key, listOrNone(keys))
	}
	doc, err := parseFlags([]byte(value.Value), ff.Name)
	var je *jsonError
	var nf *flagNotFoundError
	switch {
	case errors.As(err, &je):
		return nil, fail("spec.featureFlag.key", "%sConfigMap %s: data.%s is not a JSON object of flags: %v", where(je.Line), m.Metadata.Name, ff.Key, je)
	case errors.As(err, &nf):
		return nil, fail("spec.featureFlag.name", "%sConfigMap %s: data.%s %v", where(0), m.Metadata.Name, ff.Key, nf)
	case err != nil:
		return nil, fail("spec.featureFlag.name", "%sConfigMap %s: data.%s: %v", where(0), m.Metadata.Name, ff.Key, err)
	}
	return &Flag{Target: m.Metadata.Name, Name: m.Metadata.Name, Namespace: m.Metadata.Namespace, Key: ff.Key, Authored: value.Value, doc: doc}, nil
}

// generatedHash reports whether s looks like the name suffix kustomize's
// generators add: ten characters of its hash alphabet.
func generatedHash(s string) bool {
	if len(s) != 10 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("bcdfghkmt2456789", r) {
			return false
		}
	}
	return true
}

// locateData finds the file and line of the data key of the ConfigMap
// name among the kustomization roots overlay reaches ("" when none of
// their YAML files defines it, as for a generated ConfigMap), and whether
// its value is a block scalar (whose content starts on the next line). It
// is only called to explain an error.
func locateData(repo fs.FS, overlay, name, key string) (string, int, bool) {
	c := &copier{repo: sandbox.New(repo), mem: filesys.MakeFsInMemory(), refused: map[string]error{}}
	if err := c.copyRoots(overlay); err != nil {
		return "", 0, false
	}
	var files []string
	for _, dir := range c.copied {
		_ = fs.WalkDir(c.repo, dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
				files = append(files, p)
			}
			return nil
		})
	}
	slices.Sort(files)
	for _, p := range slices.Compact(files) {
		data, err := fs.ReadFile(c.repo, p)
		if err != nil || aliasBomb(data) {
			continue
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if errors.Is(err, io.EOF) || err != nil {
				break
			}
			if len(n.Content) == 0 {
				continue
			}
			root := n.Content[0]
			str := func(keys ...string) string {
				if v := lookup(root, keys...); v != nil && v.Kind == yaml.ScalarNode {
					return v.Value
				}
				return ""
			}
			if str("kind") != "ConfigMap" || str("metadata", "name") != name {
				continue
			}
			if d := lookup(root, "data"); d != nil && d.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(d.Content); i += 2 {
					if d.Content[i].Value == key {
						v := d.Content[i+1]
						return p, d.Content[i].Line, v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
					}
				}
			}
			return p, root.Line, false
		}
	}
	return "", 0, false
}

// checkFlag verifies the built ConfigMap of the canary's feature flag: the
// flag's rollout_percentage is what st gives it (the authored JSON, as
// written, when st leaves the flag alone), and nothing else of the JSON
// changed.
func checkFlag(c *spec.Canary, b *Base, ms []manifest, st Stage, fail func(field, format string, args ...any)) {
	if b.Flag == nil {
		return
	}
	f := b.Flag
	m, err := find(ms, "", "ConfigMap", f.Name, f.Namespace)
	if err != nil {
		fail("spec.featureFlag.configMap", "%v", err)
		return
	}
	got := ""
	if v := lookup(m.node, "data", f.Key); v != nil && v.Kind == yaml.ScalarNode {
		got = v.Value
	}
	p, set := FlagPercentage(c, st)
	if !set {
		if got != f.Authored {
			fail("spec.featureFlag.name", "ConfigMap %s: data.%s is not as written in the base", f.Name, f.Key)
		}
		return
	}
	built, err := parseFlags([]byte(got), f.doc.name)
	if err != nil {
		fail("spec.featureFlag.name", "ConfigMap %s: data.%s as built: %v", f.Name, f.Key, err)
		return
	}
	if g := built.percentage(); g != strconv.Itoa(p) {
		fail("spec.featureFlag.name", "ConfigMap %s: flag %q has %s %s, want %d", f.Name, f.doc.name, flagField, cmpOr(g, "(none)"), p)
	}
	want, err := f.doc.with(p)
	if err != nil {
		fail("spec.featureFlag.name", "%v", err)
		return
	}
	if mine, err := built.with(p); err != nil || !sameJSON(mine, want) {
		fail("spec.featureFlag.name", "ConfigMap %s: data.%s differs from the base's in more than flag %q's %s", f.Name, f.Key, f.doc.name, flagField)
	}
}

// probeFlag is the probe's patch of the flags ConfigMap: a sentinel value
// under the key, which shows whether a field of the overlay applied after
// the component changes it.
const probeFlagValue = "promoter-probe"

// probedFlag reads the flags ConfigMap from the overlay built with the
// probe component: its name as built, and whether a field of the overlay
// applied after the component changes the key promoter sets.
func (b *Base) probedFlag(c *spec.Canary, ms []manifest, at func(kind, target, image string) (int, string), override func(OverrideKind, int, string, string) Override) error {
	f := b.Flag
	if f == nil {
		return nil
	}
	var m *manifest
	for i := range ms {
		if _, ok := ms[i].Metadata.Annotations[probeAnnotation+"-flag"]; ok && ms[i].Kind == "ConfigMap" {
			m = &ms[i]
		}
	}
	if m == nil {
		return &BaseError{Canary: c.Metadata.Name, File: c.Source.File, Line: c.Source.LineOf("spec.featureFlag.configMap"), Field: "spec.featureFlag.configMap",
			Msg: fmt.Sprintf("ConfigMap %s is not in the overlay as built (%s drops or replaces it)", f.Target, b.Overlay)}
	}
	f.Name, f.Namespace = m.Metadata.Name, m.Metadata.Namespace
	if v := lookup(m.node, "data", f.Key); v == nil || v.Kind != yaml.ScalarNode || v.Value != probeFlagValue {
		line, field := at("ConfigMap", f.Target, "")
		b.Overrides = append(b.Overrides, override(OverrideFlag, line, field, fmt.Sprintf(
			"changes data.%s of ConfigMap %s after promoter's component sets flag %q's %s; move the change into the base (or a component listed before %s) and leave %s to promoter",
			f.Key, f.Name, f.doc.name, flagField, ComponentRef(c), flagField)))
	}
	return nil
}
