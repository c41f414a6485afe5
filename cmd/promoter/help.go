package main

import (
	"context"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/spec"
)

// examples are the Example: sections of the help, by command path.
var examples = map[string]string{
	"promoter": `  # one pass over a checkout, as a CI schedule runs it
  promoter run --repo . --prometheus http://prometheus.monitoring:9090
  # what run would do, without writing
  promoter plan --repo https://github.com/acme/gitops.git`,
	"promoter init": `  promoter init --name myapp --namespace myapp
  promoter init --name shop --namespace shop --image registry.example.com/shop:v1.4.0 --runners cronjob,argocd`,
	"promoter validate": `  promoter validate --repo .
  promoter validate --repo . myapp -o json`,
	"promoter render": `  promoter render myapp --step 2
  promoter render myapp --weight 25 --build`,
	"promoter start": `  promoter start myapp --image registry.example.com/myapp:v2.1.0
  promoter start myapp --image myapp:v2.1.0 --repo https://github.com/acme/gitops.git --author "Release Bot <bot@example.com>"`,
	"promoter rollback": `  promoter rollback myapp --reason "p99 above 400ms since 14:05"`,
	"promoter run": `  promoter run --repo https://github.com/acme/gitops.git --prometheus http://prometheus:9090
  # one of four parallel jobs, with debug logs
  promoter run --shard 2/4 -v
  # a workflow in acme/ci driving acme/gitops
  promoter run --repo https://github.com/acme/gitops.git --github-repo acme/gitops`,
	"promoter plan": `  promoter plan
  promoter plan myapp --now 2026-01-02T15:04:05Z`,
	"promoter watch": `  promoter watch --interval 1m --repo https://github.com/acme/gitops.git`,
	"promoter status": `  promoter status
  promoter status myapp -o json`,
	"promoter promote": `  promoter promote myapp
  promoter promote myapp --full`,
	"promoter demo": `  promoter demo
  promoter demo --scenario outage --keep ./demo-repo`,
	"promoter gates": `  promoter gates myapp --prometheus http://localhost:9090
  promoter gates myapp --since 2026-01-02T15:00:00Z --weight 10 --markdown`,
	"promoter version": `  promoter version
  promoter version -o json`,
	"promoter help": `  promoter help run`,
	"promoter completion": `  source <(promoter completion bash)
  promoter completion zsh > "${fpath[1]}/_promoter"`,
	"promoter completion bash":       `  source <(promoter completion bash)`,
	"promoter completion zsh":        `  promoter completion zsh > "${fpath[1]}/_promoter"`,
	"promoter completion fish":       `  promoter completion fish > ~/.config/fish/completions/promoter.fish`,
	"promoter completion powershell": `  promoter completion powershell | Out-String | Invoke-Expression`,
}

// decorate gives every command its example and every command that takes
// canary names their completion.
func decorate(root *cobra.Command, g *globals) {
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if ex, ok := examples[c.CommandPath()]; ok && c.Example == "" {
			c.Example = ex
		}
		if takesCanaries(c) && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = g.completeCanaries
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// takesCanaries reports whether c's arguments are canary names.
func takesCanaries(c *cobra.Command) bool {
	return strings.Contains(c.Use, "CANARY")
}

// completeCanaries completes the names of the canaries in --repo when it is
// a directory (a checkout); it never clones.
func (g *globals) completeCanaries(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if fi, err := os.Stat(g.repo); err != nil || !fi.IsDir() {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	// A single-argument command takes no second name.
	if len(args) > 0 && !strings.Contains(cmd.Use, "CANARY...") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cs, _ := spec.Load(ctx, os.DirFS(g.repo)) // a broken spec elsewhere still completes the rest
	var out []cobra.Completion
	for _, c := range cs {
		n := c.Metadata.Name
		if strings.HasPrefix(n, toComplete) && !slices.Contains(args, n) {
			out = append(out, cobra.CompletionWithDesc(n, c.Source.File))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
