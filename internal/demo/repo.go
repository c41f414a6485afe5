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
// --runners none` writes it.
func repositoryFiles() (gitops.Files, error) {
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
	shop, err := scaffold.Generate(scaffold.Options{Name: "shop", Namespace: "shop", Runners: []string{"none"}})
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
