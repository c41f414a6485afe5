package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/buildinfo"
	"github.com/promoter-dev/promoter/internal/creds"
	"github.com/promoter-dev/promoter/internal/lockdown"
	"github.com/promoter-dev/promoter/internal/spec"
)

// Exit codes (design: 0 done, 1 error, 2 waiting/inconclusive, 3 rolled back).
const (
	exitOK         = 0
	exitError      = 1
	exitWaiting    = 2
	exitRolledBack = 3
)

// exitError carries a specific exit code out of a command without printing
// anything more: the command has already reported what happened.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// userError is an error with a hint telling the user what to do about it.
type userError struct {
	err  error
	hint string
}

func (e userError) Error() string { return e.err.Error() }
func (e userError) Unwrap() error { return e.err }

func withHint(err error, hint string) error { return userError{err: err, hint: hint} }

// globals are the flags common to every command.
type globals struct {
	repo       string
	branch     string
	forge      string
	prometheus string
	dryRun     bool
	output     string
	logFormat  string
	logLevel   string
	verbose    bool
	progress   string
	githubRepo string
	now        string
	shard      string

	promHeaders               []string
	promCA, promCert, promKey string

	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// prog receives progress lines; nil when --progress says none.
	prog   io.Writer
	log    *slog.Logger
	clock  func() time.Time
	getenv func(string) string
}

func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return executeEnv(ctx, args, os.Getenv, stdin, stdout, stderr)
}

// executeEnv is execute with the environment read through getenv.
func executeEnv(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return report(stderr, g.explain(err))
}

// report prints err the way users see errors and returns the exit code.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ec exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	var ve *spec.ValidationError
	if errors.As(err, &ve) {
		// One line per problem, each grep-able as file:line: field: message.
		for _, line := range strings.Split(ve.Error(), "\n") {
			fmt.Fprintf(stderr, "promoter: error: %s\n", creds.Redact(line))
		}
	} else {
		// Every error is printed through the one redaction: a URL that
		// did not parse still has its credentials masked.
		fmt.Fprintf(stderr, "promoter: error: %s\n", creds.Redact(err.Error()))
	}
	var ue userError
	if errors.As(err, &ue) && ue.hint != "" {
		fmt.Fprintf(stderr, "promoter: hint: %s\n", creds.Redact(ue.hint))
	}
	return exitError
}

// redactAttr passes every logged string and error through the one
// redaction, so a URL with credentials never reaches the log whole.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(creds.Redact(a.Value.String()))
	case slog.KindAny:
		// Times and durations have kinds of their own and stay typed, so
		// the JSON log keeps RFC 3339 times; anything else that prints
		// itself may carry a URL.
		switch v := a.Value.Any().(type) {
		case error:
			a.Value = slog.StringValue(creds.Redact(v.Error()))
		case fmt.Stringer:
			a.Value = slog.StringValue(creds.Redact(v.String()))
		}
	}
	return a
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "promoter",
		Short:         "GitOps canary promoter for Istio",
		Long:          "promoter moves traffic to an Istio canary step by step through commits to a GitOps repository,\ngated by Prometheus, and rolls back by reverting its own commits.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setup()
		},
	}
	f := root.PersistentFlags()
	f.StringVar(&g.repo, "repo", ".", "repository: a checkout path, or a URL to clone (file://, http(s)://, ssh://)")
	f.StringVar(&g.branch, "branch", "", "target branch (default: the remote's default branch)")
	f.StringVar(&g.forge, "forge", "", "forge: local or github (default: github for github.com remotes, else local)")
	f.StringVar(&g.prometheus, "prometheus", "", "Prometheus API URL (env PROMETHEUS_URL)")
	f.BoolVar(&g.dryRun, "dry-run", false, "decide and print, but write nothing")
	f.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	f.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&g.logLevel, "log-level", "", "least severe log records printed: debug, info, warn or error (default info; debug with -v)")
	f.BoolVarP(&g.verbose, "verbose", "v", false, "print debug logs too (--log-level debug)")
	f.StringVar(&g.progress, "progress", "auto", "progress lines on stderr for clones, fetches and long passes: auto (when stderr is a terminal), always or never")
	f.StringVar(&g.githubRepo, "github-repo", "", "OWNER/NAME of the GitHub repository pull requests go to (default: GITHUB_REPOSITORY, else the remote's); may differ from the remote's")
	f.StringVar(&g.now, "now", "", "evaluate as of this RFC 3339 time (back-testing and tests)")
	f.StringVar(&g.shard, "shard", "", "only canaries whose name hashes to shard K of N (K/N)")
	f.StringArrayVar(&g.promHeaders, "prometheus-header", nil, "extra header for Prometheus requests, NAME=VALUE (repeatable; e.g. X-Scope-OrgID=tenant)")
	f.StringVar(&g.promCA, "prometheus-ca", "", "PEM file of CAs to trust for an https Prometheus")
	f.StringVar(&g.promCert, "prometheus-cert", "", "client certificate for mutual TLS to Prometheus")
	f.StringVar(&g.promKey, "prometheus-key", "", "client key for mutual TLS to Prometheus")

	for _, c := range commands(g) {
		root.AddCommand(c)
	}
	decorate(root, g)
	// --version prints the one-line form; `promoter version` the whole.
	root.Version = buildinfo.Read().Short()
	root.SetVersionTemplate("promoter {{.Version}}\n")
	return root
}

// setup validates the common flags and builds the logger and clock.
func (g *globals) setup() error {
	switch g.output {
	case "text", "json":
	default:
		return withHint(fmt.Errorf("-o %q: unknown output format", g.output), "use -o text or -o json")
	}
	level, err := g.level()
	if err != nil {
		return err
	}
	if err := g.setupProgress(); err != nil {
		return err
	}
	var h slog.Handler
	switch g.logFormat {
	case "text":
		h = slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr})
	case "json":
		h = slog.NewJSONHandler(g.stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr})
	default:
		return withHint(fmt.Errorf("--log-format %q: unknown log format", g.logFormat), "use --log-format text or json")
	}
	g.log = slog.New(h)
	if st, ok := lockdown.Applied(); ok {
		g.log.Debug(st.String())
	}
	g.clock = time.Now
	if g.now != "" {
		t, err := time.Parse(time.RFC3339, g.now)
		if err != nil {
			return withHint(fmt.Errorf("--now %q: %w", g.now, err), "give a time like 2026-01-02T15:04:05Z")
		}
		g.clock = func() time.Time { return t }
	}
	if g.prometheus == "" {
		g.prometheus = g.getenv("PROMETHEUS_URL")
	}
	return nil
}
