package spec

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to the parser and validator. Neither
// may panic, and every problem they report must be located in the file.
func FuzzParse(f *testing.F) {
	f.Add(valid)
	f.Add(strings.Replace(valid, "weight: 25", "weight: 120", 1))
	f.Add(strings.Replace(valid, "threshold: 5", "treshold: [5", 1))
	f.Add("apiVersion: promoter.dev/v1alpha1\nkind: Canary\nmetadata: &m {name: x}\nspec: {overlay: *m}\n")
	f.Add("kind: Canary\nspec:\n  steps: [{weight: 1}, {weight: 1}]\n  analysis: {stepWeight: 200, metrics: [{name: request-duration, thresholdRange: {max: 1}}]}\n")
	f.Add("---\n---\nkind: Canary\n<<: {a: 1}\n")
	f.Fuzz(func(t *testing.T, src string) {
		cs, err := Parse(strings.NewReader(src), "fuzz.canary.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.canary.yaml:") {
				t.Fatalf("problem not located in the file: %q", err.Error())
			}
			return
		}
		for _, c := range cs {
			c.Normalize()
			if err := c.Validate(); err != nil && !strings.HasPrefix(err.Error(), "fuzz.canary.yaml:") {
				t.Fatalf("problem not located in the file: %q", err.Error())
			}
			c.Normalize() // idempotent, must not panic either
		}
	})
}
