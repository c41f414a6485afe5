package render

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
)

// FuzzRender feeds arbitrary base VirtualServices through the render and
// patch path (Inspect, Component, Check): it must never panic.
//
//	go test ./internal/render -run '^$' -fuzz FuzzRender -fuzztime 5m -fuzzminimizetime 1x -parallel 1
func FuzzRender(f *testing.F) {
	c, repo := loadExample(f)
	const vsFile = "apps/myapp/base/virtualservice.yaml"
	f.Add(repo[vsFile].Data)
	f.Add([]byte("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: myapp-routing}\nspec:\n  hosts: [myapp]\n  http:\n  - route:\n    - destination: {host: myapp, subset: stable}\n"))
	f.Add([]byte("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: myapp-routing}\nspec:\n  http: [{name: canary-route}, null, {match: [{}]}]\n"))
	f.Fuzz(func(t *testing.T, vs []byte) {
		r := fstest.MapFS{}
		for p, file := range repo {
			r[p] = file
		}
		r[vsFile] = &fstest.MapFile{Data: vs}
		b, err := Inspect(c, r)
		if err != nil {
			return
		}
		stage := Stage{Step: 2, Weight: 10, CanaryImage: "myapp:v9"}
		files, err := Component(c, b, stage)
		if err != nil {
			return
		}
		_, _ = Check(c, r, b, files, stage)
	})
}

// FuzzKustomizationThroughTheSandbox builds arbitrary kustomization files
// next to a symlink to /etc/passwd, with a fake git first on PATH and an
// HTTP server on 127.0.0.1 named in the seeds: no build may panic, run git,
// reach the server, or put what lies outside the repository in its output.
//
//	go test ./internal/render -run '^$' -fuzz FuzzKustomizationThroughTheSandbox -fuzztime 5m -parallel 1
func FuzzKustomizationThroughTheSandbox(f *testing.F) {
	var hits atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(cm))
	})}}
	srv.Start()
	defer srv.Close()
	bin := f.TempDir()
	gitLog := filepath.Join(bin, "calls")
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte("#!/bin/sh\necho \"$@\" >> "+gitLog+"\nexit 1\n"), 0o755); err != nil {
		f.Fatal(err)
	}
	oldPath := os.Getenv("PATH")
	os.Setenv("PATH", bin)
	defer os.Setenv("PATH", oldPath)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, k := range []string{
		"resources:\n- cm.yaml\n",
		"resources:\n- passwd\n",
		"resources:\n- " + srv.URL + "/cm.yaml\n",
		"resources:\n- git@" + host + ":org/repo\n",
		"configMapGenerator:\n- name: x\n  files:\n  - passwd\n  - k=" + srv.URL + "/f\n",
		"generators:\n- |-\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata: {name: g}\n  files: [" + srv.URL + "]\n",
		"resources: [cm.yaml]\npatches:\n- path: " + srv.URL + "\nopenapi: {path: " + srv.URL + "}\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nresources: *b\n",
	} {
		f.Add([]byte(k))
	}
	f.Fuzz(func(t *testing.T, k []byte) {
		repo := fstest.MapFS{
			"base/kustomization.yaml":     {Data: k},
			"base/cm.yaml":                {Data: []byte(cm)},
			"base/passwd":                 {Data: []byte("/etc/passwd"), Mode: os.ModeSymlink},
			"base/sub/kustomization.yaml": {Data: []byte("resources:\n- ../cm.yaml\n")},
		}
		out, _ := Build(repo, "base", nil)
		if bytes.Contains(out, []byte("root:")) {
			t.Fatalf("the build read /etc/passwd:\n%s", out)
		}
		if n := hits.Load(); n != 0 {
			t.Fatalf("the build made %d HTTP requests", n)
		}
		if calls, err := os.ReadFile(gitLog); err == nil {
			t.Fatalf("the build ran git: %s", calls)
		}
	})
}
