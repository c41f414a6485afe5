package promote

import (
	"fmt"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
)

// Action is what a run did, or would do, for one canary.
type Action string

// Actions.
const (
	ActNone     Action = "none"      // nothing to do
	ActHold     Action = "hold"      // observing; not time or not enough evidence yet
	ActStart    Action = "start"     // first step committed
	ActPromote  Action = "promote"   // next step committed
	ActFinish   Action = "finish"    // promoted to 100%: stable := canary
	ActRollback Action = "rollback"  // reverted to 100% stable
	ActRerender Action = "rerender"  // the component re-rendered for a moved base
	ActWait     Action = "wait"      // a pull request waits for checks or a human
	ActSetImage Action = "set-image" // a new canary image committed (promoter start)
)

// Decision is the outcome of one run for one canary: what it did and why.
// It is what `promoter run`, `plan` and `status` print.
type Decision struct {
	Canary string `json:"name"`
	Phase  Phase  `json:"phase"`
	Action Action `json:"action"`
	// Step and Weight are where the canary stands after the run; FromWeight
	// where it stood before.
	Step       int `json:"step"`
	Steps      int `json:"steps"`
	Weight     int `json:"weight"`
	FromWeight int `json:"fromWeight"`
	// CanaryRevision and StableRevision are the images in effect.
	CanaryRevision string `json:"canaryRevision"`
	StableRevision string `json:"stableRevision"`
	// Reasons explain the decision, most important first.
	Reasons []string `json:"reasons"`
	// Subject is the subject of the commit made.
	Subject string `json:"subject,omitempty"`
	// Commit is the commit that landed (or would land, in a dry run);
	// PullRequest the pull request it went through.
	Commit      string `json:"commit,omitempty"`
	PullRequest string `json:"pullRequest,omitempty"`
	// Landed reports whether the decision changed the target branch.
	Landed bool `json:"landed"`
	// Verdict is the gates' verdict, when they were evaluated.
	Verdict gates.Verdict `json:"verdict,omitempty"`
	// Last is promoter's last commit for the canary.
	Last *LastDecision `json:"lastDecision,omitempty"`
	// Diff is the change of the built manifests (plan only).
	Diff string `json:"diff,omitempty"`
	// Error is set when the run failed for this canary.
	Error string `json:"error,omitempty"`

	// Report is the gate report behind the decision, if any.
	Report *gates.Report `json:"-"`
	// Err is the error behind Error.
	Err error `json:"-"`
}

// LastDecision is what status reports: the decision recorded in promoter's
// last commit for the canary.
type LastDecision struct {
	Subject string    `json:"subject"`
	Action  string    `json:"action"`
	Commit  string    `json:"commit"`
	At      time.Time `json:"at"`
}

// judgement is the pure decision of a progressing canary from its gate
// report: roll back, promote, or hold, and why.
type judgement struct {
	action  Action
	reasons []string
}

// judge decides from a stage's report. elapsed is how long the stage has
// been live; pause the step's pause.
func judge(r *gates.Report, elapsed, pause time.Duration, final bool) judgement {
	if r.Rollback {
		return judgement{ActRollback, r.RollbackReasons}
	}
	if elapsed < pause {
		return judgement{ActHold, []string{fmt.Sprintf("stage live for %s of its %s pause (gates: %s)", round(elapsed), pause, r.Verdict)}}
	}
	switch r.Verdict {
	case gates.Pass:
		next := ActPromote
		if final {
			next = ActFinish
		}
		return judgement{next, []string{fmt.Sprintf("every gate passed after the %s pause", pause)}}
	case gates.Fail:
		return judgement{ActHold, append([]string{"a gate fails (below the rollback threshold)"}, failing(r)...)}
	case gates.Error:
		return judgement{ActHold, append([]string{"a gate could not be evaluated; holding (an error is never a pass nor a rollback)"}, failing(r)...)}
	}
	return judgement{ActHold, append([]string{"waiting for enough data"}, failing(r)...)}
}

// failing lists the messages of the gates that do not pass.
func failing(r *gates.Report) []string {
	var out []string
	for _, g := range r.Gates {
		if g.Verdict != gates.Pass {
			out = append(out, fmt.Sprintf("%s: %s", g.Name, g.Message))
		}
	}
	return out
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }
