package githubtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.template("repos/get", 200)
	s.repoFields(out)
	out["language"] = nil // the example lacks this required field
	if src, ok := out["source"].(obj); ok {
		src["language"] = nil
	}
	if par, ok := out["parent"].(obj); ok {
		par["language"] = nil
	}
	out["allow_merge_commit"], out["allow_squash_merge"], out["allow_rebase_merge"] = s.allowMerge, s.allowSquash, s.allowRebase
	out["delete_branch_on_merge"] = s.deleteOnMerge
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	out := []any{}
	for _, p := range s.pulls {
		if st := q.Get("state"); st != "" && st != "all" && st != p.State {
			continue
		}
		if h := q.Get("head"); h != "" && h != s.Owner+":"+p.Head {
			continue
		}
		out = append(out, s.pullJSON("pulls/list", 200, p, false, false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createPull(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title, Head, Base, Body string
		Draft                   bool
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Title == "" {
		validation(w, "PullRequest", "title", "missing_field", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.denyActions {
		message(w, http.StatusForbidden, "GitHub Actions is not permitted to create or approve pull requests.", "https://docs.github.com/rest/pulls/pulls#create-a-pull-request")
		return
	}
	if s.sha(in.Head) == "" {
		validation(w, "PullRequest", "head", "invalid", "")
		return
	}
	if s.sha(in.Base) == "" {
		validation(w, "PullRequest", "base", "invalid", "")
		return
	}
	for _, p := range s.pulls {
		if p.State == "open" && p.Head == in.Head {
			validation(w, "PullRequest", "", "custom", "A pull request already exists for "+s.Owner+":"+in.Head+".")
			return
		}
	}
	p := &Pull{Number: len(s.pulls) + 1, Head: in.Head, Base: in.Base, Title: in.Title, Body: in.Body, Draft: in.Draft, State: "open", createdAt: s.now()}
	s.pulls = append(s.pulls, p)
	s.computing(p) // GitHub starts computing mergeability
	p.nullLeft = s.nullPolls
	writeJSON(w, http.StatusCreated, s.pullJSON("pulls/create", 201, p, true, false))
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pull(w, r); p != nil {
		writeJSON(w, http.StatusOK, s.pullJSON("pulls/get", 200, p, true, true))
	}
}

func (s *Server) editPull(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title, Body *string
		State       *string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		validation(w, "PullRequest", "body", "invalid", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pull(w, r)
	if p == nil {
		return
	}
	if in.Body != nil && len(*in.Body) > 65536 {
		validation(w, "Issue", "body", "custom", "body is too long (maximum is 65536 characters)")
		return
	}
	if in.Title != nil {
		p.Title = *in.Title
	}
	if in.Body != nil {
		p.Body = *in.Body
	}
	if in.State != nil {
		p.State = *in.State
	}
	writeJSON(w, http.StatusOK, s.pullJSON("pulls/update", 200, p, true, false))
}

// errNotMergeable is a merge the fake refuses with a 405 and this message.
type errNotMergeable string

func (e errNotMergeable) Error() string { return string(e) }

func (s *Server) mergePull(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CommitTitle   string `json:"commit_title"`
		CommitMessage string `json:"commit_message"`
		SHA           string `json:"sha"`
		MergeMethod   string `json:"merge_method"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		validation(w, "PullRequest", "merge", "invalid", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pull(w, r)
	if p == nil {
		return
	}
	const doc = "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"
	if p.State != "open" || p.Merged {
		message(w, http.StatusMethodNotAllowed, "Pull Request is not mergeable", doc)
		return
	}
	if in.SHA != "" && in.SHA != s.sha(p.Head) {
		message(w, http.StatusConflict, "Head branch was modified. Review and try the merge again.", doc)
		return
	}
	if _, ok := s.mergeQueue[p.Base]; ok {
		message(w, http.StatusMethodNotAllowed, "Changes must be made through the merge queue", doc)
		return
	}
	method := in.MergeMethod
	if method == "" {
		method = "merge"
	}
	for _, m := range []struct {
		name    string
		allowed bool
		msg     string
	}{
		{"merge", s.allowMerge, "Merge commits are not allowed on this repository."},
		{"squash", s.allowSquash, "Squash merges are not allowed on this repository."},
		{"rebase", s.allowRebase, "Rebase merges are not allowed on this repository."},
	} {
		if m.name == method && !m.allowed {
			message(w, http.StatusMethodNotAllowed, m.msg, doc)
			return
		}
	}
	switch st := s.mergeableState(p); st {
	case "clean", "unstable", "has_hooks":
	case "draft":
		message(w, http.StatusMethodNotAllowed, "Pull Request is still a draft", doc)
		return
	case "blocked":
		message(w, http.StatusMethodNotAllowed, "At least 1 approving review is required by reviewers with write access.", doc)
		return
	default:
		message(w, http.StatusMethodNotAllowed, "Pull Request is not mergeable", doc)
		return
	}
	commit, err := s.merge(p, in.CommitTitle, in.CommitMessage, method)
	var nm errNotMergeable
	switch {
	case errors.As(err, &nm):
		message(w, http.StatusMethodNotAllowed, nm.Error(), doc)
		return
	case err != nil:
		message(w, http.StatusInternalServerError, err.Error(), doc)
		return
	}
	out := s.template("pulls/merge", 200)
	out["sha"], out["merged"], out["message"] = commit, true, "Pull Request successfully merged"
	writeJSON(w, http.StatusOK, out)
}

// merge merges p into its base as GitHub would; callers hold s.mu.
func (s *Server) merge(p *Pull, title, body, method string) (string, error) {
	head, base := s.sha(p.Head), s.sha(p.Base)
	tree, err := s.git("merge-tree", "--write-tree", base, head)
	if err != nil {
		return "", errNotMergeable("Pull Request is not mergeable")
	}
	tree = strings.SplitN(tree, "\n", 2)[0]
	msg := title
	if msg == "" {
		msg = "Merge pull request #" + strconv.Itoa(p.Number) + " from " + s.Owner + "/" + p.Head
	}
	if body != "" {
		msg += "\n\n" + body
	}
	args := []string{"commit-tree", tree, "-p", base}
	if method == "" || method == "merge" {
		args = append(args, "-p", head)
	}
	var env []string
	if s.Clock != nil {
		when := s.Clock().Format(time.RFC3339)
		env = []string{"GIT_AUTHOR_DATE=" + when, "GIT_COMMITTER_DATE=" + when}
	}
	commit, err := gittest.GitEnv(s.Bare, env, append(args, "-m", msg)...)
	if err == nil {
		_, err = s.git("update-ref", "refs/heads/"+p.Base, commit, base)
	}
	if err != nil {
		return "", err
	}
	p.Merged, p.State, p.Queued = true, "closed", false
	if s.deleteOnMerge {
		s.git("update-ref", "-d", "refs/heads/"+p.Head)
	}
	return commit, nil
}

func (s *Server) requestReviewers(w http.ResponseWriter, r *http.Request) {
	var in struct{ Reviewers []string }
	json.NewDecoder(r.Body).Decode(&in)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pull(w, r); p != nil {
		for _, rv := range in.Reviewers {
			if !slices.Contains(p.Reviewers, rv) {
				p.Reviewers = append(p.Reviewers, rv)
			}
		}
		writeJSON(w, http.StatusCreated, s.pullJSON("pulls/request-reviewers", 201, p, true, false))
	}
}

func (s *Server) addLabels(w http.ResponseWriter, r *http.Request) {
	// GitHub takes a list of names, or an object with one.
	var raw json.RawMessage
	var in struct{ Labels []string }
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil || (json.Unmarshal(raw, &in.Labels) != nil && json.Unmarshal(raw, &in) != nil) {
		validation(w, "Label", "labels", "invalid", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pull(w, r)
	if p == nil {
		return
	}
	for _, l := range in.Labels {
		if !slices.Contains(p.Labels, l) {
			p.Labels = append(p.Labels, l)
		}
	}
	out := []any{}
	for i, l := range p.Labels {
		out = append(out, s.labelJSON(i, l))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) comment(w http.ResponseWriter, r *http.Request) {
	var in struct{ Body string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == "" {
		validation(w, "IssueComment", "body", "missing_field", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pull(w, r); p != nil {
		p.Comments = append(p.Comments, in.Body)
		out := s.template("issues/create-comment", 201)
		id := 9000 + len(p.Comments)
		out["id"], out["node_id"], out["body"] = id, fmt.Sprintf("IC_fake%d", id), in.Body
		out["url"] = s.apiURL("/issues/comments/%d", id)
		out["html_url"] = s.htmlURL("/pull/%d#issuecomment-%d", p.Number, id)
		out["issue_url"] = s.apiURL("/issues/%d", p.Number)
		out["created_at"], out["updated_at"] = stamp(s.now()), stamp(s.now())
		writeJSON(w, http.StatusCreated, out)
	}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	var in struct {
		State, Context, Description string
		TargetURL                   string `json:"target_url"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		validation(w, "Status", "state", "invalid", "")
		return
	}
	switch in.State {
	case "pending", "success", "failure", "error":
	default:
		validation(w, "Status", "state", "invalid", "")
		return
	}
	if in.Context == "" {
		in.Context = "default"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.statuses {
		if st.SHA == r.PathValue("sha") && st.Context == in.Context {
			n++
		}
	}
	if n >= 1000 { // GitHub's limit per sha and context
		validation(w, "Status", "", "custom", "This SHA and context has reached the maximum number of statuses.")
		return
	}
	st := Status{SHA: r.PathValue("sha"), State: in.State, Context: in.Context, Description: in.Description, TargetURL: in.TargetURL, At: s.now()}
	s.statuses = append(s.statuses, st)
	writeJSON(w, http.StatusCreated, s.statusJSON(len(s.statuses)-1, st))
}

func (s *Server) combinedStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := r.PathValue("ref")
	sha := ref
	if b := s.sha(ref); b != "" {
		sha = b
	}
	latest := map[string]int{}
	var order []string
	for i, st := range s.statuses {
		if st.SHA != sha {
			continue
		}
		if _, ok := latest[st.Context]; !ok {
			order = append(order, st.Context)
		}
		latest[st.Context] = i
	}
	out := s.template("repos/get-combined-status-for-ref", 200)
	tmpl := out["statuses"].([]any)[0].(obj)
	statuses := []any{}
	state := "success"
	for _, c := range order {
		i := latest[c]
		st := s.statuses[i]
		item := map[string]any{}
		for k, v := range tmpl {
			item[k] = v
		}
		item["id"], item["node_id"], item["url"] = i+1, fmt.Sprintf("SC_fake%d", i+1), s.apiURL("/statuses/%s", sha)
		item["state"], item["context"], item["description"] = st.State, st.Context, st.Description
		item["target_url"] = nil
		if st.TargetURL != "" {
			item["target_url"] = st.TargetURL
		}
		item["created_at"], item["updated_at"] = stamp(st.At), stamp(st.At)
		statuses = append(statuses, item)
		switch {
		case st.State == "failure" || st.State == "error":
			state = "failure"
		case st.State == "pending" && state == "success":
			state = "pending"
		}
	}
	if len(statuses) == 0 {
		state = "pending"
	}
	out["state"], out["sha"], out["statuses"], out["total_count"] = state, sha, statuses, len(statuses)
	out["commit_url"] = s.apiURL("/commits/%s", sha)
	out["url"] = s.apiURL("/commits/%s/status", sha)
	if repo, ok := out["repository"].(obj); ok {
		s.repoFields(repo)
	}
	writeJSON(w, http.StatusOK, out)
}

// refSHA resolves a ref of the commits endpoints: a branch or a sha.
func (s *Server) refSHA(ref string) string {
	if b := s.sha(ref); b != "" {
		return b
	}
	return ref
}

// page is GitHub's pagination of a list endpoint: the items of the page
// the query asks for and the Link header to the next one.
func page[T any](w http.ResponseWriter, r *http.Request, items []T) []T {
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 || per > 100 {
		per = 30
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if n < 1 {
		n = 1
	}
	lo, hi := min((n-1)*per, len(items)), min(n*per, len(items))
	if hi < len(items) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n+1))
		next := *r.URL
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, r.Host, next.RequestURI()))
	}
	return items[lo:hi]
}

// listStatuses lists every status of a commit, newest first.
func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha := s.refSHA(r.PathValue("ref"))
	var idx []int
	for i := len(s.statuses) - 1; i >= 0; i-- {
		if s.statuses[i].SHA == sha {
			idx = append(idx, i)
		}
	}
	tmpl := s.templateItem("repos/list-commit-statuses-for-ref", 200)
	out := []any{}
	for _, i := range page(w, r, idx) {
		item := obj{}
		for k, v := range s.statusJSON(i, s.statuses[i]) {
			item[k] = v
		}
		item["creator"] = tmpl["creator"]
		item["avatar_url"] = tmpl["avatar_url"]
		out = append(out, item)
	}
	writeJSON(w, http.StatusOK, out)
}

// listCheckRuns lists a commit's check runs (filter=latest, the default,
// keeps the newest of each name; filter=all keeps every one), filtered by
// check_name and status as GitHub does.
func (s *Server) listCheckRuns(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	sha := s.refSHA(r.PathValue("ref"))
	var idx []int
	seen := map[string]bool{}
	for i := len(s.checkRuns) - 1; i >= 0; i-- {
		c := s.checkRuns[i]
		switch {
		case c.SHA != sha,
			q.Get("check_name") != "" && c.Name != q.Get("check_name"),
			q.Get("status") != "" && c.Status != q.Get("status"),
			q.Get("filter") != "all" && seen[c.Name]:
			continue
		}
		seen[c.Name] = true
		idx = append(idx, i)
	}
	out := s.template("checks/list-for-ref", 200)
	tmpl := out["check_runs"].([]any)[0].(obj)
	runs := []any{}
	for _, i := range page(w, r, idx) {
		c := s.checkRuns[i]
		item := obj{}
		for k, v := range tmpl {
			item[k] = v
		}
		id := 7000 + i
		item["id"], item["node_id"], item["name"], item["head_sha"] = id, fmt.Sprintf("CR_fake%d", id), c.Name, c.SHA
		item["url"] = s.apiURL("/check-runs/%d", id)
		item["html_url"] = s.htmlURL("/runs/%d", id)
		item["external_id"], item["details_url"] = "", s.htmlURL("/runs/%d", id)
		item["status"], item["conclusion"] = c.Status, nil
		item["started_at"], item["completed_at"] = stamp(c.StartedAt), nil
		if c.Status == "completed" {
			item["conclusion"], item["completed_at"] = c.Conclusion, stamp(c.CompletedAt)
		}
		item["output"] = obj{"title": c.Title, "summary": c.Title, "text": nil, "annotations_count": 0, "annotations_url": s.apiURL("/check-runs/%d/annotations", id)}
		item["pull_requests"] = []any{}
		runs = append(runs, item)
	}
	out["total_count"], out["check_runs"] = len(idx), runs
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) branchRules(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	if method, ok := s.mergeQueue[r.PathValue("branch")]; ok {
		out = append(out, obj{
			"type": "merge_queue", "ruleset_source_type": "Repository", "ruleset_source": s.Owner + "/" + s.Repo, "ruleset_id": 7,
			"parameters": obj{
				"check_response_timeout_minutes": 60, "grouping_strategy": "ALLGREEN", "max_entries_to_build": 5,
				"max_entries_to_merge": 5, "merge_method": method, "min_entries_to_merge": 1, "min_entries_to_merge_wait_minutes": 5,
			},
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getRef(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	branch := r.PathValue("branch")
	sha := s.sha(branch)
	if sha == "" {
		message(w, http.StatusNotFound, "Not Found", "https://docs.github.com/rest/git/refs#get-a-reference")
		return
	}
	out := s.template("git/get-ref", 200)
	out["ref"], out["node_id"], out["url"] = "refs/heads/"+branch, "REF_fake", s.apiURL("/git/refs/heads/%s", branch)
	out["object"] = obj{"type": "commit", "sha": sha, "url": s.apiURL("/git/commits/%s", sha)}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteRef(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	branch := r.PathValue("branch")
	if s.sha(branch) == "" {
		message(w, http.StatusUnprocessableEntity, "Reference does not exist", "https://docs.github.com/rest/git/refs#delete-a-reference")
		return
	}
	if _, err := s.git("update-ref", "-d", "refs/heads/"+branch); err != nil {
		message(w, http.StatusInternalServerError, err.Error(), "https://docs.github.com/rest/git/refs#delete-a-reference")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// graphql serves the two GraphQL operations promoter sends for merge
// queues: the enqueuePullRequest mutation and a query of a pull request's
// mergeQueueEntry. Anything else is a GraphQL error.
func (s *Server) graphql(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Query     string         `json:"query"`
		Variables map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, obj{"message": "Problems parsing JSON"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gqlErr := func(msg string) {
		writeJSON(w, http.StatusOK, obj{"data": nil, "errors": []any{obj{"type": "UNPROCESSABLE", "message": msg}}})
	}
	entry := func(p *Pull) any {
		if !p.Queued {
			return nil
		}
		pos := 0
		for _, q := range s.pulls {
			if q.Queued && q.Base == p.Base {
				pos++
			}
			if q == p {
				break
			}
		}
		return obj{"state": "QUEUED", "position": pos}
	}
	switch {
	case strings.Contains(in.Query, "enqueuePullRequest"):
		id, _ := in.Variables["pullRequestId"].(string)
		var p *Pull
		for _, q := range s.pulls {
			if nodeID(q.Number) == id {
				p = q
			}
		}
		switch {
		case p == nil:
			gqlErr(fmt.Sprintf("Could not resolve to a node with the global id of '%s'", id))
		case p.State != "open":
			gqlErr("Pull request is not open")
		case s.mergeQueue[p.Base] == "":
			gqlErr("Pull request's base branch does not require a merge queue")
		case s.mergeableState(p) == "dirty":
			gqlErr("Pull request is not mergeable")
		case s.mergeableState(p) == "blocked":
			gqlErr("Pull request is blocked: the fake's stand-in for a required review missing")
		case in.Variables["expectedHeadOid"] != nil && in.Variables["expectedHeadOid"] != s.sha(p.Head):
			gqlErr("The head of the pull request has changed")
		default:
			p.Queued = true
			writeJSON(w, http.StatusOK, obj{"data": obj{"enqueuePullRequest": obj{"mergeQueueEntry": entry(p)}}})
		}
	case strings.Contains(in.Query, "mergeQueueEntry"):
		n, _ := in.Variables["number"].(float64)
		if n < 1 || int(n) > len(s.pulls) {
			gqlErr(fmt.Sprintf("Could not resolve to a PullRequest with the number of %v.", n))
			return
		}
		p := s.pulls[int(n)-1]
		state := strings.ToUpper(p.State)
		if p.Merged {
			state = "MERGED"
		}
		writeJSON(w, http.StatusOK, obj{"data": obj{"repository": obj{"pullRequest": obj{"state": state, "merged": p.Merged, "mergeQueueEntry": entry(p)}}}})
	default:
		gqlErr("the fake serves enqueuePullRequest and mergeQueueEntry only")
	}
}
