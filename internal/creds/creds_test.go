package creds

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/promoter-dev/promoter/internal/creds/credstest"
)

func TestRedactMasksWhatDoesNotParse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://user:SECRETPW@127.0.0.1:abc/x.git", "http://user:***@127.0.0.1:abc/x.git"},
		{"https://u:SECRETPW@host/%zz", "https://u:***@host/%zz"},
		{"https://u:SECRETPW@host/a\x01b", `https://u:***@host/a\x01b`},
		{"https://u:SECRETPW@ho\nst/", `https://u:***@ho\nst/`},
		{"https://ghp_SECRETPW@github.com/o/r", "https://***@github.com/o/r"},
		{"ssh://git@github.com/o/r", "ssh://git@github.com/o/r"},
		{"ssh://git:SECRETPW@host/r", "ssh://git:***@host/r"},
		{"git@github.com:o/r.git", "git@github.com:o/r.git"},
		{"user:SECRETPW@host:o/r.git", "user:***@host:o/r.git"},
		{"clone http://a:SECRETPW@h/x failed: parse \"http://a:SECRETPW@h:x/\"", "clone http://a:***@h/x failed: parse \"http://a:***@h:x/\""},
		{"HTTP://a:SECRETPW@h/", "HTTP://a:***@h/"},
		{"http://a:b:SECRETPW@h@evil/", "http://a:***@evil/"},
		{"/plain/path", "/plain/path"},
		{"https://host/p?x=a@b", "https://host/p?x=a@b"},
	} {
		got := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "SECRETPW") {
			t.Errorf("Redact(%q) leaks: %q", tc.in, got)
		}
	}
}

func FuzzRedactNeverLeaksThePassword(f *testing.F) {
	f.Add("http://", "host:abc/x")
	f.Add("user:", "@host:path")
	f.Fuzz(func(t *testing.T, prefix, suffix string) {
		const pw = "Zq9SECRETq9Z"
		in := prefix + "u:" + pw + "@" + suffix
		if !strings.Contains(prefix, "://") || strings.ContainsAny(prefix[strings.Index(prefix, "://"):], "/?#@ \t\r\n\"'") {
			return // the user info is not part of the authority
		}
		if strings.Contains(Redact(in), pw) {
			t.Fatalf("Redact(%q) = %q", in, Redact(in))
		}
	})
}

// recorder is a listening server that records the headers it receives.
type recorder struct {
	mu   sync.Mutex
	seen []http.Header
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Header.Clone())
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func TestTransportKeepsHeadersOnTheirOrigin(t *testing.T) {
	evil := &recorder{}
	evilSrv := credstest.Listen(t, "127.0.0.2:0", evil)
	samePortElsewhere := &recorder{}
	otherPort := credstest.Listen(t, "127.0.0.1:0", samePortElsewhere)
	var home []http.Header
	var mu sync.Mutex
	homeSrv := credstest.Listen(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		home = append(home, r.Header.Clone())
		mu.Unlock()
		switch r.URL.Path {
		case "/to-other-host":
			http.Redirect(w, r, evilSrv.URL+"/x", http.StatusFound)
		case "/to-other-port":
			http.Redirect(w, r, otherPort.URL+"/x", http.StatusTemporaryRedirect)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	u, _ := url.Parse(homeSrv.URL)
	c := &http.Client{
		Transport: &Transport{Base: http.DefaultTransport, Origin: OriginOf(u), Header: http.Header{
			"Authorization": {"Bearer SECRET-TOKEN"}, "X-Scope-Orgid": {"tenant-SECRET"},
		}},
		CheckRedirect: StripOnRedirect,
	}
	for _, p := range []string{"/ok", "/to-other-host", "/to-other-port"} {
		resp, err := c.Get(homeSrv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if len(home) != 3 {
		t.Fatalf("home got %d requests", len(home))
	}
	for _, h := range home {
		if h.Get("Authorization") != "Bearer SECRET-TOKEN" || h.Get("X-Scope-OrgID") != "tenant-SECRET" {
			t.Errorf("the configured host got %v", h)
		}
	}
	for name, r := range map[string]*recorder{"other host": evil, "other port": samePortElsewhere} {
		if len(r.seen) != 1 {
			t.Fatalf("%s: %d requests, want the redirected one", name, len(r.seen))
		}
		for k, vs := range r.seen[0] {
			if strings.Contains(strings.Join(vs, ","), "SECRET") {
				t.Errorf("%s received %s: %v", name, k, vs)
			}
		}
	}
}
