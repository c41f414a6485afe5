package scaffold

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/promoter-dev/promoter/internal/render/schema"
)

// istioSchemas are Istio's CRD schemas: VirtualService and DestinationRule
// from the schemas promoter ships, EnvoyFilter from testdata (generated from
// the same istio.io/api module).
var istioSchemas = sync.OnceValues(func() (schema.Set, error) {
	envoyFilter, err := os.ReadFile("testdata/istio-envoyfilter.gen.yaml")
	if err != nil {
		return nil, err
	}
	return schema.Parse(schema.IstioNetworking, envoyFilter)
})

// validateIstio checks one Istio resource against its CRD schema,
// reporting fields the schema does not know as well.
func validateIstio(t *testing.T, doc []byte) error {
	t.Helper()
	return validateAgainst(t, istioSchemas, doc)
}

// validateAgainst checks one resource against the CRD schemas load returns.
func validateAgainst(t *testing.T, load func() (schema.Set, error), doc []byte) error {
	t.Helper()
	schemas, err := load()
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
	problems, err := schemas.Validate(obj)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s %s:\n  %s", obj["apiVersion"], obj["kind"], strings.Join(problems, "\n  "))
	}
	return nil
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
