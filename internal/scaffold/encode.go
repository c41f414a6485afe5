package scaffold

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Comments maps a field path of a document to the comment written above
// it. A path is a dotted list of keys with [i] for list items, like
// "spec.http[2]" or "spec.subsets[1].trafficPolicy".
type Comments map[string]string

// stream is several resources written as one YAML stream.
type stream []any

// encode writes v, a typed resource, as a YAML document: v is marshalled
// to JSON (so that k8s.io/api types use their own field names and
// omitempty rules), read back as a YAML node tree in the same key order,
// cleaned of the empty fields Kubernetes' types always emit
// (creationTimestamp: null, status: {}), and written with two-space
// indentation. header, when set, becomes comment lines at the top.
func encode(v any, header string, comments Comments) ([]byte, error) {
	if s, ok := v.(stream); ok {
		var nodes []*yaml.Node
		for _, item := range s {
			n, err := toNode(item)
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, n)
		}
		return writeNodes(header, nodes...)
	}
	n, err := toNode(v)
	if err != nil {
		return nil, err
	}
	for p, text := range comments {
		target, _, err := nodeAt(n, p)
		if err != nil {
			return nil, fmt.Errorf("comment on %s: %w", p, err)
		}
		target.HeadComment = text
	}
	return writeNodes(header, n)
}

// toNode converts v to a cleaned YAML mapping node.
func toNode(v any) (*yaml.Node, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(j, &doc); err != nil {
		return nil, err
	}
	n := doc.Content[0]
	clean(n)
	hoist(n, "apiVersion", "kind", "metadata")
	return n, nil
}

// writeNodes writes each node as one document of a YAML stream.
func writeNodes(header string, nodes ...*yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	for _, line := range strings.Split(header, "\n") {
		if header != "" {
			buf.WriteString(strings.TrimRight("# "+line, " ") + "\n")
		}
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, n := range nodes {
		if err := enc.Encode(n); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// droppedWhenEmpty are keys whose empty mapping Kubernetes' Go types emit
// although they mean nothing in a manifest.
var droppedWhenEmpty = map[string]bool{
	"status": true, "spec": true, "loadBalancer": true, "strategy": true, "resources": true, "metadata": true, "securityContext": true,
}

// clean resets the JSON styles (flow mappings, quoted strings) to YAML's
// block style, and drops null values and the empty mappings of
// droppedWhenEmpty.
func clean(n *yaml.Node) {
	n.Style = 0
	switch n.Kind {
	case yaml.MappingNode:
		var kept []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			clean(k)
			clean(v)
			if v.Kind == yaml.MappingNode && len(v.Content) == 0 && droppedWhenEmpty[k.Value] {
				continue
			}
			kept = append(kept, k, v)
		}
		n.Content = kept
	case yaml.SequenceNode:
		for _, c := range n.Content {
			clean(c)
		}
	}
}

// hoist moves the given keys of mapping n to its front, in that order.
func hoist(n *yaml.Node, keys ...string) {
	if n.Kind != yaml.MappingNode {
		return
	}
	var front, rest []*yaml.Node
	for _, key := range keys {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				front = append(front, n.Content[i], n.Content[i+1])
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !slices.Contains(keys, n.Content[i].Value) {
			rest = append(rest, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = append(front, rest...)
}

// nodeAt finds the node at path p. It returns the node a comment on p
// belongs to (the key of a mapping entry, or the item of a list) and the
// value at p.
func nodeAt(n *yaml.Node, p string) (target, value *yaml.Node, err error) {
	for _, part := range strings.Split(p, ".") {
		key, idx, _ := strings.Cut(part, "[")
		if key != "" {
			if n.Kind != yaml.MappingNode {
				return nil, nil, fmt.Errorf("%s is not a mapping", key)
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					target, n, found = n.Content[i], n.Content[i+1], true
					break
				}
			}
			if !found {
				return nil, nil, fmt.Errorf("no key %s", key)
			}
		}
		if idx != "" {
			i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
			if err != nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return nil, nil, fmt.Errorf("no item [%s", idx)
			}
			target, n = n.Content[i], n.Content[i]
		}
	}
	if target == nil {
		return nil, nil, fmt.Errorf("empty path")
	}
	return target, n, nil
}
