package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validate renders custom query templates against the spec's values: one
// that cannot run is reported with file, line and field.
func TestValidateRendersCustomQueries(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../examples/repo")); err != nil {
		t.Fatal(err)
	}
	specFile := filepath.Join(dir, "apps/myapp/canary.yaml")
	data, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	gate := "      - {name: regression, type: sequential, alpha: 0.05}\n"
	if !bytes.Contains(data, []byte(gate)) {
		t.Fatal("the example has changed")
	}
	data = bytes.Replace(data, []byte(gate), []byte(gate+
		"      - {name: typo, type: custom, max: 1, query: 'sum(up{namespace=\"{{ .Nmespace }}\"})'}\n"+
		"      - {name: loop, type: custom, max: 1, query: '{{ range 100000000000 }}x{{ end }}'}\n"+
		"      - {name: file, type: custom, max: 1, query: '{{ readFile \"/etc/passwd\" }}'}\n"), 1)
	if err := os.WriteFile(specFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run("--repo", dir, "validate")
	if code != exitError {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"apps/myapp/canary.yaml:32: spec.analysis.gates[4].query: query template: line 1: {{ .Nmespace }} is not a field",
		"apps/myapp/canary.yaml:33: spec.analysis.gates[5].query: query template: ",
		`apps/myapp/canary.yaml:34: spec.analysis.gates[6].query: query template: template: query:1: function "readFile" not defined`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s%s", want, out, errs)
		}
	}
}
