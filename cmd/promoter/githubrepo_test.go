package main

import "testing"

func TestIsGitHubRemote(t *testing.T) {
	tests := []struct {
		remote, api, server string
		want                bool
	}{
		{"https://github.com/acme/gitops.git", "", "", true},
		{"git@github.com:acme/gitops.git", "", "", true},
		{"ssh://git@github.com/acme/gitops.git", "", "", true},
		{"https://ghe.example.com/acme/gitops.git", "", "", false},
		{"https://ghe.example.com/acme/gitops.git", "https://ghe.example.com/api/v3", "", true},
		{"git@ghe.example.com:acme/gitops.git", "https://GHE.example.com/api/v3/", "", true},
		{"https://ghe.example.com/acme/gitops.git", "", "https://ghe.example.com", true},
		{"https://acme.ghe.com/acme/gitops.git", "https://api.acme.ghe.com", "", true},
		// In GitHub Actions GITHUB_API_URL is always set: a GitLab remote stays local.
		{"https://gitlab.example.com/acme/gitops.git", "https://api.github.com", "https://github.com", false},
		{"/srv/git/gitops.git", "https://api.github.com", "", false},
	}
	for _, tt := range tests {
		env := map[string]string{"GITHUB_API_URL": tt.api, "GITHUB_SERVER_URL": tt.server}
		g := &globals{getenv: func(k string) string { return env[k] }}
		if got := g.isGitHubRemote(tt.remote); got != tt.want {
			t.Errorf("isGitHubRemote(%q) with API %q, server %q = %v, want %v", tt.remote, tt.api, tt.server, got, tt.want)
		}
	}
}
