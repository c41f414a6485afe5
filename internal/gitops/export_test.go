package gitops

import "time"

// SetGitIdleTimeout shortens the transport's idle timeout for a test.
func SetGitIdleTimeout(d time.Duration) (restore func()) {
	old := gitIdleTimeout
	gitIdleTimeout = d
	return func() { gitIdleTimeout = old }
}

// OpenObjectReaders is the number of object readers r has open.
func OpenObjectReaders(r *Repo) int { return r.objects.open() }
