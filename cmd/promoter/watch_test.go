package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// watch finishes the pass in flight when interrupted, then exits 0.
func TestWatchFinishesThePassOnInterrupt(t *testing.T) {
	t.Parallel()
	srv := gittest.NewServer(t)
	bare := seedExample(t, srv, "direct")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal arrives before the first pass is over
	var out, errb bytes.Buffer
	code := execute(ctx, []string{"--repo", srv.RepoURL("repo"), "--now", "2026-03-02T09:00:00Z", "watch", "--interval", "1h"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "myapp: start 0% -> 5%") {
		t.Errorf("the pass in flight did not finish:\n%s%s", out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "interrupted: stopping after the pass") {
		t.Errorf("no word of the interruption:\n%s", errb.String())
	}
	if got := gittest.Git(t, bare, "log", "-1", "--format=%s", "main"); got != "canary(myapp): 0% -> 5%" {
		t.Errorf("main is at %q, want the start commit", got)
	}
}
