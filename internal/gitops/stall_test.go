package gitops_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops"
)

// A Git server that stalls mid-answer ends the operation with a timeout
// instead of hanging the pass.
func TestStalledGitServerTimesOut(t *testing.T) {
	defer gitops.SetGitIdleTimeout(300 * time.Millisecond)()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("001e# service=git-upload-pack\n0000"))
		w.(http.Flusher).Flush()
		select { // then nothing, until the test ends
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	done := make(chan error, 1)
	go func() {
		_, err := gitops.Open(context.Background(), gitops.Options{Source: srv.URL + "/repo.git", Branch: "main", TempDir: t.TempDir()})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("opened a stalled remote")
		}
		if !strings.Contains(err.Error(), "timeout") && !strings.Contains(err.Error(), "deadline") {
			t.Errorf("the error does not say it timed out: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Open still waiting on a stalled server after a minute")
	}
}
