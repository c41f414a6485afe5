package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/promote"
	"github.com/promoter-dev/promoter/internal/sandbox"
	"github.com/promoter-dev/promoter/internal/spec"
)

// localFS opens --repo as a directory on disk, through the sandbox: a
// symlink that leaves the checkout, a device or a pipe is refused, never
// read. Commands that only read the working tree (validate, render) use
// it; commands that commit open the repository through internal/gitops.
func (g *globals) localFS() (fs.FS, error) {
	info, err := os.Stat(g.repo)
	if err != nil {
		return nil, withHint(fmt.Errorf("--repo %s: %w", g.repo, err), "point --repo at a checkout of your GitOps repository")
	}
	if !info.IsDir() {
		return nil, withHint(fmt.Errorf("--repo %s is not a directory", g.repo), "point --repo at a checkout of your GitOps repository")
	}
	return sandbox.New(os.DirFS(g.repo)), nil
}

// loadCanaries loads every canary of the repository and selects the named
// ones (all when names is empty). Problems in specs that are not selected
// are logged as warnings: a broken spec anywhere is worth knowing about, but
// only selected canaries make the command fail.
func (g *globals) loadCanaries(ctx context.Context, fsys fs.FS, names []string) ([]*spec.Canary, error) {
	log := g.log
	all, err := spec.Load(ctx, fsys)
	var ve *spec.ValidationError
	if err != nil && !errors.As(err, &ve) {
		return nil, err
	}
	if len(names) == 0 {
		if len(all) == 0 && err == nil {
			return nil, g.notFound(nil, nil)
		}
		return all, err
	}
	var selected []*spec.Canary
	var missing []string
	for _, n := range names {
		i := slices.IndexFunc(all, func(c *spec.Canary) bool { return c.Metadata.Name == n })
		if i < 0 {
			missing = append(missing, n)
			continue
		}
		selected = append(selected, all[i])
	}
	if len(missing) > 0 {
		if ve != nil {
			return nil, err
		}
		known := make([]string, len(all))
		for i, c := range all {
			known[i] = c.Metadata.Name
		}
		return nil, g.notFound(missing, known)
	}
	if ve != nil {
		for _, p := range ve.Problems {
			log.Warn("problem in a canary spec that was not selected", "problem", p.String())
		}
	}
	return selected, nil
}

// notFound is the error for canaries that are not there: none at all
// (known empty), or none of the names given.
func (g *globals) notFound(missing, known []string) error {
	where := g.repoName()
	if len(known) == 0 {
		return withHint(fmt.Errorf("no canaries found under %s", where),
			"specs are files named canary.yaml or *.canary.yaml; check --repo and --branch, or create one with `promoter init`")
	}
	return withHint(fmt.Errorf("no canary named %s under %s", strings.Join(missing, ", "), where),
		"canaries under "+where+": "+strings.Join(known, ", "))
}

// explain turns errors of the decision loop into what users read.
func (g *globals) explain(err error) error {
	var nf *promote.NotFoundError
	if errors.As(err, &nf) {
		return g.notFound(nf.Missing, nf.Known)
	}
	return err
}

// repoName is --repo as users may see it: without credentials.
func (g *globals) repoName() string { return gitops.Redact(g.repo) }

// noCanaries says, on stderr, that a pass found nothing to do.
func (g *globals) noCanaries() {
	if g.shard != "" {
		fmt.Fprintf(g.stderr, "promoter: no canaries in shard %s under %s\n", g.shard, g.repoName())
		return
	}
	fmt.Fprintf(g.stderr, "promoter: no canaries found under %s\n", g.repoName())
	fmt.Fprintln(g.stderr, "promoter: hint: specs are files named canary.yaml or *.canary.yaml; check --repo and --branch, or create one with `promoter init`")
}
