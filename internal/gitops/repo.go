package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// DefaultDepth is the depth of a clone of a network remote. Walks that
// need more history deepen on demand.
const DefaultDepth = 32

// remoteName is the remote promoter fetches from and pushes to.
const remoteName = "origin"

// DefaultAuthor signs promoter's commits when no author is configured.
var DefaultAuthor = Signature{Name: "promoter", Email: "promoter@users.noreply.promoter.dev"}

func (s Signature) orDefault() Signature {
	if s.Name == "" {
		return DefaultAuthor
	}
	return s
}

// Signature is a commit author.
type Signature struct {
	Name  string
	Email string
}

// Options configure [Open].
type Options struct {
	// Source is a checkout directory to open, or a URL (or path of a
	// repository that is not a checkout) to clone.
	Source string
	// Branch is the target branch; empty means the remote's default branch.
	Branch string
	// Auth is used for every fetch and push.
	Auth Auth
	// Depth is the initial depth of a clone of a network remote; 0 means
	// [DefaultDepth], a negative value a full clone.
	Depth int
	// Author signs promoter's commits (also the committer).
	Author Signature
	// Clock dates commits; nil means time.Now.
	Clock func() time.Time
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// Progress receives lines for a person watching: what is cloned or
	// fetched, how long it took, and the server's own progress messages.
	// nil discards them.
	Progress io.Writer
	// TempDir is where clones go; empty means the system default.
	TempDir string
	// Retry bounds [Repo.Update]; the zero value means [DefaultRetry].
	Retry Retry
}

// Repo is a repository promoter works on: a checkout it was pointed at, or
// a clone it made (and removes on Close).
type Repo struct {
	git    *git.Repository
	remote remoteURL
	auth   transport.AuthMethod
	// written holds the objects promoter wrote (under mu): what a push sends.
	written map[plumbing.Hash]bool
	branch  string
	dir     string
	cloned  bool
	depth   int

	author Signature
	clock  func() time.Time
	log    *slog.Logger
	retry  Retry
	// progress is Options.Progress, or nil.
	progress io.Writer
	// objects read the objects of snapshots (see objectReaders).
	objects *objectReaders

	// mu serialises fetches and ref updates within the process.
	mu sync.Mutex
}

var installFileTransport sync.Once

// Open opens the checkout at opts.Source, or clones opts.Source into a
// temporary directory (one branch, no worktree, shallow for network
// remotes), and fetches the target branch. Close the Repo when done.
//
// Errors: [ErrAuth] when the remote refuses the credentials, [ErrNotFound]
// when the branch does not exist, otherwise the transport's error with any
// credentials removed.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	// go-git's default file transport executes git-upload-pack; promoter
	// never runs git, so file remotes are served in-process instead.
	installFileTransport.Do(func() {
		client.InstallProtocol("file", server.NewClient(server.DefaultLoader))
		installHTTPTransport()
	})
	r := &Repo{
		author: opts.Author,
		clock:  opts.Clock,
		log:    opts.Log,
		retry:  opts.Retry,

		progress: opts.Progress,
	}
	if r.clock == nil {
		r.clock = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.retry.Attempts == 0 {
		r.retry = DefaultRetry
	}
	r.author = r.author.orDefault()
	if checkout := openCheckout(opts.Source); checkout != nil {
		if err := r.openCheckout(ctx, checkout, opts); err != nil {
			r.Close()
			return nil, err
		}
		return r, nil
	}
	if err := r.clone(ctx, opts); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// setGit makes repo the repository r works on.
func (r *Repo) setGit(repo *git.Repository) error {
	st, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return fmt.Errorf("repository storage %T is not a directory", repo.Storer)
	}
	r.git = repo
	r.objects = newObjectReaders(st.Filesystem(), 0)
	return nil
}

// openCheckout opens source if it is a directory inside a checkout (a
// repository with a worktree), else returns nil: source is to be cloned.
func openCheckout(source string) *git.Repository {
	if fi, err := os.Stat(source); err != nil || !fi.IsDir() {
		return nil
	}
	repo, err := git.PlainOpenWithOptions(source, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil || isBare(repo) {
		return nil
	}
	return repo
}

func isBare(repo *git.Repository) bool {
	_, err := repo.Worktree()
	return errors.Is(err, git.ErrIsBareRepository)
}

func (r *Repo) openCheckout(ctx context.Context, repo *git.Repository, opts Options) error {
	if err := r.setGit(repo); err != nil {
		return err
	}
	r.dir = opts.Source
	rem, err := repo.Remote(remoteName)
	if err != nil {
		return fmt.Errorf("checkout %s has no remote %q to push to: %w", opts.Source, remoteName, err)
	}
	urls := rem.Config().URLs
	if len(urls) == 0 {
		return fmt.Errorf("remote %q has no URL", remoteName)
	}
	if r.remote, err = parseRemote(urls[0]); err != nil {
		return err
	}
	if r.auth, err = opts.Auth.method(r.remote); err != nil {
		return err
	}
	r.branch = opts.Branch
	if r.branch == "" {
		if r.branch, err = r.defaultBranch(ctx, repo); err != nil {
			return err
		}
	}
	if shallows, _ := repo.Storer.Shallow(); len(shallows) > 0 {
		r.depth = 1
	}
	r.log.Debug("opened checkout", "dir", opts.Source, "remote", r.remote.clean, "branch", r.branch)
	_, err = r.Fetch(ctx)
	return err
}

// defaultBranch asks the remote where HEAD points, falling back to the
// checkout's current branch.
func (r *Repo) defaultBranch(ctx context.Context, repo *git.Repository) (string, error) {
	rem := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: remoteName, URLs: []string{r.remote.clean}})
	ctx, cancel := bounded(ctx)
	defer cancel()
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if err != nil {
		return "", r.classify(err)
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference {
			return ref.Target().Short(), nil
		}
	}
	head, err := repo.Head()
	if err == nil && head.Name().IsBranch() {
		return head.Name().Short(), nil
	}
	return "", fmt.Errorf("cannot tell the remote's default branch: %w", ErrNotFound)
}

func (r *Repo) clone(ctx context.Context, opts Options) error {
	var err error
	if r.remote, err = parseRemote(opts.Source); err != nil {
		return err
	}
	if r.auth, err = opts.Auth.method(r.remote); err != nil {
		return err
	}
	r.dir, err = os.MkdirTemp(opts.TempDir, "promoter-clone-")
	if err != nil {
		return err
	}
	r.cloned = true
	depth := opts.Depth
	switch {
	case r.remote.scheme == "file" || depth < 0:
		depth = 0 // the in-process file server has no shallow support; local is cheap
	case depth == 0:
		depth = DefaultDepth
	}
	r.depth = depth
	co := &git.CloneOptions{
		URL:          r.remote.clean,
		Auth:         r.auth,
		RemoteName:   remoteName,
		SingleBranch: true,
		NoCheckout:   true,
		Depth:        depth,
		Tags:         git.NoTags,
	}
	if opts.Branch != "" {
		co.ReferenceName = plumbing.NewBranchReferenceName(opts.Branch)
	}
	r.log.Debug("cloning", "remote", r.remote.clean, "branch", opts.Branch, "depth", depth)
	started := time.Now()
	if r.progress != nil {
		co.Progress = r.progress
		fmt.Fprintf(r.progress, "promoter: cloning %s\n", r.remote.clean)
	}
	cctx, cancel := bounded(ctx)
	repo, err := git.PlainCloneContext(cctx, r.dir, true, co)
	cancel()
	if err != nil {
		return fmt.Errorf("clone %s: %w", r.remote.clean, r.classify(err))
	}
	if err := r.setGit(repo); err != nil {
		return err
	}
	if r.progress != nil {
		fmt.Fprintf(r.progress, "promoter: cloned %s in %s\n", r.remote.clean, time.Since(started).Round(100*time.Millisecond))
	}
	r.branch = opts.Branch
	if r.branch == "" {
		head, err := r.git.Head()
		if err != nil {
			return fmt.Errorf("clone %s: no default branch: %w", r.remote.clean, err)
		}
		r.branch = head.Name().Short()
	}
	// A bare clone keeps the branch under refs/heads; promoter reads the
	// target from its remote-tracking ref, which this fetch sets.
	if err := r.fetch(ctx, r.branch, depth); err != nil {
		return err
	}
	return nil
}

// Close closes the files the Repo keeps open and removes a clone Open
// made; it leaves a checkout alone. The file systems of its snapshots
// cannot be read after Close. Closing a nil Repo does nothing.
func (r *Repo) Close() error {
	if r == nil {
		return nil
	}
	err := r.objects.Close()
	if r.cloned && r.dir != "" {
		err = errors.Join(err, os.RemoveAll(r.dir))
	}
	return err
}

// Branch is the target branch.
func (r *Repo) Branch() string { return r.branch }

// Remote is the remote's URL, without credentials.
func (r *Repo) Remote() string { return r.remote.clean }

// Dir is the repository's directory (the clone or the checkout's .git).
func (r *Repo) Dir() string { return r.dir }

func (r *Repo) trackingRef(branch string) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, branch)
}

// Fetch updates the target branch from the remote and returns its tip.
func (r *Repo) Fetch(ctx context.Context) (Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fetch(ctx, r.branch, 0); err != nil {
		return Commit{}, err
	}
	return r.tip(r.branch)
}

// FetchBranch updates branch (any branch, for example a pull request's
// head) and returns its tip, or [ErrNotFound] when it does not exist.
func (r *Repo) FetchBranch(ctx context.Context, branch string) (Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fetch(ctx, branch, 0); err != nil {
		return Commit{}, err
	}
	return r.tip(branch)
}

func (r *Repo) fetch(ctx context.Context, branch string, depth int) error {
	specs := []config.RefSpec{config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(branch), r.trackingRef(branch)))}
	if branch == r.branch {
		// The build records come with the target branch (records.go). A
		// pattern, so that their absence is no error; the ref is
		// replaced, never fast-forwarded, hence the +.
		specs = append(specs, config.RefSpec("+"+RecordsRefPrefix+"*:"+RecordsRefPrefix+"*"))
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	fo := &git.FetchOptions{
		RemoteName: remoteName,
		RemoteURL:  r.remote.clean,
		RefSpecs:   specs,
		// Records deleted on the remote are forgotten here too.
		Prune: branch == r.branch,
		Auth:  r.auth,
		Depth: depth,
		Tags:  git.NoTags,
	}
	if r.progress != nil {
		fo.Progress = r.progress
		fmt.Fprintf(r.progress, "promoter: fetching %s from %s\n", branch, r.remote.clean)
	}
	err := r.git.FetchContext(ctx, fo)
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case isNoMatchingRef(err):
		// The branch is gone on the remote: forget our copy too.
		_ = r.git.Storer.RemoveReference(r.trackingRef(branch))
		return fmt.Errorf("branch %s: %w", branch, ErrNotFound)
	default:
		return fmt.Errorf("fetch %s from %s: %w", branch, r.remote.clean, r.classify(err))
	}
}

func isNoMatchingRef(err error) bool {
	var nm git.NoMatchingRefSpecError
	return errors.As(err, &nm) || strings.Contains(err.Error(), "couldn't find remote ref")
}

func (r *Repo) tip(branch string) (Commit, error) {
	ref, err := r.git.Reference(r.trackingRef(branch), true)
	if err != nil {
		return Commit{}, fmt.Errorf("branch %s: %w", branch, ErrNotFound)
	}
	return r.commit(ref.Hash())
}

// classify maps transport errors onto this package's sentinels.
func (r *Repo) classify(err error) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%s: %w (%v)", r.remote.clean, ErrAuth, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("%s: repository %w", r.remote.clean, ErrNotFound)
	}
	return err
}
