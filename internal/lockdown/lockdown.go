// Package lockdown takes from the promoter process what no part of it
// needs: starting programs, and HTTP requests other than those of
// promoter's own clients.
//
// kustomize (api v0.21.2) cannot be told to stay local: its loader clones
// any reference it parses as a Git repository by running git from PATH
// (and a Helm chart by running helm), and fetches any reference it parses
// as an http(s) URL through http.DefaultTransport. The loader is internal
// to kustomize, so the guarantee is made where kustomize cannot reach
// around it, the process:
//
//   - on Linux, a seccomp filter on every thread makes execve and execveat
//     fail with EPERM: no program can start, whatever path is asked for;
//   - PATH is emptied, so a program looked up by name is not found (the
//     only guard against a subprocess where seccomp is unavailable);
//   - http.DefaultTransport and http.DefaultClient refuse every request.
//     promoter's own clients (Git remote, Prometheus, GitHub API,
//     notifications) use transports from [Transport], never the default.
//
// Apply does all three; main calls it once, before anything else.
package lockdown

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// Status is what Apply put in place.
type Status struct {
	// Exec is nil when the seccomp filter refuses every execve and
	// execveat of the process, else why it is not in place (not Linux,
	// a kernel without seccomp, a filter that did not reach every thread).
	Exec error
}

// String describes the lockdown for the debug log.
func (s Status) String() string {
	if s.Exec == nil {
		return "lockdown: programs cannot start (seccomp refuses execve), PATH is empty, and only promoter's own HTTP clients reach the network"
	}
	return fmt.Sprintf("lockdown: the seccomp filter is not in place (%v): programs are kept from starting by an empty PATH only; only promoter's own HTTP clients reach the network", s.Exec)
}

var applied atomic.Pointer[Status]

// Apply locks the process down (see the package documentation) and
// returns what is in place. Nothing of it can be undone. Call it once,
// first thing in main: the seccomp filter is synchronised to the threads
// that exist, and later threads inherit it.
func Apply() Status {
	s := Status{Exec: ForbidExec()}
	EmptyPath()
	ForbidDefaultHTTP()
	applied.Store(&s)
	return s
}

// Applied returns the Status of Apply, and false if Apply did not run.
func Applied() (Status, bool) {
	s := applied.Load()
	if s == nil {
		return Status{}, false
	}
	return *s, true
}

// ForbidExec installs the seccomp filter that makes execve and execveat
// fail with EPERM on every thread of the process (Linux only: elsewhere it
// returns an error and changes nothing). It needs no privilege: it sets
// no_new_privs first.
func ForbidExec() error { return forbidExec() }

// EmptyPath empties PATH: a program looked up by name (exec.LookPath) is
// not found.
func EmptyPath() {
	_ = os.Setenv("PATH", "")
}

// ForbidDefaultHTTP makes http.DefaultTransport, and so http.DefaultClient
// and every http.Client without a transport of its own, refuse every
// request with [ErrRefused].
func ForbidDefaultHTTP() {
	http.DefaultTransport = refuse{}
	http.DefaultClient = &http.Client{Transport: refuse{}}
}

// ErrRefused marks a request made through http.DefaultTransport after
// ForbidDefaultHTTP.
var ErrRefused = errors.New("refused: promoter reaches the network only through its own clients")

type refuse struct{}

func (refuse) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	target := "a request without a URL"
	if req.URL != nil {
		// No user info, no query: either may hold a secret.
		target = req.URL.Scheme + "://" + req.URL.Host + req.URL.EscapedPath()
	}
	return nil, fmt.Errorf("%s %s: %w (Git remote, Prometheus, GitHub API, notifications); kustomize builds never do: vendor remote resources into the repository", req.Method, target, ErrRefused)
}

// Transport returns a new transport with net/http's default settings
// (proxy from the environment, 30s to connect, HTTP/2, idle connection
// limits): the base of each of promoter's own HTTP clients, which must
// never use http.DefaultTransport (it refuses every request once the
// process is locked down).
func Transport() *http.Transport {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}
