package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// prepareFloor writes, for each commit promoter made on branch after base
// (oldest first), the change directory bench/floor.sh replays: message,
// paths, deleted and files/. It returns the number of commits.
func prepareFloor(ctx context.Context, gitDir, base, branch, out string) int {
	commits := strings.Fields(git(ctx, gitDir, "rev-list", "--reverse", "--first-parent", base+".."+branch))
	for i, c := range commits {
		dir := filepath.Join(out, fmt.Sprintf("%04d", i+1))
		if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
			fatalf("%v", err)
		}
		write(filepath.Join(dir, "message"), git(ctx, gitDir, "log", "-1", "--format=%B", c)+"\n")
		var paths, deleted []string
		for _, line := range strings.Split(git(ctx, gitDir, "diff-tree", "-r", "--no-commit-id", "--name-status", "--no-renames", c), "\n") {
			status, p, ok := strings.Cut(line, "\t")
			if !ok {
				continue
			}
			paths = append(paths, p)
			if status == "D" {
				deleted = append(deleted, p)
				continue
			}
			dst := filepath.Join(dir, "files", filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				fatalf("%v", err)
			}
			blob, err := exec.CommandContext(ctx, "git", "--git-dir="+gitDir, "cat-file", "blob", c+":"+p).Output()
			if err != nil {
				fatalf("cat-file %s:%s: %v", c, p, err)
			}
			write(dst, string(blob))
		}
		write(filepath.Join(dir, "paths"), strings.Join(paths, "\n")+"\n")
		write(filepath.Join(dir, "deleted"), strings.Join(deleted, "\n"))
	}
	return len(commits)
}

func write(p, content string) {
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		fatalf("%v", err)
	}
}
