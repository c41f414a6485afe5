package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/konfig"

	"github.com/promoter-dev/promoter/internal/spec"
)

// OverlayFile returns the path and content of the overlay's kustomization
// file (kustomization.yaml, kustomization.yml or Kustomization).
func OverlayFile(c *spec.Canary, repo fs.FS) (string, []byte, error) {
	var err error
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		file := path.Join(path.Clean(c.Spec.Overlay), name)
		var data []byte
		if data, err = fs.ReadFile(repo, file); err == nil {
			return file, data, nil
		}
	}
	return "", nil, fmt.Errorf("overlay %s has no kustomization.yaml: %w", c.Spec.Overlay, err)
}

// EnsureComponent returns the overlay's kustomization file with promoter's
// component added to its components list, or nil when it is listed
// already. It edits the file's text where the YAML node tree says the list
// is, so the human's comments, key order, line endings, byte-order mark
// and list style survive; this is the one file promoter writes that it
// does not own.
func EnsureComponent(c *spec.Canary, repo fs.FS) (Files, error) {
	file, data, err := OverlayFile(c, repo)
	if err != nil {
		return nil, err
	}
	out, changed, err := addComponent(data, ComponentRef(c))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if !changed {
		return nil, nil
	}
	return Files{file: out}, nil
}

var bom = []byte("\xef\xbb\xbf")

// parseKustomization parses a kustomization file's node tree (a leading
// byte-order mark is allowed).
func parseKustomization(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(bytes.TrimPrefix(data, bom), &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a kustomization (expected a mapping)")
	}
	return doc.Content[0], nil
}

// listsComponent reports the index of ref in the components list (-1 when
// it is not listed).
func listsComponent(root *yaml.Node, ref string) int {
	list := lookup(root, "components")
	if list == nil || list.Kind != yaml.SequenceNode {
		return -1
	}
	for i, item := range list.Content {
		if path.Clean(item.Value) == ref {
			return i
		}
	}
	return -1
}

// addComponent adds ref to the components list of a kustomization. The
// YAML node tree locates the list; the new entry is written into the text
// (a line after a block list's last item with its indentation, or an item
// before a flow list's closing bracket), so every other byte of the file
// stays as the human wrote it.
func addComponent(data []byte, ref string) ([]byte, bool, error) {
	root, err := parseKustomization(data)
	if err != nil {
		return nil, false, err
	}
	list := lookup(root, "components")
	if list != nil && list.Kind != yaml.SequenceNode && !(list.Kind == yaml.ScalarNode && list.Tag == "!!null") {
		return nil, false, errors.New("components is not a list")
	}
	if listsComponent(root, ref) >= 0 {
		return nil, false, nil
	}
	hasBOM := bytes.HasPrefix(data, bom)
	text := bytes.TrimPrefix(data, bom)
	nl := "\n"
	if bytes.Contains(text, []byte("\r\n")) {
		nl = "\r\n"
	}
	lines := bytes.SplitAfter(text, []byte("\n"))
	if len(lines) > 1 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	// insertAfter writes s after line n (1-based; 0 = at the top).
	insertAfter := func(n int, s string) []byte {
		var out bytes.Buffer
		if hasBOM {
			out.Write(bom)
		}
		for i, l := range lines {
			out.Write(l)
			if i == n-1 {
				if !bytes.HasSuffix(l, []byte("\n")) {
					out.WriteString(nl)
				}
				out.WriteString(s)
			}
		}
		return out.Bytes()
	}
	switch {
	case list != nil && list.Kind == yaml.SequenceNode && list.Style&yaml.FlowStyle == 0 && len(list.Content) > 0:
		last := list.Content[len(list.Content)-1]
		indent := max(last.Column-3, 0)
		end := lastLine(last)
		return insertAfter(end, strings.Repeat(" ", indent)+"- "+ref+nl), true, nil
	case list != nil && list.Kind == yaml.SequenceNode && list.Style&yaml.FlowStyle != 0:
		out, err := addFlowItem(lines, list, ref)
		if err != nil {
			return nil, false, err
		}
		if hasBOM {
			out = append(append([]byte{}, bom...), out...)
		}
		return out, true, nil
	case list != nil:
		// "components:" with no value: the entry goes on the next line.
		key := keyNode(root, "components")
		return insertAfter(key.Line, "- "+ref+nl), true, nil
	}
	indent := 0
	if res := lookup(root, "resources"); res != nil && res.Kind == yaml.SequenceNode && len(res.Content) > 0 && res.Style&yaml.FlowStyle == 0 {
		indent = max(res.Content[0].Column-3, 0)
	}
	return insertAfter(len(lines), "components:"+nl+strings.Repeat(" ", indent)+"- "+ref+nl), true, nil
}

// lastLine is the last line a node's value occupies (a scalar spans one).
func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		l = max(l, lastLine(c))
	}
	return l
}

// keyNode returns the key node of key in mapping m.
func keyNode(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// addFlowItem inserts ref before the closing bracket of a flow list.
func addFlowItem(lines [][]byte, list *yaml.Node, ref string) ([]byte, error) {
	text := bytes.Join(lines, nil)
	// Offset of the list's opening bracket.
	off := 0
	for i := 0; i < list.Line-1 && i < len(lines); i++ {
		off += len(lines[i])
	}
	off += list.Column - 1
	if off >= len(text) || text[off] != '[' {
		return nil, errors.New("components: cannot locate the flow list")
	}
	quote := byte(0)
	for i := off + 1; i < len(text); i++ {
		ch := text[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == ']':
			item := ref
			if len(list.Content) > 0 {
				item = ", " + ref
				// Keep a space before "]" if the human wrote one.
				j := i
				for j > off && (text[j-1] == ' ' || text[j-1] == '\t') {
					j--
				}
				var out []byte
				out = append(out, text[:j]...)
				out = append(out, item...)
				out = append(out, text[j:]...)
				return out, nil
			}
			var out []byte
			out = append(out, text[:i]...)
			out = append(out, item...)
			out = append(out, text[i:]...)
			return out, nil
		}
	}
	return nil, errors.New("components: unterminated flow list")
}

// kustomization fields that take part before the components of the same
// kustomization: what the component's patches see.
var beforeComponents = map[string]bool{
	"apiVersion": true, "kind": true, "metadata": true, "openapi": true,
	"resources": true, "bases": true, "crds": true, "configurations": true,
	"configMapGenerator": true, "secretGenerator": true, "generatorOptions": true,
	"generators": true, "helmGlobals": true, "helmCharts": true, "helmChartInflationGenerator": true,
}

// preComponent returns the overlay's kustomization as promoter's component
// sees it: its resources, generators and the components listed before
// promoter's, without what kustomize applies after them (namePrefix,
// nameSuffix, namespace, labels, patches, images, replicas, transformers,
// later components...). after reports whether the overlay has any such
// field; without any, the component sees what the overlay builds.
func preComponent(data []byte, ref string) (pre []byte, after bool, err error) {
	root, err := parseKustomization(data)
	if err != nil {
		return nil, false, err
	}
	out := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Value == "components":
			idx := listsComponent(root, ref)
			if v.Kind != yaml.SequenceNode {
				continue
			}
			if idx < 0 {
				idx = len(v.Content)
			}
			if idx < len(v.Content)-1 {
				after = true
			}
			if idx > 0 {
				out.Content = append(out.Content, k, &yaml.Node{Kind: yaml.SequenceNode, Content: v.Content[:idx]})
			}
		case beforeComponents[k.Value]:
			out.Content = append(out.Content, k, v)
		case k.Value == "sortOptions" || k.Value == "buildMetadata":
			out.Content = append(out.Content, k, v)
		default:
			after = true
		}
	}
	pre, err = yaml.Marshal(out)
	return pre, after, err
}
