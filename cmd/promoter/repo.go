package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/github"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// openRepo opens --repo (a checkout, or a URL to clone) for a command that
// commits. Credentials come from the environment (see gitops.AuthFromEnv)
// and are never written to the repository's config; commits are signed by
// author ("Name <email>", else PROMOTER_GIT_AUTHOR_NAME/_EMAIL, else the
// default) and dated by the --now clock.
func (g *globals) openRepo(ctx context.Context, author string) (*gitops.Repo, error) {
	sig, err := g.author(author)
	if err != nil {
		return nil, err
	}
	r, err := gitops.Open(ctx, gitops.Options{
		Source: g.repo,
		Branch: g.branch,
		Auth:   gitops.AuthFromEnv(g.getenv),
		Author: sig,
		Clock:  g.clock,
		Log:    g.log,
	})
	switch {
	case errors.Is(err, gitops.ErrAuth):
		return nil, withHint(err, "set GIT_TOKEN (or GITHUB_TOKEN, or GIT_USERNAME and GIT_PASSWORD) for https remotes, GIT_SSH_KEY for ssh remotes")
	case errors.Is(err, gitops.ErrNotFound):
		return nil, withHint(err, "check --repo and --branch")
	case err != nil:
		return nil, err
	}
	return r, nil
}

func (g *globals) author(flag string) (gitops.Signature, error) {
	if flag != "" {
		a, err := mail.ParseAddress(flag)
		if err != nil {
			return gitops.Signature{}, withHint(fmt.Errorf("--author %q: %w", flag, err), `give --author "Name <email>"`)
		}
		return gitops.Signature{Name: a.Name, Email: a.Address}, nil
	}
	return gitops.Signature{Name: g.getenv("PROMOTER_GIT_AUTHOR_NAME"), Email: g.getenv("PROMOTER_GIT_AUTHOR_EMAIL")}, nil
}

// newForge returns the forge named by --forge; the default is github for
// github.com remotes and local otherwise.
func (g *globals) newForge(ctx context.Context, r *gitops.Repo) (gitops.Forge, error) {
	name := g.forge
	if name == "" {
		name = "local"
		if u, err := url.Parse(r.Remote()); err == nil && u.Host == "github.com" {
			name = "github"
		} else if strings.Contains(r.Remote(), "@github.com:") {
			name = "github"
		}
	}
	switch name {
	case "local":
		return gitops.NewLocalForge(r), nil
	case "github":
		return g.newGitHubForge(ctx, r)
	}
	return nil, withHint(fmt.Errorf("--forge %q: unknown forge", name), "use --forge local or --forge github")
}

// canaryAt loads the spec of the canary name from the repository at a
// commit.
func (g *globals) canaryAt(ctx context.Context, fsys fs.FS, name string) (*spec.Canary, error) {
	cs, err := loadCanaries(ctx, slog.New(slog.DiscardHandler), fsys, []string{name})
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// standing is where a canary stands at a commit, as far as start and
// rollback need to know.
type standing struct {
	committed *render.Committed
	base      *render.Base
	// revision is the canary image in effect, stable the stable one.
	revision, stable string
}

func readStanding(c *spec.Canary, fsys fs.FS) (*standing, error) {
	b, err := render.Inspect(c, fsys)
	if err != nil {
		return nil, err
	}
	committed, err := render.ReadStage(c, fsys)
	if errors.Is(err, render.ErrNoComponent) {
		committed, err = &render.Committed{}, nil
	}
	if err != nil {
		return nil, withHint(err, "promoter's component was edited by hand; restore it from history, or run `promoter rollback` to reset it to stable")
	}
	s := &standing{committed: committed, base: b, revision: b.Canary.Image, stable: b.Stable.Image}
	if committed.CanaryImage != "" {
		s.revision = committed.CanaryImage
	}
	if committed.StableImage != "" {
		s.stable = committed.StableImage
	}
	return s, nil
}

// rolledBack reports whether the current revision is held after a rollback.
func (s *standing) rolledBack() bool {
	rb := s.committed.Rollback
	return rb != nil && rb.Revision == s.revision
}

// inFlight reports whether the canary is taking traffic or stepping.
func (s *standing) inFlight() bool {
	return !s.rolledBack() && s.revision != s.stable && (s.committed.Step > 0 || s.committed.Weight > 0)
}

// outcome is what a writing command did, for its output.
type outcome struct {
	Name        string   `json:"name"`
	Action      string   `json:"action"`
	Result      string   `json:"result"` // committed | merged | pull-request | unchanged | dry-run
	Message     string   `json:"message"`
	Commit      string   `json:"commit,omitempty"`
	PullRequest string   `json:"pullRequest,omitempty"`
	Subject     string   `json:"subject,omitempty"`
	Files       []string `json:"files,omitempty"`
}

func (g *globals) print(o outcome) error {
	if g.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(o)
	}
	line := o.Name + ": " + o.Message
	if o.Commit != "" {
		line += " (commit " + shortSHA(o.Commit) + ")"
	}
	if o.PullRequest != "" {
		line += " (pull request " + o.PullRequest + ")"
	}
	_, err := fmt.Fprintln(g.stdout, line)
	for _, f := range o.Files {
		fmt.Fprintln(g.stdout, "  "+f)
	}
	return err
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// deliver lands the change fn derives from the target branch, as the
// canary's pull-request mode says: pushed to the branch (direct, and every
// dry run), or committed to the pull request branch head, which is opened
// (or adopted) and, in auto-merge mode, merged. fn is called again on the
// new tip after a lost race or a conflicting base. noop is the message when
// fn has nothing to do.
func (g *globals) deliver(ctx context.Context, r *gitops.Repo, c *spec.Canary, head string, fn gitops.UpdateFunc) (outcome, error) {
	o := outcome{Name: c.Metadata.Name}
	mode := c.Spec.PullRequests.Mode
	if mode == "" {
		mode = spec.ModeAutoMerge
	}
	if mode == spec.ModeDirect || g.dryRun {
		res, err := r.Update(ctx, g.dryRun, fn)
		if err != nil {
			return o, err
		}
		switch {
		case res.Pushed:
			o.Result, o.Commit, o.Subject = "committed", res.Commit.Hash, res.Commit.Message.Subject
		case res.Commit.Hash != "":
			o.Result, o.Subject = "dry-run", res.Commit.Message.Subject
		default:
			o.Result = "unchanged"
		}
		return o, nil
	}
	forge, err := g.newForge(ctx, r)
	if err != nil {
		return o, err
	}
	for attempt := 1; ; attempt++ {
		var change *gitops.Change
		var built gitops.Commit
		res, err := r.Update(ctx, true, func(ctx context.Context, tip *gitops.Snapshot) (*gitops.Change, error) {
			ch, err := fn(ctx, tip)
			change = ch
			return ch, err
		})
		if err != nil {
			return o, err
		}
		if res.Commit.Hash == "" {
			o.Result = "unchanged"
			return o, nil
		}
		built = res.Commit
		if err := r.PushBranch(ctx, built.Hash, head); err != nil {
			return o, err
		}
		pr, err := forge.FindPullRequest(ctx, head)
		if err != nil {
			return o, err
		}
		if pr == nil {
			pr, err = forge.OpenPullRequest(ctx, gitops.NewPullRequest{
				Head: head, Base: r.Branch(),
				Title: change.Message.Subject, Body: change.Message.Body,
				Labels: c.Spec.PullRequests.Labels, Reviewers: c.Spec.PullRequests.Reviewers,
			})
			if err != nil {
				return o, err
			}
		} else if err := forge.UpdatePullRequest(ctx, pr, change.Message.Body, c.Spec.PullRequests.Labels); err != nil {
			return o, err
		}
		pr.HeadSHA = built.Hash
		o.PullRequest, o.Subject = prRef(pr), built.Message.Subject
		if mode == spec.ModeReview {
			o.Result, o.Commit = "pull-request", built.Hash
			return o, nil
		}
		merged, err := forge.MergePullRequest(ctx, pr, gitops.MergeMethod(c.Spec.PullRequests.MergeMethod), change.Message)
		if (errors.Is(err, gitops.ErrConflict) || errors.Is(err, gitops.ErrHeadChanged)) && attempt < 3 {
			g.log.Info("pull request must be re-rendered on the new base", "head", head, "err", err)
			continue
		}
		if err != nil {
			return o, err
		}
		if !merged {
			o.Result, o.Commit = "pull-request", built.Hash
			return o, nil
		}
		if err := forge.DeleteBranch(ctx, head); err != nil {
			g.log.Warn("could not delete the merged branch", "branch", head, "err", err)
		}
		tip, err := r.Fetch(ctx)
		if err != nil {
			return o, err
		}
		o.Result, o.Commit = "merged", tip.Hash
		return o, nil
	}
}

func prRef(pr *gitops.PullRequest) string {
	switch {
	case pr.URL != "":
		return pr.URL
	case pr.Number != 0:
		return fmt.Sprintf("#%d", pr.Number)
	}
	return pr.Head
}

// changedPaths lists the files a change writes, for dry-run output.
func changedPaths(ch *gitops.Change) []string {
	var out []string
	for p, content := range ch.Files {
		if content == nil {
			out = append(out, "delete "+p)
		} else {
			out = append(out, "write  "+p)
		}
	}
	return out
}

// newGitHubForge builds the GitHub forge: token from GITHUB_TOKEN, API root
// from GITHUB_API_URL (GitHub Enterprise; GitHub Actions sets it), owner and
// repository from GITHUB_REPOSITORY or else the remote URL.
func (g *globals) newGitHubForge(ctx context.Context, r *gitops.Repo) (gitops.Forge, error) {
	token := g.getenv("GITHUB_TOKEN")
	if token == "" {
		return nil, withHint(errors.New("the github forge needs a token"), "set GITHUB_TOKEN")
	}
	owner, name, ok := strings.Cut(g.getenv("GITHUB_REPOSITORY"), "/")
	if !ok {
		var err error
		if owner, name, err = github.ParseRemote(r.Remote()); err != nil {
			return nil, withHint(err, "set GITHUB_REPOSITORY=owner/repo")
		}
	}
	base := g.getenv("GITHUB_API_URL")
	if base == "https://api.github.com" {
		base = ""
	}
	return github.New(github.Options{Owner: owner, Repo: name, Token: token, BaseURL: base, Log: g.log})
}
