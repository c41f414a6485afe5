package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/promoter-dev/promoter/internal/render/schema"
	"github.com/promoter-dev/promoter/internal/spec"
)

// validateCRD checks one built Istio or Gateway API resource against its
// CRD schema, unknown fields included.
func validateCRD(m manifest) error {
	schemas, err := schema.Istio()
	project := "Istio"
	if groupOf(m.APIVersion) == spec.GatewayAPIGroup {
		schemas, err = schema.GatewayAPI()
		project = "Gateway API"
	}
	if err != nil {
		return err
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
	problems, err := schemas.Validate(obj)
	if errors.Is(err, schema.ErrUnknownKind) {
		return fmt.Errorf("%s %s: apiVersion %s is not served by %s's CRDs", m.Kind, m.Metadata.Name, m.APIVersion, project)
	}
	if err != nil || len(problems) == 0 {
		return err
	}
	return fmt.Errorf("%s %s does not match the %s %s schema:\n  %s", m.Kind, qualified(m.Metadata.Namespace, m.Metadata.Name), project, m.APIVersion, strings.Join(problems, "\n  "))
}
