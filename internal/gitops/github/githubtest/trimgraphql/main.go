// Command trimgraphql reads GitHub's public GraphQL schema (schema.graphql
// of the npm package @octokit/graphql-schema) on standard input and writes
// the part promoter's GraphQL documents use: the fields listed below, the
// types of their arguments (input objects, enums and scalars whole) and of
// their results. The fake GitHub API validates every GraphQL request
// against it, and every answer against the selection and the schema.
//
// scripts/github-openapi runs it; see there.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"
)

// Fields are the object fields promoter's GraphQL documents select, by type.
var Fields = map[string][]string{
	"Query":                     {"repository"},
	"Mutation":                  {"enqueuePullRequest"},
	"Repository":                {"pullRequest"},
	"PullRequest":               {"state", "merged", "mergeQueueEntry"},
	"MergeQueueEntry":           {"state", "position"},
	"EnqueuePullRequestPayload": {"mergeQueueEntry"},
}

func main() {
	version := flag.String("version", "", "version of the @octokit/graphql-schema package the input comes from (recorded in the output)")
	flag.Parse()
	if *version == "" {
		fail(fmt.Errorf("-version is required"))
	}
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	out, err := trim(string(in), *version)
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "trimgraphql:", err)
	os.Exit(1)
}

func trim(sdl, version string) ([]byte, error) {
	// Parsed, not loaded: GitHub's schema does not pass a strict load
	// (version 15.26.1 defines EnterpriseOwnerInfo.repositoryDeployKeySetting
	// twice), and only the kept part has to.
	parsed, err := parser.ParseSchema(&ast.Source{Name: "schema.graphql", Input: sdl})
	if err != nil {
		return nil, fmt.Errorf("schema.graphql: %w", err)
	}
	types := map[string]*ast.Definition{}
	for _, d := range parsed.Definitions {
		if _, dup := types[d.Name]; !dup {
			types[d.Name] = d
		}
	}
	builtin := []string{"String", "Int", "Float", "Boolean", "ID"}
	kept := map[string]*ast.Definition{}
	var queue []string
	keep := func(name string) {
		if _, ok := kept[name]; !ok && !slices.Contains(queue, name) {
			queue = append(queue, name)
		}
	}
	strip := func(f *ast.FieldDefinition) *ast.FieldDefinition {
		c := *f
		c.Directives = nil
		c.Description = ""
		var args ast.ArgumentDefinitionList
		for _, a := range f.Arguments {
			ac := *a
			ac.Directives, ac.Description = nil, ""
			args = append(args, &ac)
			keep(a.Type.Name())
		}
		c.Arguments = args
		keep(f.Type.Name())
		return &c
	}
	for name := range Fields {
		keep(name)
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if slices.Contains(builtin, name) {
			continue
		}
		def := types[name]
		if def == nil {
			return nil, fmt.Errorf("type %s is not in GitHub's schema", name)
		}
		c := &ast.Definition{Kind: def.Kind, Name: def.Name}
		switch def.Kind {
		case ast.Object, ast.Interface:
			want, ok := Fields[name]
			if !ok {
				return nil, fmt.Errorf("a kept field returns %s %s: list the fields of it promoter selects", def.Kind, name)
			}
			for _, fn := range want {
				f := def.Fields.ForName(fn)
				if f == nil {
					return nil, fmt.Errorf("%s.%s is not in GitHub's schema", name, fn)
				}
				c.Fields = append(c.Fields, strip(f))
			}
		case ast.InputObject:
			for _, f := range def.Fields {
				c.Fields = append(c.Fields, strip(f))
			}
		case ast.Enum:
			for _, v := range def.EnumValues {
				vc := *v
				vc.Directives, vc.Description = nil, ""
				c.EnumValues = append(c.EnumValues, &vc)
			}
		case ast.Scalar:
		default:
			return nil, fmt.Errorf("%s is a %s: not supported", name, def.Kind)
		}
		kept[name] = c
	}
	names := make([]string, 0, len(kept))
	for n := range kept {
		names = append(names, n)
	}
	sort.Strings(names)
	doc := &ast.SchemaDocument{Schema: ast.SchemaDefinitionList{{OperationTypes: ast.OperationTypeDefinitionList{
		{Operation: ast.Query, Type: "Query"}, {Operation: ast.Mutation, Type: "Mutation"},
	}}}}
	for _, n := range names {
		doc.Definitions = append(doc.Definitions, kept[n])
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# GitHub's GraphQL schema, from the npm package @octokit/graphql-schema@%s (schema.graphql),\n", version)
	b.WriteString("# trimmed by trimgraphql to the fields promoter's GraphQL documents select. Regenerate with\n# scripts/github-openapi.\n\n")
	formatter.NewFormatter(&b).FormatSchemaDocument(doc)
	// The result must load on its own.
	if _, err := gqlparser.LoadSchema(&ast.Source{Name: "trimmed.graphql", Input: b.String()}); err != nil {
		return nil, fmt.Errorf("the trimmed schema does not load: %w", err)
	}
	return b.Bytes(), nil
}
