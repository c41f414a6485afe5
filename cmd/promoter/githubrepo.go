package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/promoter-dev/promoter/internal/gitops/github"
)

// pullRequestRepo decides which GitHub repository pull requests go to:
// --github-repo, else GITHUB_REPOSITORY, else the one the remote names.
//
// GITHUB_REPOSITORY is the repository a GitHub Actions workflow runs in,
// which is not always the one it drives: a workflow in repository A that
// clones B would otherwise open B's pull requests in A. So when the remote
// names a repository and GITHUB_REPOSITORY names another, it is an error;
// --github-repo says explicitly where they go, and may differ.
func (g *globals) pullRequestRepo(remote string) (owner, name string, err error) {
	fromRemote, remoteErr := parseGitHubRemote(remote)
	if g.githubRepo != "" {
		o, n, ok := splitOwnerName(g.githubRepo)
		if !ok {
			return "", "", withHint(fmt.Errorf("--github-repo %q: not OWNER/NAME", g.githubRepo), "for example --github-repo acme/gitops")
		}
		if remoteErr == nil && !strings.EqualFold(fromRemote, o+"/"+n) && g.log != nil {
			g.log.Info("pull requests go to another repository than the remote's, as --github-repo says", "github-repo", o+"/"+n, "remote", fromRemote)
		}
		return o, n, nil
	}
	if env := g.getenv("GITHUB_REPOSITORY"); env != "" {
		o, n, ok := splitOwnerName(env)
		if !ok {
			return "", "", withHint(fmt.Errorf("GITHUB_REPOSITORY %q: not OWNER/NAME", env), "set GITHUB_REPOSITORY=owner/repo or pass --github-repo OWNER/NAME")
		}
		if remoteErr == nil && !strings.EqualFold(fromRemote, o+"/"+n) {
			return "", "", withHint(
				fmt.Errorf("the remote is %s but GITHUB_REPOSITORY is %s: pull requests would open in %s", fromRemote, env, env),
				fmt.Sprintf("pass --github-repo %s to open them in the remote's repository, or --github-repo %s if that is really where they go", fromRemote, env))
		}
		return o, n, nil
	}
	if remoteErr != nil {
		return "", "", withHint(remoteErr, "pass --github-repo OWNER/NAME (or set GITHUB_REPOSITORY)")
	}
	o, n, _ := splitOwnerName(fromRemote)
	return o, n, nil
}

// parseGitHubRemote is the OWNER/NAME a remote URL names.
func parseGitHubRemote(remote string) (string, error) {
	o, n, err := github.ParseRemote(remote)
	if err != nil {
		return "", err
	}
	return o + "/" + n, nil
}

func splitOwnerName(s string) (owner, name string, ok bool) {
	owner, name, ok = strings.Cut(strings.TrimSuffix(s, ".git"), "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", false
	}
	return owner, name, true
}

// remoteHost is the host of a remote URL or of an scp-like address
// (git@host:owner/repo), lower-cased; "" when it has none.
func remoteHost(remote string) string {
	if u, err := url.Parse(remote); err == nil && u.Host != "" {
		return strings.ToLower(u.Hostname())
	}
	at := strings.Index(remote, "@")
	colon := strings.Index(remote, ":")
	if at >= 0 && colon > at {
		return strings.ToLower(remote[at+1 : colon])
	}
	return ""
}

// isGitHubRemote reports whether remote is on github.com, or on the GitHub
// Enterprise host that GITHUB_API_URL or GITHUB_SERVER_URL name
// (https://ghe.example.com/api/v3, https://ghe.example.com, or for
// GHE.com https://api.acme.ghe.com with remotes on acme.ghe.com).
func (g *globals) isGitHubRemote(remote string) bool {
	host := remoteHost(remote)
	if host == "" {
		return false
	}
	if host == "github.com" {
		return true
	}
	for _, env := range []string{"GITHUB_API_URL", "GITHUB_SERVER_URL"} {
		u, err := url.Parse(g.getenv(env))
		if err != nil || u.Host == "" {
			continue
		}
		h := strings.ToLower(u.Hostname())
		if h == host || h == "api."+host {
			return true
		}
	}
	return false
}
