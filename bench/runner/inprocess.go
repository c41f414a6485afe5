package main

import (
	"context"
	"fmt"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/promote"
)

// rollbackInProcess opens (clones) the repository, then times
// promote.Promoter.Rollback alone: deriving the canary's state, deciding,
// rendering the revert, committing and pushing it. This is "decision to
// pushed revert" without the process start and the clone.
func rollbackInProcess(ctx context.Context, gitDir, branch, canary string) (time.Duration, error) {
	r, err := gitops.Open(ctx, gitops.Options{Source: "file://" + gitDir, Branch: branch})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	p := promote.New(promote.Options{Repo: r, Forge: gitops.NewLocalForge(r)})
	start := time.Now()
	d, err := p.Rollback(ctx, canary, "bench")
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	if d.Err != nil || !d.Landed || d.Action != promote.ActRollback {
		return 0, fmt.Errorf("rollback of %s did not land: action %s, err %v", canary, d.Action, d.Err)
	}
	return elapsed, nil
}
