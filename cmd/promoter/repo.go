package main

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/github"
	"github.com/promoter-dev/promoter/internal/promote"
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

		Progress: g.prog,
	})
	switch {
	case errors.Is(err, gitops.ErrAuth):
		return nil, withHint(err, "set GIT_TOKEN (or GITHUB_TOKEN, or GIT_USERNAME and GIT_PASSWORD) for https remotes, GIT_SSH_KEY for ssh remotes")
	case errors.Is(err, gitops.ErrNotFound):
		return nil, withHint(err, "check --repo and --branch")
	case err != nil && g.branch == "" && strings.Contains(err.Error(), `remote ref "HEAD"`):
		return nil, withHint(err, "the remote's HEAD names a branch that does not exist: give --branch")
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
// remotes on github.com or on the GitHub Enterprise host GITHUB_API_URL
// names, and when --github-repo is given, and local otherwise.
func (g *globals) newForge(ctx context.Context, r *gitops.Repo) (gitops.Forge, error) {
	name := g.forge
	if name == "" {
		name = "local"
		if g.githubRepo != "" || g.isGitHubRemote(r.Remote()) {
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

// printManual prints the decision of a command a human asked for (start,
// rollback) in the form of its outcome. msgs maps "dry-run", "wait" and
// "landed" to messages, in which %s stands for the commit subject.
func (g *globals) printManual(d promote.Decision, action string, msgs map[string]string) error {
	type outcome struct {
		Name        string   `json:"name"`
		Action      string   `json:"action"`
		Result      string   `json:"result"` // committed | merged | pull-request | unchanged | dry-run
		Message     string   `json:"message"`
		Commit      string   `json:"commit,omitempty"`
		PullRequest string   `json:"pullRequest,omitempty"`
		Subject     string   `json:"subject,omitempty"`
		Reasons     []string `json:"reasons"`
	}
	o := outcome{Name: d.Canary, Action: action, Commit: d.Commit, PullRequest: d.PullRequest, Subject: d.Subject, Reasons: d.Reasons}
	switch {
	case d.Action == promote.ActNone:
		o.Result, o.Message = "unchanged", "nothing to do: "+first(d.Reasons, "the repository already says so")
	case g.dryRun:
		o.Result, o.Message, o.Commit = "dry-run", strings.ReplaceAll(msgs["dry-run"], "%s", d.Subject), ""
	case d.Action == promote.ActWait:
		o.Result, o.Message = "pull-request", msgs["wait"]
	case d.PullRequest != "":
		o.Result, o.Message = "merged", strings.ReplaceAll(msgs["landed"], "%s", d.Subject)
	default:
		o.Result = "committed"
		o.Message = strings.ReplaceAll(msgs["landed"], "%s", d.Subject)
	}
	if g.output == "json" {
		return writeJSON(g.stdout, o)
	}
	line := o.Name + ": " + o.Message
	if o.Commit != "" {
		line += " (commit " + shortSHA(o.Commit) + ")"
	}
	if o.PullRequest != "" {
		line += " (pull request " + o.PullRequest + ")"
	}
	_, err := fmt.Fprintln(g.stdout, line)
	if d.Diff != "" {
		fmt.Fprintf(g.stdout, "  diff of the built manifests:\n    %s\n", strings.ReplaceAll(strings.TrimRight(d.Diff, "\n"), "\n", "\n    "))
	}
	return err
}

func first(s []string, otherwise string) string {
	if len(s) == 0 {
		return otherwise
	}
	return s[0]
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func (g *globals) newGitHubForge(ctx context.Context, r *gitops.Repo) (gitops.Forge, error) {
	token := g.getenv("GITHUB_TOKEN")
	if token == "" {
		return nil, withHint(errors.New("the github forge needs a token"), "set GITHUB_TOKEN")
	}
	owner, name, err := g.pullRequestRepo(r.Remote())
	if err != nil {
		return nil, err
	}
	base := g.getenv("GITHUB_API_URL")
	if base == "https://api.github.com" {
		base = ""
	}
	return github.New(github.Options{Owner: owner, Repo: name, Token: token, BaseURL: base, Log: g.log})
}
