package lockdown

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// childEnv makes the test binary a locked-down child (see TestMain).
const childEnv = "PROMOTER_LOCKDOWN_TEST_CHILD"

// childReport is what a locked-down child saw.
type childReport struct {
	Exec       string // Status.Exec, "" when seccomp is in place
	Path       string // PATH after Apply
	RunByPath  string // error of running the fake program by name (PATH set after Apply)
	RunAbs     string // error of running it by absolute path
	DefaultGet string // error of http.Get through the default client
	OwnGet     string // error of a GET through a client built on Transport
	Threads    bool   // every thread reports a seccomp filter
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child applies the lockdown, then tries to run the fake program named by
// FAKE (through a PATH holding it, set after Apply, and by its absolute
// path) and to reach URL through the default client and through a client
// of its own; it prints what happened as JSON.
func child() int {
	s := Apply()
	var r childReport
	if s.Exec != nil {
		r.Exec = s.Exec.Error()
	}
	r.Path = os.Getenv("PATH")
	fake := os.Getenv("FAKE")
	os.Setenv("PATH", filepath.Dir(fake))
	r.RunByPath = errString(exec.Command(filepath.Base(fake)).Run())
	r.RunAbs = errString(exec.Command(fake).Run())
	url := os.Getenv("URL")
	if resp, err := http.Get(url + "/default"); err == nil {
		resp.Body.Close()
	} else {
		r.DefaultGet = err.Error()
	}
	own := &http.Client{Transport: Transport()}
	if resp, err := own.Get(url + "/own"); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	} else {
		r.OwnGet = err.Error()
	}
	r.Threads = everyThreadFiltered() == nil
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A locked-down process starts no program, neither by name nor by path,
// and makes no request through the default HTTP client; its own clients
// still work.
func TestApply(t *testing.T) {
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	fake := filepath.Join(bin, "fake-git")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$@\" >> "+calls+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var defaultHits, ownHits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/own" {
			ownHits.Add(1)
		} else {
			defaultHits.Add(1)
		}
	}))
	defer srv.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "FAKE="+fake, "URL="+srv.URL)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var r childReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	if runtime.GOOS == "linux" {
		if r.Exec != "" {
			t.Fatalf("seccomp filter not in place on Linux: %s", r.Exec)
		}
		if !r.Threads {
			t.Error("a thread of the child has no seccomp filter")
		}
		for _, e := range []string{r.RunByPath, r.RunAbs} {
			if !strings.Contains(e, syscall.EPERM.Error()) {
				t.Errorf("running the fake program: got %q, want %q", e, syscall.EPERM.Error())
			}
		}
	}
	if r.Path != "" {
		t.Errorf("PATH after Apply is %q, want empty", r.Path)
	}
	if data, err := os.ReadFile(calls); err == nil {
		t.Errorf("the fake program ran: %s", data)
	}
	if !strings.Contains(r.DefaultGet, ErrRefused.Error()) {
		t.Errorf("GET through the default client: got %q, want it refused", r.DefaultGet)
	}
	if n := defaultHits.Load(); n != 0 {
		t.Errorf("the server got %d requests through the default client", n)
	}
	if r.OwnGet != "" || ownHits.Load() != 1 {
		t.Errorf("GET through a client on Transport: %q, %d requests", r.OwnGet, ownHits.Load())
	}
}

// The test above can fail: without the lockdown the same child runs the
// fake program and reaches the server through the default client.
func TestWithoutApplyEverythingRuns(t *testing.T) {
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	fake := filepath.Join(bin, "fake-git")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho ran >> "+calls+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(fake).Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(calls); err != nil {
		t.Errorf("the fake program did not run: %v", err)
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Errorf("the server got %d requests", hits.Load())
	}
}

func TestRefusedNamesTheRequestWithoutSecrets(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://user:pw@example.com/a/b?token=t", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = refuse{}.RoundTrip(req)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("got %v, want ErrRefused", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "GET https://example.com/a/b:") || strings.Contains(msg, "pw") || strings.Contains(msg, "token") {
		t.Errorf("message %q", msg)
	}
}
