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

// EnsureComponent returns the overlay's kustomization file with promoter's
// component added to its components list, or nil when it is listed
// already. It edits the YAML node tree, so the human's comments, key order
// and formatting survive; this is the one file promoter writes that it does
// not own.
func EnsureComponent(c *spec.Canary, repo fs.FS) (Files, error) {
	var (
		file string
		data []byte
		err  error
	)
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		file = path.Join(path.Clean(c.Spec.Overlay), name)
		if data, err = fs.ReadFile(repo, file); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("overlay %s has no kustomization.yaml: %w", c.Spec.Overlay, err)
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

// addComponent adds ref to the components list of a kustomization. The
// YAML node tree locates the list; the new entry is inserted as one line
// after the list's last item, with the same indentation, so every other
// byte of the file stays as the human wrote it.
func addComponent(data []byte, ref string) ([]byte, bool, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, false, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, false, errors.New("not a kustomization (expected a mapping)")
	}
	root := doc.Content[0]
	list := lookup(root, "components")
	if list != nil && list.Kind != yaml.SequenceNode {
		return nil, false, errors.New("components is not a list")
	}
	if list != nil {
		for _, item := range list.Content {
			if path.Clean(item.Value) == ref {
				return nil, false, nil
			}
		}
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 1 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	insert := func(after int, text string) []byte {
		var out bytes.Buffer
		for i, l := range lines {
			out.Write(l)
			if i == after-1 {
				if !bytes.HasSuffix(l, []byte("\n")) {
					out.WriteByte('\n')
				}
				out.WriteString(text)
			}
		}
		return out.Bytes()
	}
	switch {
	case list != nil && list.Style&yaml.FlowStyle == 0 && len(list.Content) > 0:
		last := list.Content[len(list.Content)-1]
		indent := max(last.Column-3, 0)
		return insert(last.Line, strings.Repeat(" ", indent)+"- "+ref+"\n"), true, nil
	case list == nil:
		indent := 0
		if res := lookup(root, "resources"); res != nil && res.Kind == yaml.SequenceNode && len(res.Content) > 0 && res.Style&yaml.FlowStyle == 0 {
			indent = max(res.Content[0].Column-3, 0)
		}
		text := "components:\n" + strings.Repeat(" ", indent) + "- " + ref + "\n"
		return insert(len(lines), text), true, nil
	}
	// A flow-style or empty list: rewrite it as a block list through the
	// node tree (comments survive; the list's own layout changes).
	list.Style &^= yaml.FlowStyle
	list.Content = append(list.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ref})
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, false, err
	}
	if err := enc.Close(); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), true, nil
}
