// Command promoter is a GitOps canary promoter for Istio: it moves traffic to
// a canary through commits to a Git repository, gated by Prometheus.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/promoter-dev/promoter/internal/lockdown"
)

// defaultShutdownGrace is how long promoter waits, after SIGINT or SIGTERM,
// for the work in flight to finish (run cancels it; watch lets the pass in
// flight finish) before it exits 1 naming what is stuck. Kubernetes sends
// SIGKILL 30 seconds after SIGTERM by default.
const defaultShutdownGrace = 25 * time.Second

func main() {
	// First thing: no part of promoter starts a program or uses
	// http.DefaultTransport, and a kustomize build must not either (see
	// internal/lockdown).
	lockdown.Apply()
	os.Exit(mainWithSignals(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// mainWithSignals runs promoter with SIGINT and SIGTERM cancelling its
// context. A second signal, or the grace period
// (PROMOTER_SHUTDOWN_GRACE, default 25s) passing, ends the process with
// exit 1 and a message naming where it was stuck.
func mainWithSignals(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	grace := defaultShutdownGrace
	if v := os.Getenv("PROMOTER_SHUTDOWN_GRACE"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			grace = d
		}
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		cancel()
		t := time.NewTimer(grace)
		select {
		case <-sigs:
		case <-t.C:
		}
		fmt.Fprintf(stderr, "promoter: error: %s received and the work in flight did not end within %s; exiting. Stuck in: %s\n", s, grace, stuckIn())
		os.Exit(exitError)
	}()
	return execute(ctx, args, stdin, stdout, stderr)
}

// stuckIn names the promoter functions the goroutines are in, innermost
// first, from their stacks: what the work in flight is waiting on.
func stuckIn() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	const module = "github.com/promoter-dev/promoter/"
	var names []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, line := range strings.Split(g, "\n") {
			fn, ok := strings.CutPrefix(line, module)
			if !ok {
				continue
			}
			if i := strings.LastIndex(fn, "("); i > 0 && strings.HasSuffix(fn, ")") {
				fn = fn[:i]
			}
			if strings.HasPrefix(fn, "cmd/promoter.") {
				break // the command itself, or this watchdog
			}
			if !slices.Contains(names, fn) {
				names = append(names, fn)
			}
		}
	}
	if len(names) == 0 {
		return "no promoter function (a library call)"
	}
	if len(names) > 8 {
		names = append(names[:8], "...")
	}
	return strings.Join(names, ", ")
}
