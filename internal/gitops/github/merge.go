package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/promoter-dev/promoter/internal/gitops"
)

// repoSettings are the repository's merge settings; a nil field is one
// GitHub did not say (a token without the permission to see it).
type repoSettings struct {
	merge, squash, rebase *bool
}

// allows reports whether the repository allows method; true when unknown.
func (s *repoSettings) allows(m gitops.MergeMethod) bool {
	var v *bool
	switch m {
	case gitops.MergeCommit, "":
		v = s.merge
	case gitops.MergeSquash:
		v = s.squash
	case gitops.MergeRebase:
		v = s.rebase
	}
	return v == nil || *v
}

// allowed lists the methods the repository allows (nil when unknown).
func (s *repoSettings) allowed() []gitops.MergeMethod {
	if s.merge == nil && s.squash == nil && s.rebase == nil {
		return nil
	}
	var out []gitops.MergeMethod
	for _, m := range []gitops.MergeMethod{gitops.MergeCommit, gitops.MergeSquash, gitops.MergeRebase} {
		if s.allows(m) {
			out = append(out, m)
		}
	}
	return out
}

// branchRules are the rules of a branch that decide how promoter merges
// into it and what a wait waits for.
type branchRules struct {
	mergeQueue     bool
	requiredChecks []string
	reviews        int
}

// AllowedMergeMethods returns the merge methods the repository allows, as
// its settings say (read once per forge); nil when GitHub does not say
// (a token that may not see them).
func (f *Forge) AllowedMergeMethods(ctx context.Context) ([]gitops.MergeMethod, error) {
	s, err := f.repoSettings(ctx)
	if err != nil {
		return nil, err
	}
	return s.allowed(), nil
}

func (f *Forge) repoSettings(ctx context.Context) (*repoSettings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.settings != nil {
		return f.settings, nil
	}
	var r *gh.Repository
	err := f.call(ctx, "get repository", func() (*gh.Response, error) {
		var resp *gh.Response
		var err error
		r, resp, err = f.repos.Get(ctx, f.owner, f.repo)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	f.settings = &repoSettings{merge: r.AllowMergeCommit, squash: r.AllowSquashMerge, rebase: r.AllowRebaseMerge}
	return f.settings, nil
}

// branchRules reads the rules that apply to branch (once per forge). The
// answer is decoded here: go-github v60 refuses rule types it does not
// know, merge_queue among them.
func (f *Forge) branchRules(ctx context.Context, branch string) (*branchRules, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.rules[branch]; ok {
		return r, nil
	}
	var rules []struct {
		Type       string `json:"type"`
		Parameters struct {
			RequiredStatusChecks []struct {
				Context string `json:"context"`
			} `json:"required_status_checks"`
			RequiredApprovingReviewCount int `json:"required_approving_review_count"`
		} `json:"parameters"`
	}
	err := f.call(ctx, "get branch rules", func() (*gh.Response, error) {
		req, err := f.raw.NewRequest("GET", fmt.Sprintf("repos/%s/%s/rules/branches/%s", f.owner, f.repo, pathEscape(branch)), nil)
		if err != nil {
			return nil, err
		}
		return f.raw.Do(ctx, req, &rules)
	})
	if err != nil {
		return nil, err
	}
	out := &branchRules{}
	for _, r := range rules {
		switch r.Type {
		case "merge_queue":
			out.mergeQueue = true
		case "required_status_checks":
			for _, c := range r.Parameters.RequiredStatusChecks {
				if !slices.Contains(out.requiredChecks, c.Context) {
					out.requiredChecks = append(out.requiredChecks, c.Context)
				}
			}
		case "pull_request":
			out.reviews = max(out.reviews, r.Parameters.RequiredApprovingReviewCount)
		}
	}
	f.rules[branch] = out
	return out, nil
}

func pathEscape(branch string) string {
	parts := strings.Split(branch, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// MethodNoun names a merge method as GitHub's settings do: merge
// commits, squash merging, rebase merging.
func MethodNoun(m gitops.MergeMethod) string {
	switch m {
	case gitops.MergeSquash:
		return "squash merging"
	case gitops.MergeRebase:
		return "rebase merging"
	}
	return "merge commits"
}

// methodHint says what to set pullRequests.mergeMethod to.
func methodHint(method gitops.MergeMethod, allowed []gitops.MergeMethod) string {
	if len(allowed) == 0 {
		return fmt.Sprintf("set spec.pullRequests.mergeMethod to a method the repository allows (its Settings > General > Pull Requests), or allow %s there", MethodNoun(method))
	}
	names := make([]string, len(allowed))
	for i, m := range allowed {
		names[i] = string(m)
	}
	return fmt.Sprintf("the repository allows %s: set spec.pullRequests.mergeMethod: %s, or allow %s in its Settings > General > Pull Requests",
		strings.Join(names, ", "), allowed[0], MethodNoun(method))
}

// MergePullRequest merges pr, or says why it waits or is refused (see the
// package documentation).
func (f *Forge) MergePullRequest(ctx context.Context, pr *gitops.PullRequest, method gitops.MergeMethod, msg gitops.Message) (gitops.Merge, error) {
	if method == "" {
		method = gitops.MergeCommit
	}
	what := fmt.Sprintf("github: merge pull request #%d", pr.Number)
	cur, err := f.mergeable(ctx, pr.Number)
	if err != nil {
		return gitops.Merge{}, err
	}
	if cur.GetMerged() {
		return gitops.Merge{Merged: true}, nil
	}
	if cur.GetState() != "open" {
		return gitops.Merge{}, fmt.Errorf("github: pull request #%d is %s", pr.Number, cur.GetState())
	}
	if pr.HeadSHA != "" && cur.GetHead().GetSHA() != pr.HeadSHA {
		return gitops.Merge{}, fmt.Errorf("github: #%d head is %s: %w", pr.Number, cur.GetHead().GetSHA(), gitops.ErrHeadChanged)
	}
	base := cur.GetBase().GetRef()
	rules, err := f.branchRules(ctx, base)
	if err != nil {
		f.log.Warn("could not read the base branch's rules", "branch", base, "err", err)
		rules = &branchRules{}
	}
	settings := &repoSettings{}
	if !rules.mergeQueue { // a queue merges with its own method
		if settings, err = f.repoSettings(ctx); err != nil {
			// Not fatal: the merge itself says whether the method is allowed.
			f.log.Warn("could not read the repository's merge settings", "err", err)
			settings = &repoSettings{}
		}
		if !settings.allows(method) {
			return gitops.Merge{}, &gitops.RefusedError{What: what,
				Reason: "the repository does not allow " + MethodNoun(method), Hint: methodHint(method, settings.allowed())}
		}
	}
	state := cur.GetMergeableState()
	if cur.GetDraft() || state == "draft" {
		return gitops.Merge{}, &gitops.RefusedError{What: what, Reason: "the pull request is a draft",
			Hint: "mark it ready for review on GitHub (promoter opens its pull requests ready), or close it so that the next run opens a new one"}
	}
	if state == "dirty" {
		return gitops.Merge{}, fmt.Errorf("github: #%d: %w", pr.Number, gitops.ErrConflict)
	}
	if rules.mergeQueue {
		m, err := f.enqueue(ctx, cur)
		if err != nil && state == "blocked" {
			// Reviews or checks the queue does not run are still missing.
			return f.wait(pr.Number, state, fmt.Sprintf("blocked: %s; GitHub does not enqueue it yet (%v)", rules.pending(), err)), nil
		}
		return m, err
	}
	switch state {
	case "clean", "unstable", "has_hooks":
	case "blocked":
		return f.wait(pr.Number, state, "blocked: "+rules.pending()), nil
	case "behind":
		return f.wait(pr.Number, state, "behind: the base branch has commits the head lacks and its rules require the head up to date"), nil
	case "unknown", "":
		return f.wait(pr.Number, state, "GitHub is still computing whether it can be merged (mergeable: null)"), nil
	default:
		return f.wait(pr.Number, state, "mergeable_state "+state), nil
	}
	body := strings.TrimPrefix(msg.String(), strings.TrimSpace(msg.Subject)+"\n")
	err = f.call(ctx, "merge pull request", func() (*gh.Response, error) {
		_, resp, err := f.pulls.Merge(ctx, f.owner, f.repo, pr.Number, strings.TrimLeft(body, "\n"), &gh.PullRequestOptions{
			CommitTitle: msg.Subject, SHA: pr.HeadSHA, MergeMethod: string(method),
		})
		return resp, err
	})
	switch statusOf(err) {
	case 0:
		if err != nil {
			return gitops.Merge{}, err
		}
		return gitops.Merge{Merged: true}, nil
	case http.StatusMethodNotAllowed:
		return f.refusal(ctx, cur, what, method, settings, rules, messageOf(err))
	case http.StatusConflict: // head changed
		return gitops.Merge{}, fmt.Errorf("github: #%d: %w", pr.Number, gitops.ErrHeadChanged)
	case http.StatusForbidden:
		if re := tokenRefusal(err, what); re != nil {
			return gitops.Merge{}, re
		}
	}
	return gitops.Merge{}, err
}

func (f *Forge) wait(n int, state, reason string) gitops.Merge {
	f.log.Info("pull request not mergeable yet", "pr", n, "mergeable_state", state, "reason", reason)
	return gitops.Merge{Wait: reason}
}

// pending says what a blocked pull request waits for, as far as the
// branch rules tell.
func (r *branchRules) pending() string {
	var parts []string
	if len(r.requiredChecks) > 0 {
		parts = append(parts, "required status checks "+strings.Join(r.requiredChecks, ", "))
	}
	if r.reviews > 0 {
		parts = append(parts, fmt.Sprintf("%d approving review(s)", r.reviews))
	}
	if len(parts) == 0 {
		return "required checks or reviews pending (GitHub's mergeable_state blocked)"
	}
	return "waiting for " + strings.Join(parts, " and ")
}

// refusal classifies a 405 from the merge endpoint: a merge method the
// repository does not allow and a draft are refusals; a merge queue is
// joined; anything else (required checks or reviews) is a wait with
// GitHub's words.
func (f *Forge) refusal(ctx context.Context, cur *gh.PullRequest, what string, method gitops.MergeMethod, settings *repoSettings, rules *branchRules, message string) (gitops.Merge, error) {
	lower := strings.ToLower(message)
	switch {
	case strings.Contains(lower, "base branch was modified"):
		// The base moved between the read and the merge: derive again.
		return gitops.Merge{}, fmt.Errorf("%s: %s: %w", what, message, gitops.ErrHeadChanged)
	case strings.Contains(lower, "merge queue"):
		f.mu.Lock()
		rules.mergeQueue = true
		f.mu.Unlock()
		return f.enqueue(ctx, cur)
	case strings.Contains(lower, "not allowed on this repository"):
		return gitops.Merge{}, &gitops.RefusedError{What: what, Reason: message, Hint: methodHint(method, settings.allowedBut(method))}
	case strings.Contains(lower, "draft"):
		return gitops.Merge{}, &gitops.RefusedError{What: what, Reason: message,
			Hint: "mark it ready for review on GitHub (promoter opens its pull requests ready), or close it so that the next run opens a new one"}
	}
	return f.wait(cur.GetNumber(), cur.GetMergeableState(), "GitHub: "+message), nil
}

// allowedBut is allowed() once GitHub refused method: known not allowed.
func (s *repoSettings) allowedBut(method gitops.MergeMethod) []gitops.MergeMethod {
	var out []gitops.MergeMethod
	for _, m := range s.allowed() {
		if m != method {
			out = append(out, m)
		}
	}
	return out
}

// mergeable reads pull request n; while GitHub is still computing its
// mergeability (mergeable null, mergeable_state unknown) it reads again,
// a bounded number of times with doubling waits.
func (f *Forge) mergeable(ctx context.Context, n int) (*gh.PullRequest, error) {
	wait := f.pollWait
	for poll := 1; ; poll++ {
		var cur *gh.PullRequest
		err := f.call(ctx, "get pull request", func() (*gh.Response, error) {
			var resp *gh.Response
			var err error
			cur, resp, err = f.pulls.Get(ctx, f.owner, f.repo, n)
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		computing := cur.GetState() == "open" && !cur.GetMerged() && (cur.Mergeable == nil || cur.GetMergeableState() == "unknown")
		if !computing || poll >= f.polls {
			return cur, nil
		}
		f.log.Debug("github is computing mergeability", "pr", n, "poll", poll, "wait", wait)
		if err := f.sleep(ctx, wait); err != nil {
			return nil, err
		}
		wait *= 2
	}
}

// graphQL posts a GraphQL document and decodes its data into out.
func (f *Forge) graphQL(ctx context.Context, what, query string, vars map[string]any, out any) error {
	var answer struct {
		Data   any `json:"data"`
		Errors []struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	answer.Data = out
	err := f.call(ctx, what, func() (*gh.Response, error) {
		req, err := f.raw.NewRequest("POST", f.graphqlURL, map[string]any{"query": query, "variables": vars})
		if err != nil {
			return nil, err
		}
		return f.raw.Do(ctx, req, &answer)
	})
	if err != nil {
		return err
	}
	if len(answer.Errors) > 0 {
		msgs := make([]string, len(answer.Errors))
		for i, e := range answer.Errors {
			msgs[i] = e.Message
		}
		return fmt.Errorf("github: %s: %s", what, strings.Join(msgs, "; "))
	}
	return nil
}

type queueEntry struct {
	State    string `json:"state"`
	Position int    `json:"position"`
}

const queueQuery = `query($owner: String!, $repo: String!, $number: Int!) {
  repository(owner: $owner, name: $repo) {
    pullRequest(number: $number) { state merged mergeQueueEntry { state position } }
  }
}`

const enqueueMutation = `mutation($pullRequestId: ID!, $expectedHeadOid: GitObjectID) {
  enqueuePullRequest(input: {pullRequestId: $pullRequestId, expectedHeadOid: $expectedHeadOid}) { mergeQueueEntry { state position } }
}`

// enqueue puts cur in its base's merge queue, unless it is there already;
// either way the run waits for the queue to merge it.
func (f *Forge) enqueue(ctx context.Context, cur *gh.PullRequest) (gitops.Merge, error) {
	n := cur.GetNumber()
	var q struct {
		Repository struct {
			PullRequest struct {
				State           string      `json:"state"`
				Merged          bool        `json:"merged"`
				MergeQueueEntry *queueEntry `json:"mergeQueueEntry"`
			} `json:"pullRequest"`
		} `json:"repository"`
	}
	if err := f.graphQL(ctx, "read the merge queue", queueQuery, map[string]any{"owner": f.owner, "repo": f.repo, "number": n}, &q); err != nil {
		return gitops.Merge{}, err
	}
	p := q.Repository.PullRequest
	if p.Merged {
		return gitops.Merge{Merged: true}, nil
	}
	if e := p.MergeQueueEntry; e != nil {
		return f.wait(n, "queued", fmt.Sprintf("in the merge queue of %s at position %d (%s)", cur.GetBase().GetRef(), e.Position, strings.ToLower(e.State))), nil
	}
	var m struct {
		EnqueuePullRequest struct {
			MergeQueueEntry *queueEntry `json:"mergeQueueEntry"`
		} `json:"enqueuePullRequest"`
	}
	if err := f.graphQL(ctx, "enqueue the pull request", enqueueMutation, map[string]any{"pullRequestId": cur.GetNodeID(), "expectedHeadOid": cur.GetHead().GetSHA()}, &m); err != nil {
		return gitops.Merge{}, err
	}
	e := m.EnqueuePullRequest.MergeQueueEntry
	if e == nil {
		return gitops.Merge{}, fmt.Errorf("github: enqueue pull request #%d: GitHub returned no merge queue entry", n)
	}
	f.log.Info("pull request enqueued", "pr", n, "position", e.Position)
	return f.wait(n, "queued", fmt.Sprintf("enqueued in the merge queue of %s at position %d", cur.GetBase().GetRef(), e.Position)), nil
}

// tokenRefusal is the refusal of a token without the permission a call
// needs (GitHub: 403 "Resource not accessible by integration"), or nil.
func tokenRefusal(err error, what string) *gitops.RefusedError {
	if statusOf(err) != http.StatusForbidden || !strings.Contains(messageOf(err), "Resource not accessible") {
		return nil
	}
	return &gitops.RefusedError{What: what, Reason: messageOf(err),
		Hint: "the token lacks a permission: in GitHub Actions give the job `permissions: {contents: write, pull-requests: write, statuses: write}`; a fine-grained token or GitHub App needs the same"}
}

// messageOf is GitHub's message in an error answer.
func messageOf(err error) string {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Message != "" {
		return er.Message
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
