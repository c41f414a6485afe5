package render

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
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/promoter-dev/promoter/internal/render/schema"
)

// crdSchemas maps "group/version Kind" to the OpenAPI schema of that
// version of the CRD, loaded once from the embedded file.
var crdSchemas = sync.OnceValues(func() (map[string]*spec.Schema, error) {
	out := map[string]*spec.Schema{}
	dec := yaml.NewDecoder(bytes.NewReader(schema.IstioNetworking))
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
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("embedded Istio CRDs: %w", err)
		}
		for _, v := range crd.Spec.Versions {
			raw, err := json.Marshal(v.Schema.OpenAPIV3Schema)
			if err != nil {
				return nil, err
			}
			var s spec.Schema
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("embedded Istio CRD %s %s: %w", crd.Spec.Names.Kind, v.Name, err)
			}
			out[crd.Spec.Group+"/"+v.Name+" "+crd.Spec.Names.Kind] = &s
		}
	}
})

// validateCRD checks one built Istio resource against its CRD schema, and
// reports fields the schema does not know (the API server would drop or
// refuse them, and a typo there silently changes routing).
func validateCRD(m manifest) error {
	schemas, err := crdSchemas()
	if err != nil {
		return err
	}
	s, ok := schemas[m.APIVersion+" "+m.Kind]
	if !ok {
		return fmt.Errorf("%s %s: apiVersion %s is not served by Istio's CRDs", m.Kind, m.Metadata.Name, m.APIVersion)
	}
	// Round-trip through JSON so numbers and maps have the types the
	// validator expects.
	y, err := yaml.Marshal(m.node)
	if err != nil {
		return err
	}
	j, err := sigsyaml.YAMLToJSON(y)
	if err != nil {
		return err
	}
	var obj map[string]any
	if err := json.Unmarshal(j, &obj); err != nil {
		return err
	}
	var problems []string
	res := validate.NewSchemaValidator(s, nil, "", strfmt.Default).Validate(obj)
	for _, e := range res.Errors {
		problems = append(problems, e.Error())
	}
	// metadata, apiVersion and kind are the API server's, not the schema's.
	delete(obj, "metadata")
	delete(obj, "apiVersion")
	delete(obj, "kind")
	unknownFields(s, obj, "", &problems)
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	problems = slices.Compact(problems)
	return fmt.Errorf("%s %s does not match the Istio %s schema:\n  %s", m.Kind, qualified(m.Metadata.Namespace, m.Metadata.Name), m.APIVersion, strings.Join(problems, "\n  "))
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
				*problems = append(*problems, fmt.Sprintf("%s: unknown field", strings.TrimPrefix(path+"."+k, ".")))
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
