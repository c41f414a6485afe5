package promote

import (
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// schedule owns the step convention of promoter's component, which its
// annotations and commit trailers record:
//
//	step 0        before the first step: nothing committed yet, a new
//	              image committed (promoter start), or rolled back
//	step 1..n     progressing through spec.steps; the weight is
//	              spec.steps[step-1].weight
//	step n+1      promoted: stable runs the canary's image
//
// Everything that turns a step into a weight or a pause, or asks whether a
// step is the last, asks here.
type schedule []spec.Step

func scheduleOf(c *spec.Canary) schedule { return schedule(c.Spec.Steps) }

// before is the step before the first.
func (s schedule) before() int { return 0 }

// first is the first step.
func (s schedule) first() int { return 1 }

// promoted is the step of a promoted canary.
func (s schedule) promoted() int { return len(s) + 1 }

// progressing reports whether step is one of spec.steps.
func (s schedule) progressing(step int) bool { return step >= 1 && step <= len(s) }

// final reports whether step is the last of spec.steps (or past it).
func (s schedule) final(step int) bool { return step >= len(s) }

// weight is the canary's weight at step: 0 outside spec.steps.
func (s schedule) weight(step int) int {
	if !s.progressing(step) {
		return 0
	}
	return s[step-1].Weight
}

// pause is how long step is observed before it may be promoted.
func (s schedule) pause(step int) time.Duration {
	if !s.progressing(step) {
		return 0
	}
	return s[step-1].Pause.Duration
}
