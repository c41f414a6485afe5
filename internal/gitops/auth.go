package gitops

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/promoter-dev/promoter/internal/creds"
)

// Auth is how promoter authenticates to a remote. It is handed to each
// fetch and push; it is never stored in .git/config, and its String form
// never shows a secret.
type Auth struct {
	// Username and Password are HTTP basic credentials. A token is a
	// password (GitHub and GitLab accept any non-empty user name with it).
	Username string
	Password string
	// SSHKeyPath is a private key file for ssh:// and scp-style remotes;
	// SSHKeyPassphrase unlocks it. With neither set, ssh remotes use the
	// SSH agent.
	SSHKeyPath       string
	SSHKeyPassphrase string
	// SSHUser is the ssh user when the URL names none (default "git").
	SSHUser string
}

// String describes the credentials without revealing them.
func (a Auth) String() string {
	switch {
	case a.Password != "":
		return "basic(" + a.Username + ", ***)"
	case a.SSHKeyPath != "":
		return "ssh-key(" + a.SSHKeyPath + ")"
	default:
		return "none"
	}
}

// AuthFromEnv reads credentials from the environment through getenv:
//
//   - GIT_USERNAME and GIT_PASSWORD: HTTP basic credentials;
//   - GIT_TOKEN, else GITHUB_TOKEN: an HTTP token (user GIT_USERNAME, or
//     "x-access-token");
//   - GIT_SSH_KEY (a key file) and GIT_SSH_KEY_PASSPHRASE: for ssh remotes;
//     without them the SSH agent (SSH_AUTH_SOCK) is used.
func AuthFromEnv(getenv func(string) string) Auth {
	a := Auth{
		Username:         getenv("GIT_USERNAME"),
		Password:         getenv("GIT_PASSWORD"),
		SSHKeyPath:       getenv("GIT_SSH_KEY"),
		SSHKeyPassphrase: getenv("GIT_SSH_KEY_PASSPHRASE"),
	}
	if a.Password == "" {
		a.Password = getenv("GIT_TOKEN")
	}
	if a.Password == "" {
		a.Password = getenv("GITHUB_TOKEN")
	}
	if a.Password != "" && a.Username == "" {
		a.Username = "x-access-token"
	}
	return a
}

// remoteURL is a parsed remote location with any credentials split off.
type remoteURL struct {
	// clean is the URL without user info; it is what goes into config and
	// logs.
	clean string
	// scheme is "file", "http", "https" or "ssh".
	scheme string
	// user and password came from the URL's user info, if any.
	user, password string
}

// parseRemote classifies a remote and splits credentials out of it.
func parseRemote(raw string) (remoteURL, error) {
	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		return remoteURL{}, creds.Error(fmt.Errorf("remote %q: %w", raw, err))
	}
	r := remoteURL{scheme: ep.Protocol, user: ep.User, password: ep.Password}
	switch ep.Protocol {
	case "file":
		r.clean = ep.Path
		if strings.HasPrefix(raw, "file://") {
			r.clean = "file://" + ep.Path
		}
	case "http", "https":
		u, err := url.Parse(raw)
		if err != nil {
			return remoteURL{}, creds.Error(fmt.Errorf("remote %q: %w", raw, err))
		}
		u.User = nil
		r.clean = u.String()
	case "ssh":
		// The ssh user is not a secret; keep it, drop any password.
		ep.Password = ""
		if strings.HasPrefix(raw, "ssh://") {
			r.clean = ep.String()
		} else {
			r.clean = raw
			if i := strings.Index(raw, "@"); i >= 0 && strings.Contains(raw[:i], ":") {
				r.clean = ep.User + raw[i:]
			}
		}
	default:
		return remoteURL{}, fmt.Errorf("remote %q: unsupported protocol %q", Redact(raw), ep.Protocol)
	}
	return r, nil
}

// method builds the go-git auth method for a remote, or nil for none.
func (a Auth) method(r remoteURL) (transport.AuthMethod, error) {
	switch r.scheme {
	case "http", "https":
		user, pass := a.Username, a.Password
		if r.password != "" {
			user, pass = r.user, r.password
		}
		if pass == "" {
			return nil, nil
		}
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: pass}, nil
	case "ssh":
		user := r.user
		if user == "" {
			user = a.SSHUser
		}
		if user == "" {
			user = "git"
		}
		if a.SSHKeyPath != "" {
			pem, err := os.ReadFile(a.SSHKeyPath)
			if err != nil {
				return nil, fmt.Errorf("ssh key: %w", err)
			}
			k, err := gitssh.NewPublicKeys(user, pem, a.SSHKeyPassphrase)
			if err != nil {
				return nil, fmt.Errorf("ssh key %s: %w", a.SSHKeyPath, err)
			}
			return k, nil
		}
		agent, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, fmt.Errorf("ssh agent (set GIT_SSH_KEY to use a key file): %w", err)
		}
		return agent, nil
	}
	return nil, nil
}

// Redact masks user info (credentials) in a URL-looking string, for logs
// and error messages, whether or not it parses (see [creds.Redact]).
func Redact(raw string) string { return creds.Redact(raw) }
