package githubtest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// description is the part of GitHub's REST API description the fake is
// held to, written by scripts/github-openapi from the npm package
// @octokit/openapi (its version is in the file's "source").
//
//go:embed testdata/github-openapi.json
var description []byte

// operation is one REST operation of the description, compiled.
type operation struct {
	id, method, path string
	re               *regexp.Regexp
	request          *jsonschema.Schema
	requestRequired  bool
	responses        map[string]*jsonschema.Schema
	examples         map[string]any
}

type api struct {
	source map[string]any
	ops    []*operation
	// basicError is GitHub's error body, for statuses an operation does
	// not list (a 429, a 502).
	basicError *jsonschema.Schema
}

var (
	apiOnce sync.Once
	apiDesc *api
	apiErr  error
)

// loadAPI compiles the description once per test binary.
func loadAPI() (*api, error) {
	apiOnce.Do(func() { apiDesc, apiErr = compileAPI(description) })
	return apiDesc, apiErr
}

func compileAPI(data []byte) (*api, error) {
	const loc = "file:///github-openapi.json"
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("github-openapi.json: %w", err)
	}
	var raw struct {
		Source     map[string]any `json:"source"`
		Operations map[string]struct {
			Method, Path    string
			Request         json.RawMessage
			RequestRequired bool `json:"requestRequired"`
			Responses       map[string]struct {
				Schema  json.RawMessage
				Example any
			}
		}
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("github-openapi.json: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	ptr := func(parts ...string) string {
		for i, p := range parts {
			parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1")
		}
		return loc + "#/" + strings.Join(parts, "/")
	}
	a := &api{source: raw.Source}
	if a.basicError, err = c.Compile(ptr("components", "schemas", "basic-error")); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(raw.Operations))
	for id := range raw.Operations {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		ro := raw.Operations[id]
		op := &operation{id: id, method: ro.Method, path: ro.Path, requestRequired: ro.RequestRequired,
			responses: map[string]*jsonschema.Schema{}, examples: map[string]any{}}
		op.re = pathPattern(ro.Path)
		if len(ro.Request) > 0 {
			if op.request, err = c.Compile(ptr("operations", id, "request")); err != nil {
				return nil, fmt.Errorf("%s request: %w", id, err)
			}
		}
		for status, r := range ro.Responses {
			if len(r.Schema) > 0 {
				if op.responses[status], err = c.Compile(ptr("operations", id, "responses", status, "schema")); err != nil {
					return nil, fmt.Errorf("%s response %s: %w", id, status, err)
				}
			} else {
				op.responses[status] = nil // documented, without a body
			}
			if r.Example != nil {
				op.examples[status] = r.Example
			}
		}
		a.ops = append(a.ops, op)
	}
	return a, nil
}

// pathPattern matches a path template; a parameter is one segment, except
// a ref or branch name at the end, which may hold slashes.
func pathPattern(tmpl string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	segs := strings.Split(tmpl, "/")
	for i, s := range segs {
		if i > 0 {
			b.WriteString("/")
		}
		switch {
		case strings.HasPrefix(s, "{") && i == len(segs)-1 && (s == "{ref}" || s == "{branch}"):
			b.WriteString(".+")
		case strings.HasPrefix(s, "{"):
			b.WriteString("[^/]+")
		default:
			b.WriteString(regexp.QuoteMeta(s))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func (a *api) find(method, path string) *operation {
	for _, op := range a.ops {
		if op.method == method && op.re.MatchString(path) {
			return op
		}
	}
	return nil
}

// example is a deep copy of the description's example of op's answer with
// status, decoded into plain maps and slices.
func (a *api) example(id string, status int) any {
	for _, op := range a.ops {
		if op.id != id {
			continue
		}
		ex, ok := op.examples[strconv.Itoa(status)]
		if !ok {
			return nil
		}
		data, _ := json.Marshal(ex)
		var out any
		json.Unmarshal(data, &out)
		return out
	}
	return nil
}

// checkRequest validates a request body against its operation's schema.
func (a *api) checkRequest(op *operation, body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if op.requestRequired {
			return fmt.Errorf("%s %s (%s): the request has no body; the description requires one", op.method, op.path, op.id)
		}
		return nil
	}
	if op.request == nil {
		return fmt.Errorf("%s %s (%s): the request has a body; the description defines none", op.method, op.path, op.id)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s (%s): the request body is not JSON: %v", op.method, op.path, op.id, err)
	}
	if err := op.request.Validate(v); err != nil {
		return fmt.Errorf("%s %s (%s): the request body does not match GitHub's schema: %v", op.method, op.path, op.id, err)
	}
	return nil
}

// checkResponse validates an answer against the schema of its status.
func (a *api) checkResponse(op *operation, status int, body []byte) error {
	sch, documented := op.responses[strconv.Itoa(status)]
	if !documented {
		if status < 400 {
			return fmt.Errorf("%s %s (%s): status %d is not an answer the description lists", op.method, op.path, op.id, status)
		}
		sch = a.basicError // a rate limit or server error any call may get
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if sch != nil && status != http.StatusNotModified {
			return fmt.Errorf("%s %s (%s): the %d answer has no body; the description defines one", op.method, op.path, op.id, status)
		}
		return nil
	}
	if sch == nil && status >= 400 {
		sch = a.basicError // an error documented without a body schema
	}
	if sch == nil {
		return fmt.Errorf("%s %s (%s): the %d answer has a body; the description defines none", op.method, op.path, op.id, status)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s (%s): the %d answer is not JSON: %v", op.method, op.path, op.id, status, err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("%s %s (%s): the %d answer does not match GitHub's schema: %v", op.method, op.path, op.id, status, err)
	}
	return nil
}
