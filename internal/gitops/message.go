package gitops

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Action is what a promoter commit did, recorded in its Promoter-Action
// trailer.
type Action string

// The actions of promoter's commits.
const (
	ActionStart    Action = "start"
	ActionPromote  Action = "promote"
	ActionRollback Action = "rollback"
	ActionFinish   Action = "finish"
)

// Trailer keys of promoter's commits.
const (
	TrailerCanary = "Promoter-Canary"
	TrailerStep   = "Promoter-Step"
	TrailerAction = "Promoter-Action"
)

// Trailers identify a promoter commit. The zero value marks a commit that
// is not promoter's.
type Trailers struct {
	Canary string
	Step   int
	Action Action
}

// IsZero reports whether no promoter trailer was present.
func (t Trailers) IsZero() bool { return t.Canary == "" && t.Action == "" }

// Message is a commit message: a subject, a body, and promoter's trailers.
type Message struct {
	Subject  string
	Body     string
	Trailers Trailers
}

// Subject formats the subject of a weight change, "canary(myapp): 10% -> 25%".
func Subject(canary string, from, to int) string {
	return fmt.Sprintf("canary(%s): %d%% -> %d%%", canary, from, to)
}

// String renders the message as Git stores it.
func (m Message) String() string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(m.Subject))
	b.WriteString("\n")
	if body := strings.TrimSpace(m.Body); body != "" {
		b.WriteString("\n")
		b.WriteString(body)
		b.WriteString("\n")
	}
	if !m.Trailers.IsZero() {
		b.WriteString("\n")
		fmt.Fprintf(&b, "%s: %s\n", TrailerCanary, m.Trailers.Canary)
		fmt.Fprintf(&b, "%s: %d\n", TrailerStep, m.Trailers.Step)
		fmt.Fprintf(&b, "%s: %s\n", TrailerAction, m.Trailers.Action)
	}
	return b.String()
}

// ParseMessage splits a stored commit message into subject, body and
// promoter's trailers. Trailers are read from the last paragraph only, as
// git interpret-trailers does; other trailers stay in the body.
func ParseMessage(s string) Message {
	s = strings.TrimRight(s, "\n")
	subject, rest, _ := strings.Cut(s, "\n")
	m := Message{Subject: strings.TrimSpace(subject)}
	rest = strings.Trim(rest, "\n")
	paras := strings.Split(rest, "\n\n")
	last := paras[len(paras)-1]
	var tr Trailers
	found := false
	sc := bufio.NewScanner(strings.NewReader(last))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case TrailerCanary:
			tr.Canary, found = v, true
		case TrailerStep:
			tr.Step, _ = strconv.Atoi(v)
			found = true
		case TrailerAction:
			tr.Action, found = Action(v), true
		}
	}
	if found {
		m.Trailers = tr
		paras = paras[:len(paras)-1]
	}
	m.Body = strings.TrimSpace(strings.Join(paras, "\n\n"))
	return m
}

// Commit is a commit as promoter sees it.
type Commit struct {
	// Hash is the full hexadecimal commit id.
	Hash string
	// Parents are the parents' ids, the first parent first.
	Parents []string
	Message Message
	Author  Signature
	// AuthorTime and CommitTime are the commit's dates; CommitTime is when
	// it was made (a merge or a push lands it on the branch).
	AuthorTime time.Time
	CommitTime time.Time
}

// Short is the abbreviated id.
func (c Commit) Short() string {
	if len(c.Hash) > 12 {
		return c.Hash[:12]
	}
	return c.Hash
}

// IsPromoter reports whether the commit is promoter's commit for canary.
func (c Commit) IsPromoter(canary string) bool { return c.Message.Trailers.Canary == canary }
