// Package wait holds the one cancellable sleep the retry loops share: the
// push-and-retry loop of gitops, the GitHub client's rate-limit waits and
// the Prometheus client's retries.
package wait

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done, and then returns ctx's error. A
// d of zero or less returns at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
