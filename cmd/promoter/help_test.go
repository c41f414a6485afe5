package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command's help has an Example: section.
func TestEveryCommandHasAnExample(t *testing.T) {
	g := &globals{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	root := newRootCmd(g)
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		n++
		if c.Example == "" {
			t.Errorf("%q has no example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 15 {
		t.Errorf("walked only %d commands", n)
	}
}

// Shell completion offers the canaries of --repo, minus those given.
func TestCompletionOffersCanaryNames(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "--repo", "../../examples/repo", "status", ""}, "myapp\tapps/myapp/canary.yaml\n:4\n"},
		{[]string{"__complete", "--repo", "../../examples/repo", "gates", "my"}, "myapp\tapps/myapp/canary.yaml\n:4\n"},
		{[]string{"__complete", "--repo", "../../examples/repo", "run", "myapp", ""}, ":4\n"},
		{[]string{"__complete", "--repo", "../../examples/repo", "rollback", "myapp", ""}, ":4\n"},
		{[]string{"__complete", "--repo", "../../examples/repo", "status", "x"}, ":4\n"},
		{[]string{"__complete", "--repo", "https://example.com/acme/gitops.git", "status", ""}, ":4\n"},
	} {
		var out, errs bytes.Buffer
		code := execute(context.Background(), tt.args, strings.NewReader(""), &out, &errs)
		if code != 0 || out.String() != tt.want {
			t.Errorf("%q: exit %d, completions %q, want %q\n%s", tt.args, code, out.String(), tt.want, errs.String())
		}
	}
}
