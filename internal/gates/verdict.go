package gates

import "time"

// Verdict is the outcome of a gate or of a whole stage.
type Verdict string

// The four verdicts.
const (
	// Pass: the gate's criterion holds on enough data.
	Pass Verdict = "pass"
	// Fail: the criterion is breached.
	Fail Verdict = "fail"
	// Inconclusive: no data, NaN, or too few requests. Never a pass.
	Inconclusive Verdict = "inconclusive"
	// Error: a query failed. Never a pass, never a rollback by itself.
	Error Verdict = "error"
)

// worse returns the verdict that dominates when combining gates: a failure
// beats an error, an error beats inconclusive, inconclusive beats a pass.
func worse(a, b Verdict) Verdict {
	rank := map[Verdict]int{Pass: 0, Inconclusive: 1, Error: 2, Fail: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Window is a time range (Start, End].
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// GateResult is one gate's verdict with the evidence behind it.
type GateResult struct {
	// Name and Type come from the spec; Role is "gate" for a promotion gate
	// and "rollbackOn" for a rollback trigger.
	Name, Type, Role string
	Verdict          Verdict
	// Value is the canary's value and Stable stable's (NaN when unknown),
	// in Unit.
	Value, Stable float64
	Unit          string
	// Threshold says what the value is compared with ("<= 1%").
	Threshold string
	// Samples are the requests each version served in Window.
	Samples Counts
	Window  Window
	Query   string
	// Checks and FailedChecks count the per-tile checks since the stage
	// started (Flagger's threshold), or the tiles a trigger looked at.
	Checks, FailedChecks int
	// Message says what the verdict means and what would change it.
	Message string
	// Sequential holds the sequential test's details for a sequential gate.
	Sequential *SequentialResult
}

// Report is the judgement of one stage.
type Report struct {
	Canary string
	// Weight is the committed canary weight in percent.
	Weight int
	Stage  Stage
	// Interval is the tile length.
	Interval time.Duration
	// Verdict combines the promotion gates and the rollback decision: Fail
	// when a rollback is due or a gate fails, else Error, else
	// Inconclusive, else Pass.
	Verdict Verdict
	// Rollback is true when the canary must be rolled back now: a
	// rollbackOn trigger fired, the sequential test rejected, or a gate's
	// failed checks reached analysis.threshold. RollbackReasons say why.
	Rollback        bool
	RollbackReasons []string
	// Gates are the promotion gates, RollbackOn the rollback triggers.
	Gates, RollbackOn []GateResult
	// MinRequests and CanaryRequests are analysis.minRequests and the
	// canary's requests in the stage so far.
	MinRequests    int
	CanaryRequests float64
	// History is the per-tile view of the latest tiles (at most 48) since
	// the canary started, for charts.
	History []HistoryPoint
}

// HistoryPoint is one tile of the canary-vs-stable history (NaN when a
// version had no requests).
type HistoryPoint struct {
	End                              time.Time
	CanaryErrorRate, StableErrorRate float64
	CanaryP99, StableP99             float64
}
