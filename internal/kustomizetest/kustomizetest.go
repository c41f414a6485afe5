// Package kustomizetest gives tests the kustomize CLI, to cross-check
// promoter's in-process builds against the tool Argo CD and Flux run.
package kustomizetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Version is the kustomize CLI release the builds are compared with.
const Version = "v5.8.2"

// CLI finds kustomize Version, installing it into the user cache with
// `go install` when needed. It skips the test, saying so, when it cannot
// be installed.
func CLI(t testing.TB) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	gobin := filepath.Join(cache, "promoter-test", "kustomize-"+Version)
	bin := filepath.Join(gobin, "kustomize")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", "sigs.k8s.io/kustomize/kustomize/v5@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: cannot install the kustomize CLI %s to compare outputs (%v):\n%s", Version, err, out)
	}
	return bin
}
