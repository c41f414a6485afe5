// Package examples ships the example GitOps repository (examples/repo) inside
// the promoter binary, for `promoter demo`.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed all:repo
var repo embed.FS

// Repo is examples/repo: the GitOps repository of the application myapp, as
// `promoter init --name myapp --namespace canary-demo` writes it.
func Repo() fs.FS {
	sub, err := fs.Sub(repo, "repo")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
