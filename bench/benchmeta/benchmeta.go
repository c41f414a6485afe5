// Package benchmeta is the schema of bench.json, which bench/monorepo writes
// beside the repository it generates and bench/runner reads.
package benchmeta

// Meta describes a generated repository.
type Meta struct {
	Apps     int               `json:"apps"`
	Files    int               `json:"files"`
	Commits  int               `json:"commitsOnMain"`
	Branches map[string]Branch `json:"branches"`
}

// Branch describes one scenario branch.
type Branch struct {
	Pending     int    `json:"pending"`
	Progressing int    `json:"progressing"`
	Step        int    `json:"step,omitempty"`
	Commits     int    `json:"commits"`
	Now         string `json:"now"`
}
