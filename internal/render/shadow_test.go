package render

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
)

// A split route Istio would never use is refused: one after a route that
// matches everything, or one of several routes with the same name.
func TestInspectRefusesShadowedSplitRoutes(t *testing.T) {
	const vsFile = "apps/myapp/base/virtualservice.yaml"
	catchAll := func(name, match string) string {
		return "    - name: " + name + "\n" + match +
			"      route:\n        - destination: {host: myapp, subset: stable}\n"
	}
	for _, tt := range []struct {
		name, insert, want string
	}{
		{"catch-all of the same name first", catchAll("canary-route", ""), `2 HTTP routes named "canary-route"`},
		{"a matching route of the same name first", catchAll("canary-route", "      match: [{headers: {x-team: {exact: blue}}}]\n"), `2 HTTP routes named "canary-route"`},
		{"catch-all first", catchAll("everything", ""), "route everything before it matches every request"},
		{"prefix / first", catchAll("slash", "      match: [{uri: {prefix: /}}]\n"), "route slash before it matches every request"},
		{"empty match first", catchAll("empty", "      match: [{}]\n"), "route empty before it matches every request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, repo := loadExample(t)
			vs := repo[vsFile].Data
			i := bytes.Index(vs, []byte("    - name: canary-header\n"))
			if i < 0 {
				t.Fatal("the example's VirtualService has changed")
			}
			edited := string(vs[:i]) + tt.insert + string(vs[i:])
			repo[vsFile] = &fstest.MapFile{Data: []byte(edited)}
			_, err := Inspect(c, repo)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error saying %q", err, tt.want)
			}
			// The problem names the spec field that chooses the route.
			if !strings.Contains(err.Error(), "spec.virtualService.route") {
				t.Errorf("%v: does not name spec.virtualService.route", err)
			}
		})
	}
	// A route with a real match before the split route is fine.
	c, repo := loadExample(t)
	if _, err := Inspect(c, repo); err != nil {
		t.Fatal(err)
	}
}

// Image references are parsed, not trusted: what a registry would refuse
// never reaches a commit.
func TestValidateImage(t *testing.T) {
	for _, tt := range []struct {
		image string
		ok    bool
	}{
		{"myapp:v2.0.0", true},
		{"ghcr.io/org/app:v2", true},
		{"registry.example.com:5000/team/app@sha256:" + strings.Repeat("a", 64), true},
		{"", false},
		{" ", false},
		{"myapp v3", false},
		{"myapp:v3\nimage: evil", false},
		{"MyApp:v3", false},
		{"myapp:", false},
	} {
		err := ValidateImage(tt.image)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateImage(%q) = %v, want ok %v", tt.image, err, tt.ok)
		}
	}
}
