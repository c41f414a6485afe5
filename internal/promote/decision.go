package promote

import (
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
