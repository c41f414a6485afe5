package gitops

import "time"

// SetGitIdleTimeout shortens the transport's idle timeout for a test.
func SetGitIdleTimeout(d time.Duration) (restore func()) {
	old := gitIdleTimeout
	gitIdleTimeout = d
	return func() { gitIdleTimeout = old }
}
