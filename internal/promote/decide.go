package promote

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/spec"
)

// The decision loop, top to bottom. Every run, for every canary:
//
//	derive    (state.go)    where the canary stands, from Git alone: Idle,
//	                        Pending, Progressing, Succeeded or RolledBack
//	observe   (promoter.go) a progressing stage's gate report, from
//	                        Prometheus; whether the mesh shows the split;
//	          (sync.go)     whether the forge shows Argo CD or Flux
//	                        applied the stage
//	ask       (reconcile.go) the webhooks decide will look at (hooksFor)
//	decide    (this file)   the action, the phase users see, and why: a
//	                        pure function of the above, the clock and a
//	                        manual command
//	act       (act_*.go)    the commit the action makes, one file each
//	land      (land.go)     the commit reaches the target branch: pushed
//	                        (direct) or through a pull request
//
// What each phase does on a scheduled run:
//
//	Idle, Succeeded, RolledBack   nothing, unless the base moved under
//	                              promoter's component: re-render it
//	Pending                       start at the first step once every
//	                              pre-rollout webhook passes
//	Progressing                   re-render if the base moved; else roll
//	                              back when the gates say so or any
//	                              rollback webhook passes; promote (or, at
//	                              the last step, finish) once the pause is
//	                              over, every gate passes, every rollout
//	                              webhook passes and (outside review mode)
//	                              every confirm-promotion webhook passes;
//	                              otherwise hold
//	Waiting                       Progressing, holding for data: the gates
//	                              are inconclusive, the landed commit has
//	                              no sync status yet (or it timed out), or
//	                              the mesh does not show the committed
//	                              split yet
//	Promoting                     Progressing at the last step with the
//	                              final pull request open
//
// Manual commands (promoter rollback, promote, start) skip gates and
// webhooks; decide says which is legal in which phase.

// situation is everything decide looks at, gathered before deciding:
// nothing is fetched, called or written while deciding.
type situation struct {
	st *State
	// report is the current stage's gate report (Progressing only; nil
	// when the gates were not evaluated).
	report *gates.Report
	// synced is false while analysis.verifyTraffic is on and the mesh does
	// not show the committed split yet.
	synced bool
	// sync is what analysis.syncStatus found (sync.go); nil when not asked.
	sync *syncObservation
	// hooks are the answers of the webhooks hooksFor named, by type.
	hooks map[string]hookOutcome
	now   time.Time
	// openPR is the open pull request of the next step, "" if none (or
	// no forge was asked).
	openPR string
	// manual is a command given by hand; nil on a scheduled run.
	manual *command
}

// command is a manual command.
type command struct {
	kind commandKind
	// reason is rollback's --reason; full is promote --full; image and
	// force are start's.
	reason string
	full   bool
	image  string
	force  bool
}

type commandKind int

const (
	cmdRollback commandKind = iota + 1
	cmdPromote
	cmdStart
)

// verdict is what decide decided.
type verdict struct {
	action Action
	phase  Phase
	// reasons explain it, most important first.
	reasons []string
	// image is the canary image of ActSetImage.
	image string
	// err is a manual command refused (nothing to promote, an image in
	// flight).
	err error
}

// decide is the decision of one run for one canary.
func decide(s situation) verdict {
	if s.manual != nil {
		return decideManual(s.st, *s.manual)
	}
	st := s.st
	v := verdict{action: ActNone, phase: st.Phase}
	switch st.Phase {
	case Idle, Succeeded, RolledBack:
		if st.Drift {
			return v.with(ActRerender, "the base changed since promoter rendered its component")
		}
		v.reasons = describe(st, s.now)
		return v
	case Pending:
		if failed := s.hooks[spec.WebhookPreRollout].failed; len(failed) > 0 {
			return v.with(ActHold, append([]string{"a pre-rollout webhook did not pass; not starting"}, failed...)...)
		}
		return v.with(ActStart, fmt.Sprintf("canary image %s differs from stable %s", st.Revision, st.StableRevision))
	}

	// Progressing.
	if st.Drift {
		return v.with(ActRerender, "the base changed (or promoter's files were edited) since the stage was rendered")
	}
	if s.report == nil {
		// Not evaluated (status without Prometheus): say where it stands.
		v.reasons = describe(st, s.now)
		if s.syncWait() != "" {
			v.phase = Waiting
		}
		if s.openPR != "" && st.Final() {
			v.phase = Promoting
		}
		return v
	}
	j := s.judge()
	if (!s.synced || s.syncWait() != "") && j.action != ActRollback {
		v.phase = Waiting
	}
	if j.action != ActRollback {
		if passed := s.hooks[spec.WebhookRollback].passed; len(passed) > 0 {
			j = judgement{ActRollback, []string{"a rollback webhook asked for a rollback (" + strings.Join(passed, ", ") + ")"}}
		}
	}
	if j.action == ActPromote || j.action == ActFinish {
		if failed := s.hooks[spec.WebhookRollout].failed; len(failed) > 0 {
			j = judgement{ActHold, append([]string{"a rollout webhook did not pass"}, failed...)}
		}
	}
	if j.action == ActFinish && st.Canary.Spec.PullRequests.Mode != spec.ModeReview {
		// In review mode the final pull request's approval is the
		// confirmation; otherwise confirm-promotion webhooks gate it.
		if failed := s.hooks[spec.WebhookConfirmPromotion].failed; len(failed) > 0 {
			j = judgement{ActHold, append([]string{"waiting for confirm-promotion"}, failed...)}
		}
	}
	v.action, v.reasons = j.action, j.reasons
	if j.action == ActHold {
		if s.report.Verdict == gates.Inconclusive {
			v.phase = Waiting
		}
		if s.openPR != "" && st.Final() {
			v.phase = Promoting
		}
	}
	return v
}

func (v verdict) with(a Action, reasons ...string) verdict {
	v.action, v.reasons = a, reasons
	return v
}

// judge is the gates' part of a progressing canary's decision: what the
// report, the pause and the traffic check say before any webhook.
func (s situation) judge() judgement {
	st := s.st
	j := judge(s.report, s.now.Sub(st.StageStart), st.schedule().pause(st.Step()), st.Final())
	if w := s.syncWait(); w != "" && j.action != ActRollback {
		return judgement{ActHold, []string{w}}
	}
	if !s.synced && j.action != ActRollback {
		j = judgement{ActHold, []string{fmt.Sprintf("waiting for the mesh to show the committed %d%% split (Argo CD or Flux may not have synced it yet); the stage clock starts then", st.Weight())}}
	}
	return j
}

// syncWait says why the stage waits for its sync evidence; "" when it
// does not (synced, or analysis.syncStatus not given).
func (s situation) syncWait() string {
	if s.sync == nil {
		return ""
	}
	return s.sync.wait
}

// hooksFor names the webhook types decide looks at in s (its hooks
// unset): pre-rollout before a start; rollback while a stage is live and
// the gates do not roll back already; rollout before a promotion, and
// confirm-promotion before the final one outside review mode.
func hooksFor(s situation) []string {
	st := s.st
	switch {
	case s.manual != nil:
		return nil
	case st.Phase == Pending:
		return []string{spec.WebhookPreRollout}
	case st.Phase != Progressing || st.Drift || s.report == nil:
		return nil
	}
	var types []string
	j := s.judge()
	if j.action != ActRollback {
		types = append(types, spec.WebhookRollback)
	}
	if j.action == ActPromote || j.action == ActFinish {
		types = append(types, spec.WebhookRollout)
	}
	if j.action == ActFinish && st.Canary.Spec.PullRequests.Mode != spec.ModeReview {
		types = append(types, spec.WebhookConfirmPromotion)
	}
	return types
}

// ErrInFlight refuses to start a revision while another takes traffic.
var ErrInFlight = errors.New("another canary revision is in flight")

// decideManual is the decision of a manual command: which command is legal
// in which phase.
func decideManual(st *State, m command) verdict {
	name := st.Canary.Metadata.Name
	v := verdict{action: ActNone, phase: st.Phase}
	switch m.kind {
	case cmdRollback:
		switch st.Phase {
		case RolledBack:
			rb := st.Committed.Rollback
			return v.with(ActNone, fmt.Sprintf("already rolled back (%s: %s)", rb.Revision, rb.Reason))
		case Idle, Succeeded:
			return v.with(ActNone, "no canary to roll back (the canary runs the stable image)")
		}
		return v.with(ActRollback, m.reason)
	case cmdPromote:
		switch {
		case st.Phase == Pending && m.full:
			return v.with(ActFinish, "promoted by hand (promote --full), skipping gates")
		case st.Phase == Pending:
			return v.with(ActStart, "started by hand (promote), skipping gates")
		case st.Phase == Progressing && (m.full || st.Final()):
			return v.with(ActFinish, "promoted by hand, skipping gates")
		case st.Phase == Progressing:
			return v.with(ActPromote, "advanced by hand (promote), skipping gates")
		}
		v.err = fmt.Errorf("canary %s is %s: there is nothing to promote", name, st.Phase)
		return v
	case cmdStart:
		switch {
		case m.image == st.StableRevision:
			v.err = fmt.Errorf("start %s: %s is the stable image", name, m.image)
			return v
		case st.Revision == m.image && st.Committed.CanaryImage == m.image && st.Phase != RolledBack:
			return v.with(ActNone, fmt.Sprintf("%s is already the canary", m.image))
		case st.Phase == Progressing && !m.force:
			v.err = fmt.Errorf("%w: canary %s runs %s at step %d (%d%%)", ErrInFlight, name, st.Revision, st.Step(), st.Weight())
			return v
		}
		v = v.with(ActSetImage, fmt.Sprintf("start a canary of %s (stable: %s)", m.image, st.StableRevision))
		if st.Phase == Progressing {
			v.reasons = append(v.reasons, fmt.Sprintf("forced: replaces %s, which was in flight", st.Revision))
		}
		v.image = m.image
		return v
	}
	v.err = fmt.Errorf("unknown command %d", m.kind)
	return v
}

// phaseAfterLanding is the phase once an action's commit landed, or waits
// in a pull request: the action's own phase after it (act_*.go), and
// Promoting while the final promotion waits.
func phaseAfterLanding(ch change, cur Phase, landed bool) Phase {
	if landed {
		return ch.after(cur)
	}
	if ch.action() == ActFinish {
		return Promoting
	}
	return cur
}

// judgement is the gates' decision of a progressing canary: roll back,
// promote, or hold, and why.
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
