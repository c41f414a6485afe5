package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Limits on what Parse accepts, so that a hostile or broken file cannot make
// promoter spend unbounded memory.
const (
	// MaxDocumentSize is the largest spec file accepted.
	MaxDocumentSize = 1 << 20
	// MaxExpandedNodes bounds the number of YAML nodes a document expands to
	// once aliases are followed ("billion laughs").
	MaxExpandedNodes = 100_000
)

// ErrTooLarge is returned for a spec file over MaxDocumentSize.
var ErrTooLarge = errors.New("spec file is larger than 1 MiB")

// Parse reads every Canary document of a YAML stream. file names the stream
// in error messages. Documents of other kinds are skipped, so a spec file may
// hold other resources too.
//
// Parse reports problems of the stream (YAML syntax, size, aliases) as a
// [ValidationError]. Problems of a document's form (unknown fields, wrong
// types) are kept with the Canary and reported by [Canary.Validate] together
// with every other problem of the document. Parse does not default or
// validate: see [Canary.Normalize] and [Canary.Validate].
func Parse(r io.Reader, file string) ([]*Canary, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(data) > MaxDocumentSize {
		return nil, &ValidationError{Problems: []Problem{{File: file, Line: 1, Message: ErrTooLarge.Error()}}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var (
		out      []*Canary
		problems []Problem
	)
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// yaml.v3 reports syntax errors at the 0-based line of its mark.
			problems = append(problems, Problem{File: file, Line: yamlErrorLine(err) + 1, Message: cleanYAMLError(err)})
			break // the decoder cannot resynchronise after a syntax error
		}
		c, ps := parseDocument(&doc, file)
		problems = append(problems, ps...)
		if c != nil {
			out = append(out, c)
		}
	}
	if len(problems) > 0 {
		return out, &ValidationError{Problems: problems}
	}
	return out, nil
}

// parseDocument decodes one document if it is a Canary. It returns nil and
// no problems for documents of other kinds.
func parseDocument(doc *yaml.Node, file string) (*Canary, []Problem) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	if n := ExpandedNodes(doc); n > MaxExpandedNodes {
		return nil, []Problem{{File: file, Line: doc.Line, Message: fmt.Sprintf("document expands to more than %d nodes through aliases; refusing to read it", MaxExpandedNodes)}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nil
	}
	if !isCanary(root) {
		return nil, nil
	}
	src := Source{File: file, Line: root.Line, lines: map[string]int{}}
	var problems []Problem
	checkFields(root, reflect.TypeOf(Canary{}), "", src, &problems)
	var c Canary
	if err := root.Decode(&c); err != nil {
		// yaml.v3 decodes what it can and lists the type errors.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, append(problems, Problem{File: file, Line: root.Line, Message: cleanYAMLError(err)})
		}
		for _, msg := range te.Errors {
			if strings.Contains(msg, "already defined at line") {
				// checkFields reported the duplicate with its path; what
				// yaml.v3 decoded of this document cannot be trusted.
				return nil, problems
			}
			line := yamlErrorLine(errors.New(msg))
			problems = append(problems, Problem{File: file, Line: line, Field: src.pathAt(line), Message: cleanYAMLError(errors.New(msg))})
		}
	}
	src.problems = problems
	c.Source = src
	return &c, nil
}

// isCanary reports whether a mapping is a Canary document (by kind, and by
// apiVersion when one is given in the promoter.dev group).
func isCanary(m *yaml.Node) bool {
	var kind, api string
	for i := 0; i+1 < len(m.Content); i += 2 {
		switch m.Content[i].Value {
		case "kind":
			kind = m.Content[i+1].Value
		case "apiVersion":
			api = m.Content[i+1].Value
		}
	}
	return kind == Kind && (api == "" || strings.HasPrefix(api, "promoter.dev/"))
}

// ExpandedNodes counts the nodes of the document n with aliases followed,
// stopping early once [MaxExpandedNodes] is passed: an alias bomb is found
// without expanding it. Every YAML document promoter reads is checked so.
func ExpandedNodes(n *yaml.Node) int { return countExpanded(n, 0) }

func countExpanded(n *yaml.Node, depth int) int {
	if n == nil || depth > 1000 {
		return MaxExpandedNodes + 1
	}
	if n.Kind == yaml.AliasNode {
		return 1 + countExpanded(n.Alias, depth+1)
	}
	total := 1
	for _, c := range n.Content {
		total += countExpanded(c, depth+1)
		if total > MaxExpandedNodes {
			return total
		}
	}
	return total
}

// checkFields walks a mapping against the struct type it decodes into,
// recording the line of every field in src and reporting keys that are not
// fields: a typo must not silently disable a gate.
func checkFields(n *yaml.Node, t reflect.Type, path string, src Source, problems *[]Problem) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if path != "" {
		if _, ok := src.lines[path]; !ok {
			src.lines[path] = n.Line
		}
	}
	if reflect.PointerTo(t).Implements(reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // a type error; Decode reports it
		}
		fields := yamlFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			if k.Value == "<<" {
				*problems = append(*problems, Problem{File: src.File, Line: k.Line, Field: path, Message: "merge keys (<<) are not supported in Canary specs"})
				continue
			}
			if seen[k.Value] {
				*problems = append(*problems, Problem{File: src.File, Line: k.Line, Field: p, Message: "field given twice"})
				continue
			}
			seen[k.Value] = true
			f, ok := fields[k.Value]
			if !ok {
				*problems = append(*problems, Problem{File: src.File, Line: k.Line, Field: p, Message: unknownFieldMessage(k.Value, fields)})
				continue
			}
			src.lines[p] = k.Line
			checkFields(v, f.Type, p, src, problems)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, item := range n.Content {
			checkFields(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), src, problems)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkFields(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), src, problems)
		}
	}
}

func unknownFieldMessage(key string, fields map[string]reflect.StructField) string {
	best, bestD := "", 3
	for name := range fields {
		k, n := strings.ToLower(key), strings.ToLower(name)
		d := editDistance(k, n)
		if strings.HasPrefix(k, n) || strings.HasPrefix(n, k) {
			d = min(d, 2)
		}
		if d < bestD || (d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown field (did you mean %q?)", best)
	}
	return "unknown field"
}

// fieldsOf caches yamlFields by type: checkFields asks for every mapping
// of every document.
var fieldsOf sync.Map // reflect.Type -> map[string]reflect.StructField

// yamlFields maps the YAML names of a struct's fields to the fields. The
// map is shared: callers must not modify it.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	if m, ok := fieldsOf.Load(t); ok {
		return m.(map[string]reflect.StructField)
	}
	m := structFields(t)
	shared, _ := fieldsOf.LoadOrStore(t, m)
	return shared.(map[string]reflect.StructField)
}

func structFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// pathAt returns the deepest recorded field path on the given line.
func (s Source) pathAt(line int) string {
	best := ""
	for p, l := range s.lines {
		if l == line && (len(p) > len(best) || (len(p) == len(best) && p < best)) {
			best = p
		}
	}
	return best
}

// yamlErrorLine extracts the line from a yaml.v3 error message ("yaml: line
// 12: ..." or "line 12: ...").
func yamlErrorLine(err error) int {
	msg := err.Error()
	i := strings.Index(msg, "line ")
	if i < 0 {
		return 1
	}
	var line int
	if _, err := fmt.Sscanf(msg[i:], "line %d", &line); err != nil || line < 1 {
		return 1
	}
	return line
}

// cleanYAMLError turns yaml.v3's messages into short ones without the line
// (which the Problem carries) or Go type names.
func cleanYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(msg, "line "); i >= 0 {
		if j := strings.Index(msg[i:], ": "); j >= 0 {
			msg = msg[:i] + msg[i+j+2:]
		}
	}
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	for goType, name := range map[string]string{"int32": "an integer", "int": "an integer", "float64": "a number", "bool": "true or false", "string": "a string"} {
		msg = strings.Replace(msg, "into "+goType, "into "+name, 1)
	}
	if strings.HasPrefix(msg, "cannot unmarshal !!") {
		// "cannot unmarshal !!str `abc` into an integer" -> "`abc` is not an integer"
		rest := strings.TrimPrefix(msg, "cannot unmarshal ")
		if _, after, ok := strings.Cut(rest, " "); ok {
			if val, typ, ok := strings.Cut(after, " into "); ok {
				return val + " is not " + typ
			}
			if strings.Contains(rest, " into ") {
				return msg
			}
		}
		if kind, typ, ok := strings.Cut(rest, " into "); ok {
			return "a " + strings.TrimPrefix(kind, "!!") + " is not " + typ
		}
	}
	return msg
}

// editDistance is the Levenshtein distance, for "did you mean" hints.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
