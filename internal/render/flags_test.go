package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// flagsJSON is the flags document of the fixture, as a person writes it:
// compact in places, fields promoter does not know, a second flag.
const flagsJSON = `{
  "dark-mode": {"enabled": true, "rollout_percentage": 100, "owner": "web"},
  "new-checkout": {
    "enabled": true,
    "rollout_percentage": 0,
    "description": "the checkout of v2",
    "targeting": {"countries": ["DE", "FR"], "beta": true, "weight": 1.50}
  }
}
`

const flagsConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: feature-flags
  namespace: canary-demo
data:
  flags.json: |
    {
      "dark-mode": {"enabled": true, "rollout_percentage": 100, "owner": "web"},
      "new-checkout": {
        "enabled": true,
        "rollout_percentage": 0,
        "description": "the checkout of v2",
        "targeting": {"countries": ["DE", "FR"], "beta": true, "weight": 1.50}
      }
    }
`

// withFlag is the example repository with configMap as its feature-flags
// ConfigMap and featureFlag as the canary's spec.featureFlag.
func withFlag(t *testing.T, configMap, featureFlag string) (*spec.Canary, fstest.MapFS) {
	t.Helper()
	_, repo := loadExample(t)
	repo["apps/myapp/base/feature-flags.yaml"] = &fstest.MapFile{Data: []byte(configMap)}
	s := string(repo["apps/myapp/canary.yaml"].Data)
	const tie = "  featureFlag: {name: myapp-canary}\n"
	if !strings.Contains(s, tie) {
		t.Fatal("test bug: the example spec does not tie flag myapp-canary")
	}
	repo["apps/myapp/canary.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(s, tie, "  featureFlag: "+featureFlag+"\n", 1))}
	cs, err := spec.Load(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	return cs[0], repo
}

// builtFlags returns data.flags.json of the built feature-flags ConfigMap.
func builtFlags(t *testing.T, manifests []byte) string {
	t.Helper()
	m := builtResource(t, manifests, "", "ConfigMap", "feature-flags", "canary-demo")
	return lookup(m.node, "data", "flags.json").Value
}

// decodeFlags decodes a flags document into plain values.
func decodeFlags(t *testing.T, doc string) map[string]map[string]any {
	t.Helper()
	var out map[string]map[string]any
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("flags.json as built is not JSON: %v\n%s", err, doc)
	}
	return out
}

// TestFeatureFlagFollowsTheWeight renders every stage of a canary tied to
// a flag: the built ConfigMap's rollout_percentage is the weight at every
// step and 100 once promoted, every other field of the flag and the other
// flag are as written, and before the first step and after a rollback the
// ConfigMap is byte for byte as authored.
func TestFeatureFlagFollowsTheWeight(t *testing.T) {
	c, repo := withFlag(t, flagsConfigMap, "{name: new-checkout}")
	authored := decodeFlags(t, flagsJSON)
	check := func(name string, st Stage, want json.Number) {
		t.Helper()
		res, err := Render(c, repo, st)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := decodeFlags(t, builtFlags(t, res.Manifests))
		for flag, fields := range authored {
			for k, v := range fields {
				if flag == "new-checkout" && k == "rollout_percentage" {
					continue
				}
				if g, _ := json.Marshal(got[flag][k]); string(g) != mustJSON(t, v) {
					t.Errorf("%s: %s.%s is %s, want %s as written", name, flag, k, g, mustJSON(t, v))
				}
			}
			if len(got[flag]) != len(fields) {
				t.Errorf("%s: flag %s has fields %v, want %v", name, flag, got[flag], fields)
			}
		}
		if p := got["new-checkout"]["rollout_percentage"]; p != want {
			t.Errorf("%s: rollout_percentage %v, want %v", name, p, want)
		}
		if w := splitRoute(t, res.Manifests)["canary"]; st.Rollback == nil && st.Step <= len(c.Spec.Steps) && w != st.Weight {
			t.Errorf("%s: canary weight %d, want %d", name, w, st.Weight)
		}
	}
	check("step 0", Stage{}, "0")
	for i, s := range c.Spec.Steps {
		check("step "+s.Pause.String(), Stage{Step: i + 1, Weight: s.Weight}, json.Number(strconv.Itoa(s.Weight)))
	}
	check("promoted", Stage{Step: len(c.Spec.Steps) + 1, StableImage: "myapp:v2.0.0", CanaryReplicas: Replicas(0)}, "100")
	rb := Stage{Step: 0, CanaryReplicas: Replicas(0), Rollback: &Rollback{Revision: "myapp:v2.0.0", Reason: "error rate", At: time.Unix(0, 0), PreviousWeight: 25}}
	check("rolled back", rb, "0")

	// Before the first step and after a rollback there is no patch: the
	// ConfigMap is exactly as written.
	for name, st := range map[string]Stage{"step 0": {}, "rolled back": rb} {
		res, err := Render(c, repo, st)
		if err != nil {
			t.Fatal(err)
		}
		if got := builtFlags(t, res.Manifests); got != flagsJSON {
			t.Errorf("%s: flags.json\n%s\nwant as written\n%s", name, got, flagsJSON)
		}
		if _, ok := res.Files[ComponentDir(c)+"/"+fileFlag]; ok {
			t.Errorf("%s: the component patches the flag", name)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestFeatureFlagJSONKeepsOrder: the re-encoded document keeps the order
// of the flags and of their fields, and numbers as written.
func TestFeatureFlagJSONKeepsOrder(t *testing.T) {
	doc, err := parseFlags([]byte(flagsJSON), "new-checkout")
	if err != nil {
		t.Fatal(err)
	}
	got, err := doc.with(25)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "dark-mode": {
    "enabled": true,
    "rollout_percentage": 100,
    "owner": "web"
  },
  "new-checkout": {
    "enabled": true,
    "rollout_percentage": 25,
    "description": "the checkout of v2",
    "targeting": {
      "countries": [
        "DE",
        "FR"
      ],
      "beta": true,
      "weight": 1.50
    }
  }
}
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// A flag without rollout_percentage gets one, after its fields.
	doc, err = parseFlags([]byte(`{"a":{"enabled":false}}`), "a")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := doc.with(5); string(got) != "{\n  \"a\": {\n    \"enabled\": false,\n    \"rollout_percentage\": 5\n  }\n}\n" {
		t.Errorf("got %s", got)
	}
}

// TestFeatureFlagProblems: each problem names the spec's file:line:
// field, and the ConfigMap's file:line where the JSON is at fault.
func TestFeatureFlagProblems(t *testing.T) {
	const f = "apps/myapp/canary.yaml"
	cm := "apps/myapp/base/feature-flags.yaml"
	tests := []struct {
		name, configMap, featureFlag, want string
	}{
		{"flag missing", flagsConfigMap, "{name: old-checkout}",
			f + `:45: spec.featureFlag.name: ` + cm + `:7: ConfigMap feature-flags: data.flags.json has no flag "old-checkout" (flags: dark-mode, new-checkout)`},
		{"ConfigMap missing", flagsConfigMap, "{name: new-checkout, configMap: flags}",
			f + `:45: spec.featureFlag.configMap: ConfigMap canary-demo/flags not found in the overlay (ConfigMaps as built: canary-demo/feature-flags, canary-demo/myapp-canary-dashboard); add the ConfigMap to the overlay (promoter init writes feature-flags) or name yours in spec.featureFlag.configMap`},
		{"key missing", flagsConfigMap, "{name: new-checkout, key: flags.yaml}",
			f + `:45: spec.featureFlag.key: ConfigMap feature-flags has no data key flags.yaml (keys: flags.json)`},
		{"not JSON", strings.Replace(flagsConfigMap, `"owner": "web"},`, `"owner": "web"}`, 1), "{name: new-checkout}",
			f + `:45: spec.featureFlag.key: ` + cm + `:10: ConfigMap feature-flags: data.flags.json is not a JSON object of flags: line 3, column 3: invalid character '"' after object key:value pair`},
		{"not an object", strings.Replace(flagsConfigMap, "  flags.json: |\n    {\n", "  flags.json: |\n    [{\n", 1), "{name: new-checkout}",
			f + `:45: spec.featureFlag.key: ` + cm + `:8: ConfigMap feature-flags: data.flags.json is not a JSON object of flags: line 1, column 2: want a JSON object of flags, found an array`},
		{"percentage not a number", strings.Replace(flagsConfigMap, `"rollout_percentage": 0,`, `"rollout_percentage": "ten",`, 1), "{name: new-checkout}",
			f + `:45: spec.featureFlag.name: ` + cm + `:7: ConfigMap feature-flags: data.flags.json: flag "new-checkout": rollout_percentage is "ten", want a number from 0 to 100`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, repo := withFlag(t, tt.configMap, tt.featureFlag)
			_, err := Render(c, repo, Stage{Step: 1, Weight: 5})
			var be *BaseError
			if !errors.As(err, &be) || !errors.Is(err, ErrBase) {
				t.Fatalf("got %v, want a BaseError", err)
			}
			if got := strings.TrimPrefix(err.Error(), "canary myapp: "); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestFeatureFlagOverriddenByTheOverlay: a patch of the overlay that sets
// the flags after promoter's component is refused with its file:line
// before any step; a rollback still renders, with a warning.
func TestFeatureFlagOverriddenByTheOverlay(t *testing.T) {
	c, repo := withFlag(t, flagsConfigMap, "{name: new-checkout}")
	k := "apps/myapp/overlays/production/kustomization.yaml"
	repo[k] = &fstest.MapFile{Data: append(bytes.Clone(repo[k].Data), []byte(`patches:
  - target: {kind: ConfigMap, name: feature-flags}
    patch: |
      - {op: replace, path: /data/flags.json, value: '{"new-checkout": {"enabled": false}}'}
`)...)}
	_, err := Render(c, repo, Stage{Step: 1, Weight: 5})
	var oe *OverrideError
	if !errors.As(err, &oe) {
		t.Fatalf("got %v, want an OverrideError", err)
	}
	want := `apps/myapp/overlays/production/kustomization.yaml:12: patches[0]: changes data.flags.json of ConfigMap feature-flags after promoter's component sets flag "new-checkout"'s rollout_percentage`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("got\n%v\nwant it to contain\n%s", err, want)
	}
	res, err := Render(c, repo, Stage{CanaryReplicas: Replicas(0), Rollback: &Rollback{Revision: "myapp:v2.0.0", Reason: "r", At: time.Unix(0, 0)}})
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "feature flag") {
		t.Errorf("rollback warnings %q, want one about the feature flag", res.Warnings)
	}
}

// TestFeatureFlagSameOutputAsKustomizeCLI: the component with the flag's
// patch builds to the same output with the kustomize CLI at every step.
func TestFeatureFlagSameOutputAsKustomizeCLI(t *testing.T) {
	bin := kustomizeCLI(t)
	c, repo := withFlag(t, flagsConfigMap, "{name: new-checkout}")
	stages := []Stage{{}, {Step: len(c.Spec.Steps) + 1, StableImage: "myapp:v2.0.0", CanaryReplicas: Replicas(0)}}
	for i, s := range c.Spec.Steps {
		stages = append(stages, Stage{Step: i + 1, Weight: s.Weight})
	}
	for _, st := range stages {
		res, err := Render(c, repo, st)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for p, f := range repo {
			writeFile(t, filepath.Join(dir, p), f.Data)
		}
		for p, data := range res.Files {
			if data != nil {
				writeFile(t, filepath.Join(dir, p), data)
			}
		}
		cmd := exec.Command(bin, "build", filepath.Join(dir, c.Spec.Overlay))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("step %d: kustomize build: %v\n%s", st.Step, err, stderr.String())
		}
		if !bytes.Equal(out, res.Manifests) {
			t.Errorf("step %d: kustomize CLI and promoter disagree:\n--- CLI\n%s\n--- promoter\n%s", st.Step, out, res.Manifests)
		}
		if p, ok := FlagPercentage(c, st); ok && !strings.Contains(builtFlags(t, out), `"rollout_percentage": `+strconv.Itoa(p)+",") {
			t.Errorf("step %d: the CLI's build does not set rollout_percentage %d:\n%s", st.Step, p, builtFlags(t, out))
		}
	}
}

// TestFeatureFlagGeneratedConfigMap: a ConfigMap from a configMapGenerator
// with kustomize's content hash in its name is refused with what to set.
func TestFeatureFlagGeneratedConfigMap(t *testing.T) {
	c, repo := withFlag(t, flagsConfigMap, "{name: new-checkout}")
	delete(repo, "apps/myapp/base/feature-flags.yaml")
	k := "apps/myapp/base/kustomization.yaml"
	data := strings.Replace(string(repo[k].Data), "  - feature-flags.yaml\n", "", 1)
	repo[k] = &fstest.MapFile{Data: []byte(data + "configMapGenerator:\n  - name: feature-flags\n    namespace: canary-demo\n    files: [flags.json]\n")}
	repo["apps/myapp/base/flags.json"] = &fstest.MapFile{Data: []byte(flagsJSON)}
	_, err := Render(c, repo, Stage{Step: 1, Weight: 5})
	want := "apps/myapp/canary.yaml:45: spec.featureFlag.configMap: ConfigMap feature-flags is generated with a content hash in its name (feature-flags-"
	if !errors.Is(err, ErrBase) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "disableNameSuffixHash: true") {
		t.Fatalf("got %v, want an error containing %q and the option to set", err, want)
	}
	// With the hash disabled, the generated ConfigMap's flag follows.
	repo[k] = &fstest.MapFile{Data: []byte(data + "configMapGenerator:\n  - name: feature-flags\n    namespace: canary-demo\n    files: [flags.json]\n    options: {disableNameSuffixHash: true}\n")}
	res, err := Render(c, repo, Stage{Step: 2, Weight: 10})
	if err != nil {
		t.Fatal(err)
	}
	if p := decodeFlags(t, builtFlags(t, res.Manifests))["new-checkout"]["rollout_percentage"]; p != json.Number("10") {
		t.Errorf("rollout_percentage %v, want 10", p)
	}
}
