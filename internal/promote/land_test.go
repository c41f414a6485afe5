package promote

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A push the remote rejects for a reason other than a moved branch (here a
// pre-receive hook of the real Git server, as a protected-branch rule
// would) is an error that carries the server's message. It is not a lost
// race: it is neither retried nor reported as a target that kept moving.
func TestRejectedPushIsNotARace(t *testing.T) {
	h := newHarness(t, exampleFiles(t, "auto-merge", "myapp"))
	pushed := filepath.Join(t.TempDir(), "pushed")
	hook := "#!/bin/sh\nwhile read old new ref; do echo \"$ref\" >> '" + pushed + "'; done\necho 'promoter branches are protected by policy' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(h.bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	d := h.run(context.Background()).Decisions[0]
	if d.Err == nil || d.Landed {
		t.Fatalf("a rejected push did not fail the canary: %+v", d)
	}
	if !strings.Contains(d.Error, "pre-receive hook declined") {
		t.Errorf("error %q does not carry the server's reason", d.Error)
	}
	if strings.Contains(d.Error, "kept moving") || strings.Contains(d.Error, "gave up") {
		t.Errorf("a rejection was reported as a race: %q", d.Error)
	}
	// Pushes of branches: the pass's build records, which the hook
	// refuses too, are another ref.
	log, err := os.ReadFile(pushed)
	if err != nil {
		t.Fatal(err)
	}
	pushes := strings.Count(string(log), "refs/heads/")
	if pushes != 1 {
		t.Errorf("%d pushes of branches, want 1: a rejection must not be retried\n%s", pushes, log)
	}
}

// A forced push of promoter's own branch that loses the remote's
// compare-and-swap to another writer (here a pre-receive hook that moves
// the ref first and then refuses, as receive-pack does when another push
// holds or changed the ref: "failed to update ref") is a lost race: the
// next attempt, on a fresh fetch, lands.
func TestForcedPushThatLostTheRefIsARace(t *testing.T) {
	h := newHarness(t, exampleFiles(t, "auto-merge", "myapp"))
	marker := filepath.Join(t.TempDir(), "moved")
	hook := `#!/bin/sh
while read old new ref; do
	case "$ref" in refs/heads/promoter/*) ;; *) continue ;; esac
	if [ ! -e '` + marker + `' ]; then
		: > '` + marker + `'
		env -u GIT_QUARANTINE_PATH git update-ref "$ref" "$(git rev-parse refs/heads/main)" || exit 2
		echo "failed to update ref" >&2
		exit 1
	fi
done
exit 0
`
	if err := os.WriteFile(filepath.Join(h.bare, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	d := h.run(context.Background()).Decisions[0]
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the hook never moved the ref: %v", err)
	}
	if d.Err != nil || !d.Landed {
		t.Fatalf("a push that lost the ref to another writer was not retried: %+v", d)
	}
	pushes := 0
	for _, r := range h.srv.Requests() {
		if strings.HasSuffix(r.Path, "/git-receive-pack") {
			pushes++
		}
	}
	if pushes < 2 {
		t.Errorf("%d pushes, want a retry after the lost race", pushes)
	}
}
