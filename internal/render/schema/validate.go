package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// Set holds the OpenAPI schemas of CustomResourceDefinitions by
// "group/version Kind".
type Set map[string]*spec.Schema

// Parse reads the schemas of every version of every CRD in YAML streams.
func Parse(streams ...[]byte) (Set, error) {
	out := Set{}
	for _, data := range streams {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var crd struct {
				Spec struct {
					Group string `yaml:"group"`
					Names struct {
						Kind string `yaml:"kind"`
					} `yaml:"names"`
					Versions []struct {
						Name   string `yaml:"name"`
						Schema struct {
							OpenAPIV3Schema any `yaml:"openAPIV3Schema"`
						} `yaml:"schema"`
					} `yaml:"versions"`
				} `yaml:"spec"`
			}
			err := dec.Decode(&crd)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("CRDs: %w", err)
			}
			for _, v := range crd.Spec.Versions {
				raw, err := json.Marshal(v.Schema.OpenAPIV3Schema)
				if err != nil {
					return nil, err
				}
				var s spec.Schema
				if err := json.Unmarshal(raw, &s); err != nil {
					return nil, fmt.Errorf("CRD %s %s: %w", crd.Spec.Names.Kind, v.Name, err)
				}
				out[crd.Spec.Group+"/"+v.Name+" "+crd.Spec.Names.Kind] = &s
			}
		}
	}
	return out, nil
}

// Istio is the Set of the embedded Istio networking CRDs, parsed once.
var Istio = sync.OnceValues(func() (Set, error) { return Parse(IstioNetworking) })

// GatewayAPI is the Set of the embedded Gateway API CRDs, parsed once.
var GatewayAPI = sync.OnceValues(func() (Set, error) { return Parse(GatewayAPIRoutes) })

// ErrUnknownKind is returned by Validate for a resource no schema serves.
var ErrUnknownKind = errors.New("no CRD serves this apiVersion and kind")

// Validate checks a resource (decoded from JSON) against its schema, and
// reports fields the schema does not know: the API server would drop or
// refuse them, and a typo there silently changes behaviour. It returns the
// problems, sorted, or ErrUnknownKind.
func (s Set) Validate(obj map[string]any) ([]string, error) {
	key := fmt.Sprint(obj["apiVersion"], " ", obj["kind"])
	sch, ok := s[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, ErrUnknownKind)
	}
	var problems []string
	for _, e := range validate.NewSchemaValidator(sch, nil, "", strfmt.Default).Validate(obj).Errors {
		problems = append(problems, e.Error())
	}
	// metadata, apiVersion and kind are the API server's, not the schema's.
	rest := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			rest[k] = v
		}
	}
	unknownFields(sch, rest, "", &problems)
	sort.Strings(problems)
	return slices.Compact(problems), nil
}

func unknownFields(s *spec.Schema, v any, path string, problems *[]string) {
	if s == nil {
		return
	}
	if b, _ := s.Extensions.GetBool("x-kubernetes-preserve-unknown-fields"); b {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if len(s.Properties) == 0 {
			if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
				for k, item := range v {
					unknownFields(s.AdditionalProperties.Schema, item, path+"."+k, problems)
				}
			}
			return
		}
		for k, item := range v {
			p, ok := s.Properties[k]
			if !ok {
				*problems = append(*problems, strings.TrimPrefix(path+"."+k, ".")+": unknown field")
				continue
			}
			unknownFields(&p, item, path+"."+k, problems)
		}
	case []any:
		if s.Items != nil && s.Items.Schema != nil {
			for i, item := range v {
				unknownFields(s.Items.Schema, item, fmt.Sprintf("%s[%d]", path, i), problems)
			}
		}
	}
}
