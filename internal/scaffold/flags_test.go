package scaffold

import (
	"bytes"
	"context"
	"encoding/json"
	"path"
	"testing"
	"testing/fstest"

	corev1 "k8s.io/api/core/v1"

	"github.com/promoter-dev/promoter/internal/spec"
)

// TestFeatureFlags: every scaffold writes the feature-flags ConfigMap in
// its base, a Kubernetes ConfigMap whose flags.json holds the flag the
// Canary spec ties, with enabled and rollout_percentage (0: what applies
// between canaries), and nothing else than the guide's fields.
func TestFeatureFlags(t *testing.T) {
	for name, o := range optionCases() {
		t.Run(name, func(t *testing.T) {
			files := generate(t, o)
			fsys := fstest.MapFS{}
			for p, data := range files {
				fsys[p] = &fstest.MapFile{Data: data}
			}
			cs, err := spec.Load(context.Background(), fsys)
			if err != nil {
				t.Fatal(err)
			}
			ff := cs[0].Spec.FeatureFlag
			if ff == nil || ff.ConfigMap != "feature-flags" || ff.Key != "flags.json" {
				t.Fatalf("spec.featureFlag %+v, want the feature-flags ConfigMap's flags.json", ff)
			}
			doc := files[path.Join("apps", o.Name, "base", "feature-flags.yaml")]
			var cm corev1.ConfigMap
			if err := strict(doc, &cm); err != nil {
				t.Fatal(err)
			}
			if cm.Name != ff.ConfigMap || cm.Namespace != o.Namespace {
				t.Errorf("ConfigMap %s/%s, want %s/%s", cm.Namespace, cm.Name, o.Namespace, ff.ConfigMap)
			}
			dec := json.NewDecoder(bytes.NewReader([]byte(cm.Data[ff.Key])))
			dec.DisallowUnknownFields()
			var flags map[string]struct {
				Enabled           *bool  `json:"enabled"`
				RolloutPercentage *int   `json:"rollout_percentage"`
				Description       string `json:"description"`
			}
			if err := dec.Decode(&flags); err != nil {
				t.Fatalf("flags.json: %v\n%s", err, cm.Data[ff.Key])
			}
			f, ok := flags[ff.Name]
			if !ok || f.Enabled == nil || !*f.Enabled || f.RolloutPercentage == nil || *f.RolloutPercentage != 0 {
				t.Errorf("flag %s is %+v, want enabled at 0%%", ff.Name, f)
			}
		})
	}
}
