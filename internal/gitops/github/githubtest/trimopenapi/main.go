// Command trimopenapi reads GitHub's REST API description (OpenAPI 3.0, as
// the npm package @octokit/openapi ships it in generated/api.github.com.json)
// on standard input and writes the part the fake GitHub API needs: for each
// operation promoter calls, its method, path, request-body schema, response
// schemas by status and the description's example of the success response,
// plus every component schema those reach. OpenAPI's "nullable: true" is
// rewritten as JSON Schema's null type so that a JSON Schema validator reads
// the schemas as GitHub means them.
//
// scripts/github-openapi runs it; see there.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// Operations are the operationIds promoter's GitHub forge calls.
var Operations = []string{
	"pulls/list",
	"pulls/create",
	"pulls/get",
	"pulls/update",
	"pulls/merge",
	"pulls/request-reviewers",
	"issues/add-labels",
	"issues/create-comment",
	"repos/create-commit-status",
	"repos/get-combined-status-for-ref",
	"repos/list-commit-statuses-for-ref",
	"checks/list-for-ref",
	"repos/get",
	"repos/get-branch-rules",
	"git/get-ref",
	"git/delete-ref",
}

// always are component schemas kept whether or not an operation names them:
// the body of an error answer no operation documents (a 429, a 502).
var always = []string{"basic-error"}

type doc = map[string]any

func main() {
	version := flag.String("version", "", "version of the @octokit/openapi package the input comes from (recorded in the output)")
	file := flag.String("file", "generated/api.github.com.json", "the file of the package the input is (recorded in the output)")
	flag.Parse()
	if *version == "" {
		fail(fmt.Errorf("-version is required"))
	}
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var d doc
	if err := json.Unmarshal(in, &d); err != nil {
		fail(fmt.Errorf("the input is not JSON: %w", err))
	}
	out, err := trim(d, *version, *file)
	if err != nil {
		fail(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "trimopenapi:", err)
	os.Exit(1)
}

func trim(d doc, version, file string) (doc, error) {
	comps, _ := d["components"].(doc)
	schemas, _ := comps["schemas"].(doc)
	responses, _ := comps["responses"].(doc)
	examples, _ := comps["examples"].(doc)
	paths, _ := d["paths"].(doc)
	if schemas == nil || paths == nil {
		return nil, fmt.Errorf("no paths or components.schemas: not an OpenAPI description")
	}
	info, _ := d["info"].(doc)
	ops := doc{}
	for _, id := range Operations {
		path, method, op := find(paths, id)
		if op == nil {
			return nil, fmt.Errorf("operation %s is not in the description", id)
		}
		o := doc{"method": strings.ToUpper(method), "path": path}
		if rb, ok := op["requestBody"].(doc); ok {
			if s := jsonSchema(rb); s != nil {
				o["request"] = s
				o["requestRequired"] = rb["required"] == true
			}
		}
		rs := doc{}
		for status, r := range op["responses"].(doc) {
			resp, _ := r.(doc)
			if ref, ok := resp["$ref"].(string); ok {
				resp, _ = responses[strings.TrimPrefix(ref, "#/components/responses/")].(doc)
			}
			entry := doc{}
			if s := jsonSchema(resp); s != nil {
				entry["schema"] = s
			}
			if ex := example(resp, examples); ex != nil {
				entry["example"] = ex
			}
			rs[status] = entry
		}
		o["responses"] = rs
		ops[id] = o
	}
	// Every component schema the operations reach, transitively.
	keep := map[string]bool{}
	queue := append([]string(nil), always...)
	collectRefs(ops, &queue)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if keep[name] {
			continue
		}
		s, ok := schemas[name]
		if !ok {
			return nil, fmt.Errorf("schema %s is referenced but not defined", name)
		}
		keep[name] = true
		collectRefs(s, &queue)
	}
	names := make([]string, 0, len(keep))
	for n := range keep {
		names = append(names, n)
	}
	sort.Strings(names)
	kept := doc{}
	for _, n := range names {
		kept[n] = schemas[n]
	}
	out := doc{
		"source": doc{
			"package":     "@octokit/openapi",
			"version":     version,
			"file":        file,
			"openapi":     d["openapi"],
			"api_version": info["version"],
			"note":        "trimmed by trimopenapi: the operations promoter calls and the schemas they reach; nullable rewritten as JSON Schema null types",
		},
		"operations": ops,
		"components": doc{"schemas": kept},
	}
	return rewrite(out, func(d doc) any { return nullable(strip(d)) }).(doc), nil
}

func find(paths doc, id string) (string, string, doc) {
	for p, v := range paths {
		for m, o := range v.(doc) {
			if op, ok := o.(doc); ok && op["operationId"] == id {
				return p, m, op
			}
		}
	}
	return "", "", nil
}

func jsonSchema(v doc) any {
	content, _ := v["content"].(doc)
	for _, ct := range []string{"application/json", "application/scim+json"} {
		if c, ok := content[ct].(doc); ok {
			return c["schema"]
		}
	}
	return nil
}

func example(resp doc, examples doc) any {
	content, _ := resp["content"].(doc)
	c, _ := content["application/json"].(doc)
	exs, _ := c["examples"].(doc)
	keys := make([]string, 0, len(exs))
	for k := range exs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ex, _ := exs[k].(doc)
		if ref, ok := ex["$ref"].(string); ok {
			ex, _ = examples[strings.TrimPrefix(ref, "#/components/examples/")].(doc)
		}
		if v, ok := ex["value"]; ok {
			return v
		}
	}
	return nil
}

func collectRefs(v any, queue *[]string) {
	switch t := v.(type) {
	case doc:
		if ref, ok := t["$ref"].(string); ok && strings.HasPrefix(ref, "#/components/schemas/") {
			*queue = append(*queue, strings.TrimPrefix(ref, "#/components/schemas/"))
		}
		for _, x := range t {
			collectRefs(x, queue)
		}
	case []any:
		for _, x := range t {
			collectRefs(x, queue)
		}
	}
}

// prose are keywords that say nothing a validator checks.
var prose = []string{"description", "summary", "examples", "externalDocs", "x-github", "x-multi-segment", "x-github-breaking-changes"}

// rewrite copies a schema tree, calling f on every schema object after its
// children are rewritten. Examples are data and are copied as they are, and
// so are property names (a property may be called description).
func rewrite(v any, f func(doc) any) any {
	switch t := v.(type) {
	case doc:
		out := doc{}
		for k, x := range t {
			switch k {
			case "example":
				out[k] = x
			case "properties":
				props := doc{}
				for name, ps := range x.(doc) {
					props[name] = rewrite(ps, f)
				}
				out[k] = props
			default:
				out[k] = rewrite(x, f)
			}
		}
		return f(out)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = rewrite(x, f)
		}
		return out
	}
	return v
}

// strip drops prose from a schema object.
func strip(d doc) doc {
	for _, k := range prose {
		delete(d, k)
	}
	return d
}

// nullable rewrites OpenAPI 3.0's nullable: true of a schema object as JSON
// Schema: a null type beside the declared one (and null among the enum
// values), or, with no type, anyOf the schema and null.
func nullable(d doc) any {
	if d["nullable"] != true {
		delete(d, "nullable")
		return d
	}
	delete(d, "nullable")
	if typ, ok := d["type"].(string); ok {
		d["type"] = []any{typ, "null"}
		if enum, ok := d["enum"].([]any); ok && !slices.Contains(enum, any(nil)) {
			d["enum"] = append(enum, nil)
		}
		return d
	}
	return doc{"anyOf": []any{d, doc{"type": "null"}}}
}
