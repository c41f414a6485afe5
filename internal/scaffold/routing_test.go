package scaffold

import (
	"strings"
	"testing"
)

func TestVirtualServiceRoutes(t *testing.T) {
	cases := []struct {
		name   string
		o      Options
		routes []string
	}{
		{"default", Options{Name: "a", Namespace: "a"}, []string{"canary-header", "beta-users", "canary-route"}},
		{"cookie", Options{Name: "a", Namespace: "a", Cookie: true}, []string{"canary-header", "beta-users", "canary-cookie", "canary-route"}},
		{"geo", Options{Name: "a", Namespace: "a", Regions: []string{"us-west-1", "EU_Central"}},
			[]string{"canary-header", "beta-users", "region-us-west-1", "region-eu-central", "canary-route"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var vs virtualService
			decodeFile(t, generate(t, tc.o), "apps/a/base/virtualservice.yaml", &vs)
			var names []string
			for _, r := range vs.Spec.HTTP {
				names = append(names, r.Name)
			}
			if strings.Join(names, " ") != strings.Join(tc.routes, " ") {
				t.Fatalf("routes %v, want %v", names, tc.routes)
			}
			for _, r := range vs.Spec.HTTP[:len(vs.Spec.HTTP)-1] {
				if len(r.Match) != 1 || len(r.Route) != 1 || r.Route[0].Destination.Subset != subsetCanary {
					t.Errorf("route %s does not send its matches to the canary", r.Name)
				}
				if r.Headers == nil || r.Headers.Response.Set["x-served-by"] != subsetCanary {
					t.Errorf("route %s does not set x-served-by", r.Name)
				}
			}
			split := vs.Spec.HTTP[len(vs.Spec.HTTP)-1]
			if split.Retries == nil || split.Retries.Attempts == 0 || len(split.Match) != 0 {
				t.Errorf("the weighted route %+v needs retries and no match", split)
			}
			if *split.Route[0].Weight != 100 || *split.Route[1].Weight != 0 {
				t.Errorf("the weighted route starts at %d/%d, want 100/0", *split.Route[0].Weight, *split.Route[1].Weight)
			}
			cookie := split.Route[1].Headers != nil && strings.HasPrefix(split.Route[1].Headers.Response.Set["set-cookie"], "canary=true")
			if cookie != tc.o.Cookie {
				t.Errorf("Set-Cookie on canary responses: %v, want %v", cookie, tc.o.Cookie)
			}
			if tc.o.Cookie {
				re := vs.Spec.HTTP[2].Match[0].Headers["cookie"].Regex
				if !strings.Contains(re, "canary=true") {
					t.Errorf("cookie route regex %q", re)
				}
			}
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	for name, o := range map[string]Options{
		"no name":        {Namespace: "a"},
		"upper name":     {Name: "MyApp", Namespace: "a"},
		"bad namespace":  {Name: "a", Namespace: "a_b"},
		"bad region":     {Name: "a", Namespace: "a", Regions: []string{"us west"}},
		"unknown runner": {Name: "a", Namespace: "a", Runners: []string{"jenkins"}},
		"none and more":  {Name: "a", Namespace: "a", Runners: []string{"none", "flux"}},
		"image spaces":   {Name: "a", Namespace: "a", Image: "a b"},
		"unknown split":  {Name: "a", Namespace: "a", Split: "weight"},
		"unknown route":  {Name: "a", Namespace: "a", Route: "ingress"},
		"route subsets":  {Name: "a", Namespace: "a", Route: RouteHTTPRoute, Split: SplitSubset},
		"route cookie":   {Name: "a", Namespace: "a", Route: RouteHTTPRoute, Cookie: true},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Generate(o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestImages(t *testing.T) {
	for _, tc := range []struct {
		o              Options
		stable, canary string
	}{
		{Options{Name: "a", Namespace: "a"}, "a:v1.0.0", "a:v2.0.0"},
		{Options{Name: "a", Namespace: "a", Image: "r/a:7"}, "r/a:7", "r/a:7"},
		{Options{Name: "a", Namespace: "a", Image: "r/a:7", CanaryImage: "r/a:8"}, "r/a:7", "r/a:8"},
	} {
		files := generate(t, tc.o)
		for file, want := range map[string]string{"deployment-stable.yaml": tc.stable, "deployment-canary.yaml": tc.canary} {
			if !strings.Contains(string(files["apps/a/base/"+file]), "image: "+want+"\n") {
				t.Errorf("%+v: %s does not run %s", tc.o, file, want)
			}
		}
	}
}

// A split by host routes to the Services a-stable and a-canary, without
// subsets, and the Canary spec names them in spec.hosts.
func TestHostSplitScaffold(t *testing.T) {
	files := generate(t, Options{Name: "a", Namespace: "a", Split: SplitHost, Cookie: true})
	var vs virtualService
	decodeFile(t, files, "apps/a/base/virtualservice.yaml", &vs)
	for _, r := range vs.Spec.HTTP {
		for _, d := range r.Route {
			if d.Destination.Subset != "" || (d.Destination.Host != "a-stable" && d.Destination.Host != "a-canary") {
				t.Errorf("route %s: destination %+v, want host a-stable or a-canary without subset", r.Name, d.Destination)
			}
		}
	}
	split := vs.Spec.HTTP[len(vs.Spec.HTTP)-1]
	if len(split.Route) != 2 || split.Route[0].Destination.Host != "a-stable" || split.Route[1].Destination.Host != "a-canary" {
		t.Errorf("the weighted route %+v does not split a-stable / a-canary", split.Route)
	}
	c := string(files["apps/a/canary.yaml"])
	if !strings.Contains(c, "hosts: {stable: a-stable, canary: a-canary}") || strings.Contains(c, "subsets:") || strings.Contains(c, "\n  host:") {
		t.Errorf("canary.yaml does not name the hosts alone:\n%s", c)
	}
	if !strings.Contains(c, "versions: {stable: a-stable, canary: a-canary}") {
		t.Errorf("canary.yaml does not compare the versions by service name:\n%s", c)
	}
	svc := string(files["apps/a/base/service.yaml"])
	for _, want := range []string{"name: a\n", "name: a-stable\n", "name: a-canary\n", "version: v1\n", "version: v2\n"} {
		if !strings.Contains(svc, want) {
			t.Errorf("service.yaml has no %q:\n%s", want, svc)
		}
	}
}
