package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	git "github.com/go-git/go-git/v5"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/github"
	"github.com/promoter-dev/promoter/internal/spec"
)

// mergeMethodCheck returns a check that refuses an auto-merge canary whose
// pullRequests.mergeMethod the GitHub repository does not allow, or nil
// when there is nothing to check against: no GITHUB_TOKEN, --forge local,
// no GitHub repository to ask, or one that does not say (a token without
// the permission to see its settings, or GitHub unreachable: logged).
func (g *globals) mergeMethodCheck(ctx context.Context) func(c *spec.Canary) error {
	token := g.getenv("GITHUB_TOKEN")
	if token == "" || g.forge == "local" {
		return nil
	}
	remote := localRemote(g.repo)
	if !g.isGitHubRemote(remote) {
		remote = "" // not where pull requests go: --github-repo or GITHUB_REPOSITORY say
	}
	if g.forge != "github" && g.githubRepo == "" && g.getenv("GITHUB_REPOSITORY") == "" && remote == "" {
		return nil
	}
	owner, name, err := g.pullRequestRepo(remote)
	if err != nil {
		g.log.Warn("not checking merge methods against GitHub", "err", err)
		return nil
	}
	base := g.getenv("GITHUB_API_URL")
	if base == "https://api.github.com" {
		base = ""
	}
	f, err := github.New(github.Options{Owner: owner, Repo: name, Token: token, BaseURL: base, Log: g.log})
	if err != nil {
		g.log.Warn("not checking merge methods against GitHub", "err", err)
		return nil
	}
	allowed, err := f.AllowedMergeMethods(ctx)
	if err != nil || allowed == nil {
		g.log.Warn("could not read the merge methods the GitHub repository allows; not checking them", "repository", owner+"/"+name, "err", err)
		return nil
	}
	return func(c *spec.Canary) error {
		pr := c.Spec.PullRequests
		if pr.Mode != spec.ModeAutoMerge || slices.Contains(allowed, gitops.MergeMethod(pr.MergeMethod)) {
			return nil
		}
		names := make([]string, len(allowed))
		for i, m := range allowed {
			names[i] = string(m)
		}
		if len(names) == 0 {
			names = []string{"none"}
		}
		const field = "spec.pullRequests.mergeMethod"
		return fmt.Errorf("%s:%d: %s: %s is not allowed on %s/%s, which allows %s: set mergeMethod to one of those, or allow %s in the repository's Settings > General > Pull Requests",
			c.Source.File, c.Source.LineOf(field), field, pr.MergeMethod, owner, name, strings.Join(names, ", "), github.MethodNoun(gitops.MergeMethod(pr.MergeMethod)))
	}
}

// localRemote is the URL of the origin remote of the checkout at dir, or
// "" when it has none.
func localRemote(dir string) string {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	o, err := r.Remote("origin")
	if err != nil || len(o.Config().URLs) == 0 {
		return ""
	}
	return o.Config().URLs[0]
}

// syncStatusCheck refuses analysis.syncStatus when the forge run would use
// is the local one (--forge local, or no GitHub repository to talk to),
// which has no commit statuses to read.
func (g *globals) syncStatusCheck(c *spec.Canary) error {
	if c.Spec.Analysis.SyncStatus == nil {
		return nil
	}
	switch {
	case g.forge == "github", g.forge == "" && (g.githubRepo != "" || g.isGitHubRemote(localRemote(g.repo))):
		return nil
	}
	const field = "spec.analysis.syncStatus"
	return fmt.Errorf("%s:%d: %s: the local forge (a plain Git remote) has no commit statuses or check runs to read: run with --forge github (and GITHUB_TOKEN) where Argo CD or Flux posts commit statuses, or remove analysis.syncStatus (analysis.verifyTraffic waits for the mesh instead)",
		c.Source.File, c.Source.LineOf(field), field)
}
