package github

import (
	"context"
	"slices"

	gh "github.com/google/go-github/v60/github"

	"github.com/promoter-dev/promoter/internal/gitops"
)

var _ gitops.CheckReader = (*Forge)(nil)

// checksAPI is the part of go-github's checks API the forge calls.
type checksAPI interface {
	ListCheckRunsForRef(ctx context.Context, owner, repo, ref string, opts *gh.ListCheckRunsOptions) (*gh.ListCheckRunsResults, *gh.Response, error)
}

// maxCheckPages bounds the pages of statuses, and of check runs, read for
// one commit (100 each): GitHub keeps at most 1,000 statuses per sha and
// context.
const maxCheckPages = 10

// CommitChecks returns the commit statuses (every one, not only the
// latest of each context: the first success is when a sync was reported)
// and the check runs on sha, oldest first.
func (f *Forge) CommitChecks(ctx context.Context, sha string) ([]gitops.CommitCheck, error) {
	var out []gitops.CommitCheck
	for page := 1; page <= maxCheckPages; {
		var statuses []*gh.RepoStatus
		var resp *gh.Response
		err := f.call(ctx, "list commit statuses", func() (*gh.Response, error) {
			var err error
			statuses, resp, err = f.repos.ListStatuses(ctx, f.owner, f.repo, sha, &gh.ListOptions{Page: page, PerPage: 100})
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, s := range statuses {
			out = append(out, gitops.CommitCheck{
				Kind: "commit status", Name: s.GetContext(), State: gitops.StatusState(s.GetState()),
				At: s.GetCreatedAt().Time, Description: s.GetDescription(), URL: s.GetTargetURL(),
			})
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		page = resp.NextPage
	}
	for page := 1; page <= maxCheckPages; {
		var runs *gh.ListCheckRunsResults
		var resp *gh.Response
		err := f.call(ctx, "list check runs", func() (*gh.Response, error) {
			var err error
			runs, resp, err = f.checks.ListCheckRunsForRef(ctx, f.owner, f.repo, sha, &gh.ListCheckRunsOptions{
				Filter: gh.String("all"), ListOptions: gh.ListOptions{Page: page, PerPage: 100},
			})
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range runs.CheckRuns {
			c := gitops.CommitCheck{Kind: "check run", Name: r.GetName(), State: checkState(r), At: r.GetStartedAt().Time, URL: r.GetHTMLURL()}
			if r.GetStatus() == "completed" {
				c.At = r.GetCompletedAt().Time
			}
			if o := r.GetOutput(); o != nil {
				c.Description = o.GetTitle()
			}
			out = append(out, c)
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		page = resp.NextPage
	}
	slices.SortStableFunc(out, func(a, b gitops.CommitCheck) int { return a.At.Compare(b.At) })
	return out, nil
}

// checkState maps a check run's status and conclusion to a status state.
func checkState(r *gh.CheckRun) gitops.StatusState {
	if r.GetStatus() != "completed" {
		return gitops.StatusPending
	}
	switch r.GetConclusion() {
	case "success":
		return gitops.StatusSuccess
	case "failure", "timed_out", "cancelled", "action_required", "startup_failure":
		return gitops.StatusFailure
	}
	return gitops.StatusPending // neutral, skipped, stale: says nothing about a sync
}
