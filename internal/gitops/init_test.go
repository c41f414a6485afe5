package gitops_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
)

func TestInitBare(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "remote.git")
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hash, err := gitops.InitBare(dir, "main", gitops.Files{"a/b.yaml": []byte("x: 1\n"), "README.md": []byte("hi\n")}, "init", gitops.Signature{}, when)
	if err != nil {
		t.Fatal(err)
	}
	r, err := gitops.Open(context.Background(), gitops.Options{Source: "file://" + dir, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tip, err := r.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tip.Hash != hash || r.Branch() != "main" || !tip.CommitTime.Equal(when) {
		t.Errorf("tip %s on %s at %s, want %s on main at %s", tip.Hash, r.Branch(), tip.CommitTime, hash, when)
	}
	snap, err := r.At(context.Background(), tip.Hash)
	if err != nil {
		t.Fatal(err)
	}
	files, err := snap.ReadDir("a")
	if err != nil || string(files["a/b.yaml"]) != "x: 1\n" {
		t.Errorf("a/b.yaml = %q, %v", files["a/b.yaml"], err)
	}
}
