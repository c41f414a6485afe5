package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// level is the log level --log-level and -v ask for.
func (g *globals) level() (slog.Level, error) {
	name := strings.ToLower(g.logLevel)
	if name == "" {
		name = "info"
		if g.verbose {
			name = "debug"
		}
	}
	switch name {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, withHint(fmt.Errorf("--log-level %q: unknown log level", g.logLevel), "use --log-level debug, info, warn or error")
}

// setupProgress decides where progress lines go: stderr when it is a
// terminal (auto) or when asked (always), nowhere otherwise. Progress is
// for people watching; logs are for records, so a CI job's output stays
// as it was unless it asks.
func (g *globals) setupProgress() error {
	switch g.progress {
	case "auto", "":
		if isTerminal(g.stderr) {
			g.prog = &lineWriter{w: g.stderr}
		}
	case "always":
		g.prog = &lineWriter{w: g.stderr}
	case "never":
	default:
		return withHint(fmt.Errorf("--progress %q: unknown mode", g.progress), "use --progress auto, always or never")
	}
	return nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// lineWriter serialises writes from concurrent goroutines (a clone's
// progress and a pass's) so that lines do not interleave.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
