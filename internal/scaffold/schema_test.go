package scaffold

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/promoter-dev/promoter/internal/render/schema"
)

// istioSchemas maps "apiVersion Kind" to the OpenAPI schema of Istio's CRDs:
// VirtualService and DestinationRule from the schemas promoter ships,
// EnvoyFilter from testdata (generated from the same istio.io/api module).
var istioSchemas = sync.OnceValues(func() (map[string]*spec.Schema, error) {
	envoyFilter, err := os.ReadFile("testdata/istio-envoyfilter.gen.yaml")
	if err != nil {
		return nil, err
	}
	out := map[string]*spec.Schema{}
	for _, data := range [][]byte{schema.IstioNetworking, envoyFilter} {
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
				return nil, err
			}
			for _, v := range crd.Spec.Versions {
				raw, err := json.Marshal(v.Schema.OpenAPIV3Schema)
				if err != nil {
					return nil, err
				}
				var s spec.Schema
				if err := json.Unmarshal(raw, &s); err != nil {
					return nil, err
				}
				out[crd.Spec.Group+"/"+v.Name+" "+crd.Spec.Names.Kind] = &s
			}
		}
	}
	return out, nil
})

// validateIstio checks one Istio resource against its CRD schema,
// reporting fields the schema does not know as well.
func validateIstio(t *testing.T, doc []byte) error {
	t.Helper()
	schemas, err := istioSchemas()
	if err != nil {
		t.Fatal(err)
	}
	j, err := sigsyaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	var obj map[string]any
	if err := json.Unmarshal(j, &obj); err != nil {
		return err
	}
	key := fmt.Sprint(obj["apiVersion"], " ", obj["kind"])
	s, ok := schemas[key]
	if !ok {
		return fmt.Errorf("%s: no Istio CRD serves it", key)
	}
	var problems []string
	for _, e := range validate.NewSchemaValidator(s, nil, "", strfmt.Default).Validate(obj).Errors {
		problems = append(problems, e.Error())
	}
	delete(obj, "apiVersion")
	delete(obj, "kind")
	delete(obj, "metadata")
	unknownFields(s, obj, "", &problems)
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%s:\n  %s", key, strings.Join(problems, "\n  "))
	}
	return nil
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

// TestIstioSchemaCatchesMistakes makes sure the validation above can fail.
func TestIstioSchemaCatchesMistakes(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [x]\n  http:\n    - name: r\n      route: [{destination: {host: x}, wieght: 5}]\n",
		"wrong type":    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x}\nspec:\n  host: x\n  trafficPolicy: {outlierDetection: {consecutive5xxErrors: many}}\n",
		"bad enum":      "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: x}\nspec:\n  configPatches: [{applyTo: NOT_A_THING}]\n",
		"not served":    "apiVersion: networking.istio.io/v1\nkind: EnvoyFilter\nmetadata: {name: x}\nspec: {}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := validateIstio(t, []byte(doc)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
