package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// call runs op, retrying server errors and rate limits within the bounds.
func (f *Forge) call(ctx context.Context, what string, op func() (*gh.Response, error)) error {
	for attempt := 1; ; attempt++ {
		resp, err := op()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait, retry := f.retryAfter(resp, err, attempt)
		if !retry || attempt >= f.attempts {
			return fmt.Errorf("github: %s: %w", what, err)
		}
		if wait > f.maxWait {
			return fmt.Errorf("github: %s: rate limited for %s more: %w", what, wait.Round(time.Second), err)
		}
		f.log.Info("github: retrying", "call", what, "attempt", attempt, "wait", wait, "err", err)
		if err := f.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// retryAfter decides whether err is transient and how long to wait.
func (f *Forge) retryAfter(resp *gh.Response, err error, attempt int) (time.Duration, bool) {
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return f.untilReset(rl.Rate.Reset.Time), true
	}
	var ab *gh.AbuseRateLimitError
	if errors.As(err, &ab) {
		if ab.RetryAfter != nil {
			return *ab.RetryAfter, true
		}
		return time.Minute, true
	}
	if resp == nil || resp.Response == nil {
		return 0, false
	}
	if s := resp.Header.Get("Retry-After"); s != "" && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500) {
		if n, perr := strconv.Atoi(s); perr == nil {
			return time.Duration(n) * time.Second, true
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if n, perr := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); perr == nil {
			return f.untilReset(time.Unix(n, 0)), true
		}
		return time.Minute, true
	}
	if resp.StatusCode >= 500 {
		return time.Duration(attempt) * 500 * time.Millisecond, true
	}
	return 0, false
}

func (f *Forge) untilReset(reset time.Time) time.Duration {
	d := reset.Sub(f.clock()) + time.Second // the reset second itself
	if d < 0 {
		return 0
	}
	return d
}

// statusOf is the HTTP status of a go-github error, or 0.
func statusOf(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}
