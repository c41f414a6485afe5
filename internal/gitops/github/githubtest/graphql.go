package githubtest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// graphqlSchema is the part of GitHub's GraphQL schema promoter's
// documents use, written by scripts/github-openapi from the npm package
// @octokit/graphql-schema (its version is in the file's first line).
//
//go:embed testdata/github-schema.graphql
var graphqlSchema string

var (
	gqlOnce   sync.Once
	gqlSchema *ast.Schema
	gqlErr    error
)

func loadGraphQL() (*ast.Schema, error) {
	gqlOnce.Do(func() {
		gqlSchema, gqlErr = gqlparser.LoadSchema(&ast.Source{Name: "github-schema.graphql", Input: graphqlSchema})
	})
	return gqlSchema, gqlErr
}

// checkGraphQLRequest validates a GraphQL request (document and variables)
// against GitHub's schema and returns its operation.
func checkGraphQLRequest(body []byte) (*ast.OperationDefinition, error) {
	schema, err := loadGraphQL()
	if err != nil {
		return nil, fmt.Errorf("GitHub's GraphQL schema: %v", err)
	}
	var in struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("POST /graphql: the request is not JSON: %v", err)
	}
	doc, errs := gqlparser.LoadQueryWithRules(schema, in.Query, rules.NewDefaultRules())
	if len(errs) > 0 {
		return nil, fmt.Errorf("POST /graphql: the document does not validate against GitHub's schema: %v", errs)
	}
	if len(doc.Operations) != 1 {
		return nil, fmt.Errorf("POST /graphql: %d operations in the document, want one", len(doc.Operations))
	}
	op := doc.Operations[0]
	if _, err := validator.VariableValues(schema, op, in.Variables); err != nil {
		return nil, fmt.Errorf("POST /graphql: the variables do not validate against GitHub's schema: %v", err)
	}
	return op, nil
}

// checkGraphQLAnswer checks an answer has the fields op selects, with the
// types GitHub's schema gives them, and nothing else.
func checkGraphQLAnswer(op *ast.OperationDefinition, body []byte) error {
	schema, _ := loadGraphQL()
	var out struct {
		Data   any `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return fmt.Errorf("POST /graphql: the answer is not JSON: %v", err)
	}
	for i, e := range out.Errors {
		if e.Message == "" {
			return fmt.Errorf("POST /graphql: errors[%d] has no message", i)
		}
	}
	if out.Data == nil {
		if len(out.Errors) == 0 {
			return fmt.Errorf("POST /graphql: an answer with neither data nor errors")
		}
		return nil
	}
	data, ok := out.Data.(map[string]any)
	if !ok {
		return fmt.Errorf("POST /graphql: data is not an object")
	}
	c := gqlChecker{schema: schema, op: op.Name}
	return c.selection(op.SelectionSet, data, "data")
}

type gqlChecker struct {
	schema *ast.Schema
	op     string
}

func (c gqlChecker) errorf(path, format string, a ...any) error {
	return fmt.Errorf("POST /graphql: the answer at %s does not match GitHub's schema: %s", path, fmt.Sprintf(format, a...))
}

func (c gqlChecker) selection(set ast.SelectionSet, v map[string]any, path string) error {
	var want []string
	for _, s := range set {
		f, ok := s.(*ast.Field)
		if !ok {
			return c.errorf(path, "fragments are not checked by the fake")
		}
		key := f.Alias
		if key == "" {
			key = f.Name
		}
		want = append(want, key)
		val, ok := v[key]
		if !ok {
			return c.errorf(path+"."+key, "missing")
		}
		if err := c.value(f.Definition.Type, f.SelectionSet, val, path+"."+key); err != nil {
			return err
		}
	}
	var extra []string
	for k := range v {
		if !slices.Contains(want, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return c.errorf(path, "fields not selected: %s", strings.Join(extra, ", "))
	}
	return nil
}

func (c gqlChecker) value(t *ast.Type, set ast.SelectionSet, v any, path string) error {
	if v == nil {
		if t.NonNull {
			return c.errorf(path, "null for non-null %s", t)
		}
		return nil
	}
	if t.Elem != nil {
		items, ok := v.([]any)
		if !ok {
			return c.errorf(path, "want a list of %s", t.Elem)
		}
		for i, x := range items {
			if err := c.value(t.Elem, set, x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	def := c.schema.Types[t.NamedType]
	switch def.Kind {
	case ast.Object:
		m, ok := v.(map[string]any)
		if !ok {
			return c.errorf(path, "want an object %s", def.Name)
		}
		return c.selection(set, m, path)
	case ast.Enum:
		s, _ := v.(string)
		if def.EnumValues.ForName(s) == nil {
			return c.errorf(path, "%v is not a value of %s", v, def.Name)
		}
	case ast.Scalar:
		switch def.Name {
		case "Int":
			if n, ok := v.(float64); !ok || n != math.Trunc(n) {
				return c.errorf(path, "%v is not an Int", v)
			}
		case "Float":
			if _, ok := v.(float64); !ok {
				return c.errorf(path, "%v is not a Float", v)
			}
		case "Boolean":
			if _, ok := v.(bool); !ok {
				return c.errorf(path, "%v is not a Boolean", v)
			}
		default: // String, ID and GitHub's string scalars
			if _, ok := v.(string); !ok {
				return c.errorf(path, "%v is not a %s", v, def.Name)
			}
		}
	default:
		return c.errorf(path, "%s %s is not checked by the fake", def.Kind, def.Name)
	}
	return nil
}
