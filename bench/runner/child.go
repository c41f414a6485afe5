package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// sample is one measured child process.
type sample struct {
	Wall time.Duration
	// RSS is the child's peak resident set size in bytes (getrusage
	// ru_maxrss).
	RSS int64
	// CPU is the child's user and system time (getrusage).
	CPU  time.Duration
	Code int
	// Stderr is where the child's stderr went.
	Stderr string
	Start  time.Time
}

// measure runs name with args, its stdout and stderr in files under dir
// named after tag, and returns its wall time and peak RSS.
func measure(ctx context.Context, dir, tag string, env []string, name string, args ...string) (sample, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := os.Create(filepath.Join(dir, tag+".out"))
	if err != nil {
		return sample{}, err
	}
	defer stdout.Close()
	stderrPath := filepath.Join(dir, tag+".err")
	stderr, err := os.Create(stderrPath)
	if err != nil {
		return sample{}, err
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	s := sample{Wall: wall, Stderr: stderrPath, Start: start}
	if cmd.ProcessState == nil {
		return s, fmt.Errorf("%s: %w", tag, err)
	}
	s.Code = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.RSS = ru.Maxrss * 1024 // kilobytes on Linux
		s.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s, nil
}

// must runs a command whose failure ends the benchmark, and returns its
// trimmed stdout.
func must(ctx context.Context, dir string, name string, args ...string) string {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

func git(ctx context.Context, gitDir string, args ...string) string {
	return must(ctx, "", "git", append([]string{"--git-dir=" + gitDir}, args...)...)
}

// gitErr is git for a command that may fail: its trimmed stdout, or the
// error.
func gitErr(ctx context.Context, gitDir string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", append([]string{"--git-dir=" + gitDir}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

// copyRepo copies a bare repository (cp -a; the copy is the remote a run
// writes to).
func copyRepo(ctx context.Context, from, to string) {
	if err := os.RemoveAll(to); err != nil {
		fatalf("%v", err)
	}
	must(ctx, "", "cp", "-a", from, to)
}

// pushedAt returns the times of the "pushed" records of a JSON log.
func pushedAt(path string) []time.Time {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Time string `json:"time"`
			Msg  string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Msg != "pushed" {
			continue
		}
		// RFC 3339, or the form time.Time's String method writes.
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999 -0700 MST"} {
			if t, err := time.Parse(layout, rec.Time); err == nil {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianInt(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "runner: "+format+"\n", args...)
	os.Exit(1)
}
