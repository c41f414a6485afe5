package githubtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/gitops/gittest"
)

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
		out = append(out, s.json(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createPull(w http.ResponseWriter, r *http.Request) {
	var in struct{ Title, Head, Base, Body string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Title == "" {
		validation(w, "PullRequest", "title", "missing_field", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
	p := &Pull{Number: len(s.pulls) + 1, Head: in.Head, Base: in.Base, Title: in.Title, Body: in.Body, State: "open"}
	s.pulls = append(s.pulls, p)
	writeJSON(w, http.StatusCreated, s.json(p))
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pull(w, r); p != nil {
		writeJSON(w, http.StatusOK, s.json(p))
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
	if in.Title != nil {
		p.Title = *in.Title
	}
	if in.Body != nil {
		p.Body = *in.Body
	}
	if in.State != nil {
		p.State = *in.State
	}
	writeJSON(w, http.StatusOK, s.json(p))
}

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
	head, base := s.sha(p.Head), s.sha(p.Base)
	if p.State != "open" || p.Merged {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Pull Request is not mergeable"})
		return
	}
	if in.SHA != "" && in.SHA != head {
		writeJSON(w, http.StatusConflict, map[string]string{"message": "Head branch was modified. Review and try the merge again."})
		return
	}
	switch s.mergeableState(p) {
	case "clean", "unstable", "has_hooks":
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Pull Request is not mergeable"})
		return
	}
	tree, err := s.git("merge-tree", "--write-tree", base, head)
	if err != nil {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Pull Request is not mergeable"})
		return
	}
	tree = strings.SplitN(tree, "\n", 2)[0]
	msg := in.CommitTitle
	if msg == "" {
		msg = "Merge pull request #" + r.PathValue("n") + " from " + s.Owner + "/" + p.Head
	}
	if in.CommitMessage != "" {
		msg += "\n\n" + in.CommitMessage
	}
	args := []string{"commit-tree", tree, "-p", base}
	if in.MergeMethod == "" || in.MergeMethod == "merge" {
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
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	p.Merged, p.State = true, "closed"
	writeJSON(w, http.StatusOK, map[string]any{"sha": commit, "merged": true, "message": "Pull Request successfully merged"})
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
		writeJSON(w, http.StatusCreated, s.json(p))
	}
}

func (s *Server) addLabels(w http.ResponseWriter, r *http.Request) {
	var labels []string
	if err := json.NewDecoder(r.Body).Decode(&labels); err != nil {
		validation(w, "Label", "labels", "invalid", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pull(w, r)
	if p == nil {
		return
	}
	out := []map[string]string{}
	for _, l := range labels {
		if !slices.Contains(p.Labels, l) {
			p.Labels = append(p.Labels, l)
		}
	}
	for _, l := range p.Labels {
		out = append(out, map[string]string{"name": l})
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
		writeJSON(w, http.StatusCreated, map[string]any{"id": len(p.Comments), "body": in.Body})
	}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	var in struct{ State, Context, Description string }
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
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses = append(s.statuses, Status{SHA: r.PathValue("sha"), State: in.State, Context: in.Context, Description: in.Description})
	writeJSON(w, http.StatusCreated, map[string]any{"state": in.State, "context": in.Context, "description": in.Description})
}

func (s *Server) deleteRef(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	branch := r.PathValue("branch")
	if s.sha(branch) == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "Reference does not exist"})
		return
	}
	if _, err := s.git("update-ref", "-d", "refs/heads/"+branch); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
