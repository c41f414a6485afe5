// Package github is the GitHub forge of promoter: pull requests, merges,
// commit statuses and comments through the GitHub REST API (go-github), for
// github.com and GitHub Enterprise Server.
//
// # Merging
//
// [Forge.MergePullRequest] follows the pull request's mergeable_state:
// clean, unstable and has_hooks merge; blocked, behind, unknown and draft
// wait (not an error); dirty is [gitops.ErrConflict], so the caller
// re-renders the head branch on the new base. The merge names the head SHA
// promoter pushed, so a head that moved is [gitops.ErrHeadChanged] rather
// than a merge of something unchecked.
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
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/promoter-dev/promoter/internal/creds"
	"github.com/promoter-dev/promoter/internal/gitops"
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
}

type gitAPI interface {
	DeleteRef(ctx context.Context, owner, repo, ref string) (*gh.Response, error)
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
	attempts    int
	maxWait     time.Duration
	clock       func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	log         *slog.Logger
}

var _ gitops.Forge = (*Forge)(nil)

// New returns the forge of one repository.
func New(o Options) (*Forge, error) {
	if o.Owner == "" || o.Repo == "" {
		return nil, errors.New("github: owner and repository are required")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
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
		base = http.DefaultTransport
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
		pulls: c.PullRequests, issues: c.Issues, repos: c.Repositories, git: c.Git,
		attempts: o.Attempts, maxWait: o.MaxWait, clock: o.Clock, sleep: o.Sleep, log: o.Log,
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
		f.sleep = sleepCtx
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f, nil
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
	if err := f.addLabels(ctx, pr.Number, n.Labels); err != nil {
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

func (f *Forge) addLabels(ctx context.Context, number int, labels []string) error {
	if len(labels) == 0 {
		return nil
	}
	return f.call(ctx, "add labels", func() (*gh.Response, error) {
		_, resp, err := f.issues.AddLabelsToIssue(ctx, f.owner, f.repo, number, labels)
		return resp, err
	})
}

// UpdatePullRequest replaces the body and adds labels.
func (f *Forge) UpdatePullRequest(ctx context.Context, pr *gitops.PullRequest, body string, labels []string) error {
	err := f.call(ctx, "edit pull request", func() (*gh.Response, error) {
		_, resp, err := f.pulls.Edit(ctx, f.owner, f.repo, pr.Number, &gh.PullRequest{Body: gh.String(body)})
		return resp, err
	})
	if err != nil {
		return err
	}
	return f.addLabels(ctx, pr.Number, labels)
}

// MergePullRequest merges pr per its mergeable_state (see the package
// documentation).
func (f *Forge) MergePullRequest(ctx context.Context, pr *gitops.PullRequest, method gitops.MergeMethod, msg gitops.Message) (bool, error) {
	var cur *gh.PullRequest
	err := f.call(ctx, "get pull request", func() (*gh.Response, error) {
		var resp *gh.Response
		var err error
		cur, resp, err = f.pulls.Get(ctx, f.owner, f.repo, pr.Number)
		return resp, err
	})
	if err != nil {
		return false, err
	}
	if cur.GetMerged() {
		return true, nil
	}
	if cur.GetState() != "open" {
		return false, fmt.Errorf("github: pull request #%d is %s", pr.Number, cur.GetState())
	}
	if pr.HeadSHA != "" && cur.GetHead().GetSHA() != pr.HeadSHA {
		return false, fmt.Errorf("github: #%d head is %s: %w", pr.Number, cur.GetHead().GetSHA(), gitops.ErrHeadChanged)
	}
	switch state := cur.GetMergeableState(); state {
	case "clean", "unstable", "has_hooks":
	case "dirty":
		return false, fmt.Errorf("github: #%d: %w", pr.Number, gitops.ErrConflict)
	default: // blocked, behind, unknown, draft: not yet
		f.log.Info("pull request not mergeable yet", "pr", pr.Number, "mergeable_state", state)
		return false, nil
	}
	if method == "" {
		method = gitops.MergeCommit
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
		return err == nil, err
	case http.StatusMethodNotAllowed: // not mergeable (checks, reviews)
		f.log.Info("pull request not mergeable yet", "pr", pr.Number, "reason", err)
		return false, nil
	case http.StatusConflict: // head changed
		return false, fmt.Errorf("github: #%d: %w", pr.Number, gitops.ErrHeadChanged)
	}
	return false, err
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
	err := f.call(ctx, "delete branch", func() (*gh.Response, error) {
		return f.git.DeleteRef(ctx, f.owner, f.repo, "heads/"+branch)
	})
	if s := statusOf(err); s == http.StatusNotFound || s == http.StatusUnprocessableEntity {
		return nil
	}
	return err
}
