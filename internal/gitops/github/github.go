// Package github is the GitHub forge of promoter: pull requests, merges,
// commit statuses and comments through the GitHub REST API (go-github), for
// github.com and GitHub Enterprise Server, and GraphQL for merge queues.
//
// # Merging
//
// [Forge.MergePullRequest] tells a wait from a refusal. Not mergeable yet
// is a wait whose reason says why (GitHub's mergeable_state: blocked by the
// required checks or reviews the branch rules name, behind, unknown while
// GitHub computes mergeability, or queued in a merge queue); right after a
// pull request is opened or updated, mergeability is polled briefly, with
// backoff, before the run gives up as a wait. A refusal that no rerun
// changes (a merge method the repository does not allow, a draft, a token
// that may not open pull requests) is a [*gitops.RefusedError] with GitHub's
// message and what to change. dirty is [gitops.ErrConflict], so the caller
// re-renders the head branch on the new base. The merge names the head SHA
// promoter pushed, so a head that moved is [gitops.ErrHeadChanged] rather
// than a merge of something unchecked.
//
// # Merge queues
//
// When the base branch's rules require a merge queue (the branch-rules API
// says so, or a merge answers "Changes must be made through the merge
// queue"), the pull request is enqueued with GraphQL's enqueuePullRequest
// and the run waits while it is queued; the queue merges it. A pull request
// the queue dropped is enqueued again, or re-rendered when it conflicts.
//
// # Writes
//
// The repository's settings and the base's rules are read once per forge
// (a forge lives for one pass). A body, labels or a commit status is
// written only when it differs from what GitHub holds, and a branch that
// is gone is not deleted again: a waiting pull request costs reads, not
// writes (GitHub's secondary rate limits count content-creating requests,
// and it keeps at most 1,000 statuses per sha and context).
//
// # Sync evidence
//
// [Forge.CommitChecks] lists every commit status and check run of a commit
// (analysis.syncStatus reads there what Argo CD or Flux posted).
//
// # Retries
//
// Server errors (5xx) and rate limits (primary: 403/429 with
// X-RateLimit-Remaining 0, waiting until X-RateLimit-Reset; secondary: with
// Retry-After) are retried a bounded number of times, each wait capped,
// and cancellable through the context. Other errors are returned at once.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/promoter-dev/promoter/internal/creds"
	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/lockdown"
	"github.com/promoter-dev/promoter/internal/wait"
)

// pullsAPI, issuesAPI, reposAPI and gitAPI are the parts of go-github the
// forge calls.
type pullsAPI interface {
	List(ctx context.Context, owner, repo string, opts *gh.PullRequestListOptions) ([]*gh.PullRequest, *gh.Response, error)
	Get(ctx context.Context, owner, repo string, number int) (*gh.PullRequest, *gh.Response, error)
	Create(ctx context.Context, owner, repo string, pull *gh.NewPullRequest) (*gh.PullRequest, *gh.Response, error)
	Edit(ctx context.Context, owner, repo string, number int, pull *gh.PullRequest) (*gh.PullRequest, *gh.Response, error)
	Merge(ctx context.Context, owner, repo string, number int, msg string, opts *gh.PullRequestOptions) (*gh.PullRequestMergeResult, *gh.Response, error)
	RequestReviewers(ctx context.Context, owner, repo string, number int, r gh.ReviewersRequest) (*gh.PullRequest, *gh.Response, error)
}

type issuesAPI interface {
	AddLabelsToIssue(ctx context.Context, owner, repo string, number int, labels []string) ([]*gh.Label, *gh.Response, error)
	CreateComment(ctx context.Context, owner, repo string, number int, c *gh.IssueComment) (*gh.IssueComment, *gh.Response, error)
}

type reposAPI interface {
	CreateStatus(ctx context.Context, owner, repo, ref string, s *gh.RepoStatus) (*gh.RepoStatus, *gh.Response, error)
	GetCombinedStatus(ctx context.Context, owner, repo, ref string, opts *gh.ListOptions) (*gh.CombinedStatus, *gh.Response, error)
	ListStatuses(ctx context.Context, owner, repo, ref string, opts *gh.ListOptions) ([]*gh.RepoStatus, *gh.Response, error)
	Get(ctx context.Context, owner, repo string) (*gh.Repository, *gh.Response, error)
}

type gitAPI interface {
	GetRef(ctx context.Context, owner, repo, ref string) (*gh.Reference, *gh.Response, error)
	DeleteRef(ctx context.Context, owner, repo, ref string) (*gh.Response, error)
}

// rawAPI sends requests go-github has no typed call for (GraphQL, and
// bodies in the shape GitHub's description gives).
type rawAPI interface {
	NewRequest(method, urlStr string, body interface{}, opts ...gh.RequestOption) (*http.Request, error)
	Do(ctx context.Context, req *http.Request, v interface{}) (*gh.Response, error)
}

// Options configure [New].
type Options struct {
	// Owner and Repo name the repository.
	Owner, Repo string
	// Token authenticates (GITHUB_TOKEN). It is sent in the Authorization
	// header only.
	Token string
	// BaseURL is the API root of GitHub Enterprise Server
	// (https://ghe.example.com/api/v3/); empty means api.github.com.
	BaseURL string
	// HTTPClient is used for requests; nil means a client with a timeout.
	HTTPClient *http.Client
	// Attempts bounds retries of one call (default 4); MaxWait caps one
	// wait (default 1 minute: a rate limit that resets later is an error).
	Attempts int
	MaxWait  time.Duration
	// MergeablePolls bounds the reads of a pull request whose mergeability
	// GitHub is still computing (default 5), the first wait MergeableWait
	// (default 500ms), doubling after each read.
	MergeablePolls int
	MergeableWait  time.Duration
	// Clock and Sleep are injectable for tests; nil means the real ones.
	Clock func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger
}

// Forge is the GitHub [gitops.Forge].
type Forge struct {
	owner, repo string
	pulls       pullsAPI
	issues      issuesAPI
	repos       reposAPI
	git         gitAPI
	checks      checksAPI
	raw         rawAPI
	graphqlURL  string
	attempts    int
	polls       int
	pollWait    time.Duration
	maxWait     time.Duration
	clock       func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	log         *slog.Logger

	mu       sync.Mutex
	settings *repoSettings
	rules    map[string]*branchRules
}

var _ gitops.Forge = (*Forge)(nil)

// New returns the forge of one repository.
func New(o Options) (*Forge, error) {
	if o.Owner == "" || o.Repo == "" {
		return nil, errors.New("github: owner and repository are required")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second, Transport: lockdown.Transport()}
	}
	api := "https://api.github.com/"
	if o.BaseURL != "" {
		api = o.BaseURL
	}
	u, err := url.Parse(api)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("github: base URL %q does not parse", creds.Redact(o.BaseURL))
	}
	// The token goes to the API host only (go-github's WithAuthToken
	// would add it to every request, a redirect elsewhere included).
	authed := *hc
	base := authed.Transport
	if base == nil {
		base = lockdown.Transport()
	}
	header := http.Header{}
	if o.Token != "" {
		header.Set("Authorization", "Bearer "+o.Token)
	}
	authed.Transport = &creds.Transport{Base: base, Origin: creds.OriginOf(u), Header: header}
	if authed.CheckRedirect == nil {
		authed.CheckRedirect = creds.StripOnRedirect
	}
	c := gh.NewClient(&authed)
	if o.BaseURL != "" {
		if c, err = c.WithEnterpriseURLs(o.BaseURL, o.BaseURL); err != nil {
			return nil, fmt.Errorf("github: base URL: %w", creds.Error(err))
		}
	}
	f := &Forge{
		owner: o.Owner, repo: o.Repo,
		pulls: c.PullRequests, issues: c.Issues, repos: c.Repositories, git: c.Git, checks: c.Checks, raw: c,
		graphqlURL: graphqlURL(c.BaseURL),
		attempts:   o.Attempts, maxWait: o.MaxWait, clock: o.Clock, sleep: o.Sleep, log: o.Log,
		polls: o.MergeablePolls, pollWait: o.MergeableWait, rules: map[string]*branchRules{},
	}
	if f.polls <= 0 {
		f.polls = 5
	}
	if f.pollWait <= 0 {
		f.pollWait = 500 * time.Millisecond
	}
	if f.attempts <= 0 {
		f.attempts = 4
	}
	if f.maxWait <= 0 {
		f.maxWait = time.Minute
	}
	if f.clock == nil {
		f.clock = time.Now
	}
	if f.sleep == nil {
		f.sleep = wait.Sleep
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f, nil
}

// graphqlURL is GitHub's GraphQL endpoint beside the REST root: on
// api.github.com (and GHE.com's api.<name>.ghe.com) /graphql, on GitHub
// Enterprise Server /api/graphql beside /api/v3.
func graphqlURL(rest *url.URL) string {
	u := *rest
	if strings.HasSuffix(u.Path, "/api/v3/") {
		u.Path = strings.TrimSuffix(u.Path, "v3/") + "graphql"
	} else {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/graphql"
	}
	return u.String()
}

// ParseRemote extracts owner and repository from a GitHub remote URL
// (https://host/owner/repo(.git) or git@host:owner/repo(.git)).
func ParseRemote(remote string) (owner, repo string, err error) {
	p := remote
	if u, uerr := url.Parse(remote); uerr == nil && u.Host != "" {
		p = u.Path
	} else if i := strings.Index(remote, ":"); i >= 0 {
		p = remote[i+1:]
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(p, ".git"), "/"), "/")
	if len(parts) < 2 || parts[len(parts)-2] == "" || parts[len(parts)-1] == "" {
		return "", "", fmt.Errorf("github: cannot tell owner/repository from %q (set GITHUB_REPOSITORY)", gitops.Redact(remote))
	}
	return parts[len(parts)-2], parts[len(parts)-1], nil
}

func toPR(p *gh.PullRequest) *gitops.PullRequest {
	pr := &gitops.PullRequest{
		Number:  p.GetNumber(),
		URL:     p.GetHTMLURL(),
		Head:    p.GetHead().GetRef(),
		HeadSHA: p.GetHead().GetSHA(),
		Base:    p.GetBase().GetRef(),
		Title:   p.GetTitle(),
		Body:    p.GetBody(),
	}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.GetName())
	}
	return pr
}

// FindPullRequest returns the open pull request from head, or nil.
func (f *Forge) FindPullRequest(ctx context.Context, head string) (*gitops.PullRequest, error) {
	var found []*gh.PullRequest
	err := f.call(ctx, "list pull requests", func() (*gh.Response, error) {
		var resp *gh.Response
		var err error
		found, resp, err = f.pulls.List(ctx, f.owner, f.repo, &gh.PullRequestListOptions{State: "open", Head: f.owner + ":" + head})
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	for _, p := range found {
		if p.GetHead().GetRef() == head {
			return toPR(p), nil
		}
	}
	return nil, nil
}

// OpenPullRequest opens the pull request, or adopts the open one from the
// same head, then sets labels and requests reviewers.
func (f *Forge) OpenPullRequest(ctx context.Context, n gitops.NewPullRequest) (*gitops.PullRequest, error) {
	var created *gh.PullRequest
	err := f.call(ctx, "create pull request", func() (*gh.Response, error) {
		var resp *gh.Response
		var err error
		created, resp, err = f.pulls.Create(ctx, f.owner, f.repo, &gh.NewPullRequest{
			Title: gh.String(n.Title), Head: gh.String(n.Head), Base: gh.String(n.Base), Body: gh.String(n.Body),
		})
		return resp, err
	})
	var pr *gitops.PullRequest
	switch {
	case statusOf(err) == http.StatusForbidden && strings.Contains(messageOf(err), "not permitted to create or approve pull requests"):
		return nil, &gitops.RefusedError{
			What:   fmt.Sprintf("github: open a pull request from %s", n.Head),
			Reason: messageOf(err),
			Hint: "in the repository's (or organization's) Settings > Actions > General > Workflow permissions, enable " +
				`"Allow GitHub Actions to create and approve pull requests", or give promoter a GitHub App or fine-grained token with pull-requests: write`,
		}
	case tokenRefusal(err, "github: open a pull request from "+n.Head) != nil:
		return nil, tokenRefusal(err, "github: open a pull request from "+n.Head)
	case statusOf(err) == http.StatusUnprocessableEntity && strings.Contains(err.Error(), "already exists"):
		if pr, err = f.FindPullRequest(ctx, n.Head); err == nil && pr == nil {
			err = fmt.Errorf("github: a pull request from %s exists but is not open", n.Head)
		}
	case err == nil:
		pr = toPR(created)
	}
	if err != nil {
		return nil, err
	}
	if err := f.addLabels(ctx, pr.Number, pr.Labels, n.Labels); err != nil {
		return pr, err
	}
	if len(n.Reviewers) > 0 {
		err := f.call(ctx, "request reviewers", func() (*gh.Response, error) {
			_, resp, err := f.pulls.RequestReviewers(ctx, f.owner, f.repo, pr.Number, gh.ReviewersRequest{Reviewers: n.Reviewers})
			return resp, err
		})
		if err != nil {
			// A reviewer who cannot review is worth a log line, not a failed run.
			f.log.Warn("could not request reviewers", "pr", pr.Number, "err", err)
		}
	}
	return pr, nil
}

// addLabels adds the labels pr lacks. The body is {"labels": [...]}, the
// form GitHub's description gives (go-github v60 sends a bare list).
func (f *Forge) addLabels(ctx context.Context, number int, have, labels []string) error {
	var missing []string
	for _, l := range labels {
		if !slices.Contains(have, l) && !slices.Contains(missing, l) {
			missing = append(missing, l)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return f.call(ctx, "add labels", func() (*gh.Response, error) {
		req, err := f.raw.NewRequest("POST", fmt.Sprintf("repos/%s/%s/issues/%d/labels", f.owner, f.repo, number), map[string][]string{"labels": missing})
		if err != nil {
			return nil, err
		}
		return f.raw.Do(ctx, req, nil)
	})
}

// UpdatePullRequest replaces the body and adds labels, each only when it
// differs from what pr (as read from GitHub) holds.
func (f *Forge) UpdatePullRequest(ctx context.Context, pr *gitops.PullRequest, body string, labels []string) error {
	if body != pr.Body {
		err := f.call(ctx, "edit pull request", func() (*gh.Response, error) {
			_, resp, err := f.pulls.Edit(ctx, f.owner, f.repo, pr.Number, &gh.PullRequest{Body: gh.String(body)})
			return resp, err
		})
		if err != nil {
			return err
		}
		pr.Body = body
	}
	if err := f.addLabels(ctx, pr.Number, pr.Labels, labels); err != nil {
		return err
	}
	for _, l := range labels {
		if !slices.Contains(pr.Labels, l) {
			pr.Labels = append(pr.Labels, l)
		}
	}
	return nil
}

// SetStatus sets a commit status on sha.
func (f *Forge) SetStatus(ctx context.Context, sha string, st gitops.Status) error {
	desc := st.Description
	if len(desc) > 140 { // GitHub's limit
		desc = desc[:137] + "..."
	}
	s := &gh.RepoStatus{State: gh.String(string(st.State)), Context: gh.String(st.Context), Description: gh.String(desc)}
	if st.TargetURL != "" {
		s.TargetURL = gh.String(st.TargetURL)
	}
	// One status per sha and context while it says the same: GitHub keeps
	// at most 1,000 per sha and context, and a waiting pull request is
	// reported on every run.
	var combined *gh.CombinedStatus
	err := f.call(ctx, "get combined status", func() (*gh.Response, error) {
		var resp *gh.Response
		var err error
		combined, resp, err = f.repos.GetCombinedStatus(ctx, f.owner, f.repo, sha, &gh.ListOptions{PerPage: 100})
		return resp, err
	})
	if err == nil {
		for _, have := range combined.Statuses {
			if have.GetContext() == st.Context && have.GetState() == string(st.State) && have.GetDescription() == desc && have.GetTargetURL() == st.TargetURL {
				return nil
			}
		}
	}
	return f.call(ctx, "create status", func() (*gh.Response, error) {
		_, resp, err := f.repos.CreateStatus(ctx, f.owner, f.repo, sha, s)
		return resp, err
	})
}

// Comment adds a comment to pr.
func (f *Forge) Comment(ctx context.Context, pr *gitops.PullRequest, body string) error {
	return f.call(ctx, "comment", func() (*gh.Response, error) {
		_, resp, err := f.issues.CreateComment(ctx, f.owner, f.repo, pr.Number, &gh.IssueComment{Body: gh.String(body)})
		return resp, err
	})
}

// DeleteBranch deletes one of promoter's branches; a missing one is success.
func (f *Forge) DeleteBranch(ctx context.Context, branch string) error {
	if !strings.HasPrefix(branch, gitops.BranchPrefix) {
		return fmt.Errorf("delete %s: %w", branch, gitops.ErrForbiddenForce)
	}
	// A branch already gone (deleted by the previous step's run, or by the
	// repository's "automatically delete head branches") costs a read,
	// not a failed write.
	err := f.call(ctx, "get branch", func() (*gh.Response, error) {
		_, resp, err := f.git.GetRef(ctx, f.owner, f.repo, "heads/"+branch)
		return resp, err
	})
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	err = f.call(ctx, "delete branch", func() (*gh.Response, error) {
		return f.git.DeleteRef(ctx, f.owner, f.repo, "heads/"+branch)
	})
	if s := statusOf(err); s == http.StatusNotFound || s == http.StatusUnprocessableEntity {
		return nil
	}
	return err
}
