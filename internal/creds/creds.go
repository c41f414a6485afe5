// Package creds keeps credentials with the host they were issued for.
//
// [Redact] is the one function through which anything that came from a URL
// is printed: it masks user info by a textual rule, so a string that does
// not parse as a URL is masked too rather than printed whole.
//
// [Transport] attaches headers (a bearer token, X-Scope-OrgID, ...) to a
// request only when the request goes to the configured origin (scheme, host
// and port). A redirect to another origin is sent without them, and so is
// any request the client makes elsewhere.
package creds

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Mask replaces a secret in printed text.
const Mask = "***"

// Redact returns s with the user info of every URL-looking part masked:
//
//   - scheme://user:password@host... keeps the user and masks the password;
//   - scheme://token@host... masks the whole user info, except for ssh://,
//     whose user name is not a secret;
//   - user:password@host:path (scp style) masks the password.
//
// The rule is textual and does not need s to parse, so it cannot fail open:
// an invalid port, a bad percent escape or a control character still has
// its user info masked. Control characters are escaped.
func Redact(s string) string {
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "://")
		if i < 0 {
			b.WriteString(redactSCP(rest))
			break
		}
		// The scheme is the run of scheme characters before "://".
		start := i
		for start > 0 && isSchemeChar(rest[start-1]) {
			start--
		}
		scheme := strings.ToLower(rest[start:i])
		b.WriteString(redactSCP(rest[:start]))
		b.WriteString(rest[start : i+3])
		rest = rest[i+3:]
		end := strings.IndexAny(rest, "/?#")
		ws := strings.IndexAny(rest, " \t\r\n\"'")
		if end < 0 || (ws >= 0 && ws < end) {
			end = ws
		}
		if end < 0 {
			end = len(rest)
		}
		authority := rest[:end]
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			b.WriteString(maskUserinfo(authority[:at], scheme == "ssh"))
			b.WriteString(authority[at:])
		} else {
			b.WriteString(authority)
		}
		rest = rest[end:]
	}
	return escapeControl(b.String())
}

func maskUserinfo(userinfo string, userIsPublic bool) string {
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return user + ":" + Mask
	}
	if userIsPublic {
		return userinfo
	}
	return Mask
}

// redactSCP masks the password of scp-style remotes (user:pw@host:path) in
// text without a scheme.
func redactSCP(s string) string {
	at := strings.Index(s, "@")
	if at < 0 {
		return s
	}
	head := s[:at]
	start := strings.LastIndexAny(head, " \t\r\n\"'(") + 1
	user, _, ok := strings.Cut(head[start:], ":")
	if !ok {
		return s
	}
	return s[:start] + user + ":" + Mask + s[at:]
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

func escapeControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			b.WriteString(strings.Trim(strings.TrimPrefix(quoteRune(r), "'"), "'"))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func quoteRune(r rune) string {
	const hex = "0123456789abcdef"
	switch r {
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	}
	return `\x` + string(hex[r>>4]) + string(hex[r&0xf])
}

// Origin is a scheme, host and port: where a credential may be sent.
type Origin struct {
	Scheme string
	Host   string // lower case, without brackets
	Port   string // explicit, defaulted from the scheme
}

// OriginOf returns the origin of u.
func OriginOf(u *url.URL) Origin {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return Origin{Scheme: scheme, Host: strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")), Port: port}
}

// String is scheme://host:port.
func (o Origin) String() string { return o.Scheme + "://" + net.JoinHostPort(o.Host, o.Port) }

// Transport adds Header to the requests that go to Origin and sends every
// other request (redirects elsewhere included) without them.
type Transport struct {
	Base   http.RoundTripper
	Origin Origin
	Header http.Header
}

// RoundTrip implements [http.RoundTripper].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || OriginOf(req.URL) != t.Origin || len(t.Header) == 0 {
		return t.Base.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	for k, vs := range t.Header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return t.Base.RoundTrip(req)
}

// StripOnRedirect is an http.Client CheckRedirect that, when a redirect
// leaves the origin of the first request, removes every header a caller
// could have put a secret in (Go itself keeps custom headers such as
// X-Scope-OrgID, and Authorization on a redirect to a subdomain or another
// port). It also stops after 10 redirects.
func StripOnRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if len(via) > 0 && via[0].URL != nil && req.URL != nil {
		for _, v := range append(via[1:], req) {
			if OriginOf(v.URL) != OriginOf(via[0].URL) {
				for k := range req.Header {
					switch http.CanonicalHeaderKey(k) {
					case "Accept", "Accept-Encoding", "User-Agent", "Content-Type", "Content-Length":
					default:
						req.Header.Del(k)
					}
				}
				req.URL.User = nil
				break
			}
		}
	}
	return nil
}

// Error wraps err so that its message is redacted; errors.Is and errors.As
// still see err.
func Error(err error) error {
	if err == nil {
		return nil
	}
	return redactedError{err}
}

type redactedError struct{ err error }

func (e redactedError) Error() string { return Redact(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }
