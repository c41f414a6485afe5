package githubtest

import (
	"fmt"
	"time"
)

// The answers are GitHub's examples from its description with the fake's
// data in them: every field GitHub's schema requires is there, with the
// type it says.

type obj = map[string]any

func (s *Server) template(op string, status int) obj {
	v, _ := s.api.example(op, status).(obj)
	if v == nil {
		s.t.Fatalf("githubtest: GitHub's description has no example of the %d answer of %s", status, op)
	}
	return v
}

func (s *Server) templateItem(op string, status int) obj {
	items, _ := s.api.example(op, status).([]any)
	if len(items) == 0 {
		s.t.Fatalf("githubtest: GitHub's description has no example item of the %d answer of %s", status, op)
	}
	return items[0].(obj)
}

func (s *Server) apiURL(format string, a ...any) string {
	return s.BaseURL + "repos/" + s.Owner + "/" + s.Repo + fmt.Sprintf(format, a...)
}

func (s *Server) htmlURL(format string, a ...any) string {
	return "https://github.example/" + s.Owner + "/" + s.Repo + fmt.Sprintf(format, a...)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

// repoFields puts this repository into a repository object of an example.
func (s *Server) repoFields(r obj) {
	r["name"] = s.Repo
	r["full_name"] = s.Owner + "/" + s.Repo
	r["html_url"] = s.htmlURL("")
	r["url"] = s.apiURL("")
	if o, ok := r["owner"].(obj); ok {
		o["login"] = s.Owner
	}
	r["default_branch"] = "main"
}

func (s *Server) labelJSON(i int, name string) obj {
	l := s.templateItem("issues/add-labels", 200)
	l["id"] = 1000 + i
	l["node_id"] = fmt.Sprintf("LA_fake%d", i)
	l["name"] = name
	l["url"] = s.apiURL("/labels/%s", name)
	l["default"] = false
	l["description"] = ""
	return l
}

func (s *Server) userJSON(login string, id int) obj {
	u := s.template("pulls/get", 200)["user"].(obj)
	u["login"], u["id"], u["node_id"] = login, id, fmt.Sprintf("U_fake%d", id)
	u["html_url"] = "https://github.example/" + login
	return u
}

// pullJSON is the pull-request (full) or pull-request-simple object of p;
// callers hold s.mu. poll says the read counts as a poll of mergeability.
func (s *Server) pullJSON(op string, status int, p *Pull, full, poll bool) obj {
	var out obj
	if full {
		out = s.template(op, status)
	} else {
		out = s.templateItem(op, status)
	}
	head, base := s.sha(p.Head), s.sha(p.Base)
	out["id"] = 5000 + p.Number
	out["node_id"] = nodeID(p.Number)
	out["number"] = p.Number
	out["state"] = p.State
	out["locked"] = false
	out["draft"] = p.Draft
	out["title"] = p.Title
	out["body"] = p.Body
	out["url"] = s.apiURL("/pulls/%d", p.Number)
	out["html_url"] = s.htmlURL("/pull/%d", p.Number)
	out["created_at"], out["updated_at"] = stamp(p.createdAt), stamp(p.createdAt)
	out["closed_at"], out["merged_at"], out["merge_commit_sha"] = nil, nil, nil
	out["milestone"], out["assignee"], out["auto_merge"], out["active_lock_reason"] = nil, nil, nil, nil
	out["assignees"], out["requested_teams"] = []any{}, []any{}
	reviewers := []any{}
	for i, r := range p.Reviewers {
		reviewers = append(reviewers, s.userJSON(r, 100+i))
	}
	out["requested_reviewers"] = reviewers
	labels := []any{}
	for i, l := range p.Labels {
		labels = append(labels, s.labelJSON(i, l))
	}
	out["labels"] = labels
	for _, side := range []struct{ key, ref, sha string }{{"head", p.Head, head}, {"base", p.Base, base}} {
		b := out[side.key].(obj)
		b["ref"], b["sha"], b["label"] = side.ref, side.sha, s.Owner+":"+side.ref
		if r, ok := b["repo"].(obj); ok {
			s.repoFields(r)
		}
	}
	if !full {
		return out
	}
	out["merged"] = p.Merged
	out["merged_by"] = nil
	if p.Merged {
		out["merged_by"] = s.userJSON("web-flow", 19864447)
		out["merged_at"] = stamp(s.now())
	}
	if p.State != "open" {
		out["closed_at"] = stamp(s.now())
		out["mergeable"], out["mergeable_state"] = nil, "unknown"
		return out
	}
	if poll && s.computing(p) {
		out["mergeable"], out["mergeable_state"] = nil, "unknown"
		return out
	}
	state := s.mergeableState(p)
	out["mergeable_state"] = state
	out["mergeable"] = state != "dirty" && state != "unknown"
	if state == "unknown" {
		out["mergeable"] = nil
	}
	return out
}

func nodeID(n int) string { return fmt.Sprintf("PR_kwfake%d", n) }

func (s *Server) statusJSON(i int, st Status) obj {
	out := s.template("repos/create-commit-status", 201)
	out["id"] = i + 1
	out["node_id"] = fmt.Sprintf("SC_fake%d", i+1)
	out["url"] = s.apiURL("/statuses/%s", st.SHA)
	out["state"], out["context"] = st.State, st.Context
	out["description"] = st.Description
	out["target_url"] = nil
	if st.TargetURL != "" {
		out["target_url"] = st.TargetURL
	}
	out["created_at"], out["updated_at"] = stamp(st.At), stamp(st.At)
	return out
}
