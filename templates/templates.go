// Package templates holds the prose promoter writes: pull request bodies and
// commit message bodies. Templates get data, never YAML to emit; manifests
// are generated from typed structs elsewhere.
package templates

import (
	"embed"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// Prose is the parsed set of prose templates. Functions are hermetic: no
// clock, no environment, no I/O.
var Prose = template.Must(template.New("").Option("missingkey=error").ParseFS(files, "*.tmpl"))
