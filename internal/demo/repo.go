package demo

import (
	"io/fs"
	"testing/fstest"

	"github.com/promoter-dev/promoter/examples"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/scaffold"
)

// repositoryFiles are the demo repository: examples/repo (myapp) and a
// second application, shop, as `promoter init --name shop --namespace shop
// --runners none` writes it (with --route httproute when the scenario's
// shop is an HTTPRoute application).
func repositoryFiles(sc Scenario) (gitops.Files, error) {
	files := gitops.Files{}
	err := fs.WalkDir(examples.Repo(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(examples.Repo(), p)
		files[p] = data
		return err
	})
	if err != nil {
		return nil, err
	}
	o := scaffold.Options{Name: "shop", Namespace: "shop", Runners: []string{"none"}}
	for _, a := range sc.Apps {
		if a.Name == "shop" && a.HTTPRoute {
			o.Route = scaffold.RouteHTTPRoute
		}
	}
	shop, err := scaffold.Generate(o)
	if err != nil {
		return nil, err
	}
	for p, data := range shop {
		files[p] = data
	}
	return files, nil
}

// mapFS views files as an fs.FS.
func mapFS(files gitops.Files) fs.FS {
	m := fstest.MapFS{}
	for p, data := range files {
		m[p] = &fstest.MapFile{Data: data}
	}
	return m
}
