package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

// The push-and-retry loop tries again only on a race (IsRace), up to the
// Retry bound; every other error, a rejected push included, ends it at the
// first attempt with the error as it was.
func TestRetryRetriesOnlyRaces(t *testing.T) {
	bare := gittest.Seed(t, t.TempDir()+"/r.git", "main", seed)
	r := open(t, bare, func(o *gitops.Options) {
		o.Retry = gitops.Retry{Attempts: 3, Backoff: time.Millisecond, MaxBackoff: time.Millisecond}
	})
	rejected := &gitops.PushError{Ref: "refs/heads/main", Reason: "pre-receive hook declined"}
	for _, tt := range []struct {
		name  string
		err   error
		calls int
	}{
		{"non-fast-forward", fmt.Errorf("push: %w", gitops.ErrNonFastForward), 3},
		{"head changed", fmt.Errorf("merge: %w", gitops.ErrHeadChanged), 3},
		{"conflict with the new base", fmt.Errorf("merge: %w", gitops.ErrConflict), 3},
		{"already merged", fmt.Errorf("merge: %w", gitops.ErrAlreadyMerged), 3},
		{"a rejected push", rejected, 1},
		{"authentication", fmt.Errorf("push: %w", gitops.ErrAuth), 1},
		{"not found", fmt.Errorf("branch x: %w", gitops.ErrNotFound), 1},
		{"anything else", errors.New("disk full"), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := r.Retry(context.Background(), "test", func(context.Context, int) error {
				calls++
				return tt.err
			})
			if calls != tt.calls {
				t.Errorf("%d attempts, want %d", calls, tt.calls)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v does not wrap %v", err, tt.err)
			}
			if race := gitops.IsRace(tt.err); race != (tt.calls > 1) {
				t.Errorf("IsRace = %v", race)
			}
			if tt.calls > 1 && !strings.Contains(err.Error(), "gave up after 3 attempts") {
				t.Errorf("error %q does not say it gave up", err)
			}
			if tt.calls == 1 && err.Error() != tt.err.Error() {
				t.Errorf("error %q, want the attempt's own %q", err, tt.err)
			}
		})
	}
	// A race that clears is success.
	calls := 0
	err := r.Retry(context.Background(), "test", func(context.Context, int) error {
		if calls++; calls < 2 {
			return gitops.ErrNonFastForward
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("after one lost race: %d attempts, err %v", calls, err)
	}
}
