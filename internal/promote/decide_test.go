package promote

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/render"
	"github.com/promoter-dev/promoter/internal/spec"
)

// The decision table: every phase × gate verdict × webhook answer × manual
// command that matters, through decide alone (no network, no Git).
func TestDecide(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pass := func(names ...string) hookOutcome { return hookOutcome{passed: names} }
	fail := func(reasons ...string) hookOutcome { return hookOutcome{failed: reasons} }
	report := func(v gates.Verdict, msg string) *gates.Report {
		return &gates.Report{Verdict: v, Gates: []gates.GateResult{{Name: "error-rate", Verdict: v, Message: msg}}}
	}
	rollbackReport := &gates.Report{Verdict: gates.Fail, Rollback: true, RollbackReasons: []string{"error-rate 6% > 5%"}}
	type row struct {
		name    string
		phase   Phase
		step    int // committed step (Progressing)
		drift   bool
		live    time.Duration // how long the stage has been live
		report  *gates.Report
		unsync  bool
		sync    *syncObservation
		hooks   map[string]hookOutcome
		review  bool
		openPR  string
		manual  *command
		pinned  string // the canary image promoter start committed
		want    Action
		phaseTo Phase
		reason  string
		err     error // errors.Is, or nil
		errText string
	}
	rows := []row{
		// Idle, Succeeded, RolledBack: nothing, unless the base moved.
		{name: "idle does nothing", phase: Idle, want: ActNone, phaseTo: Idle, reason: "runs the stable image"},
		{name: "idle with drift re-renders", phase: Idle, drift: true, want: ActRerender, phaseTo: Idle, reason: "the base changed"},
		{name: "succeeded does nothing", phase: Succeeded, want: ActNone, phaseTo: Succeeded, reason: "promoted: stable runs"},
		{name: "succeeded with drift re-renders", phase: Succeeded, drift: true, want: ActRerender, phaseTo: Succeeded},
		{name: "rolled back holds the revision", phase: RolledBack, want: ActNone, phaseTo: RolledBack, reason: "held until the canary image changes"},
		{name: "rolled back with drift re-renders", phase: RolledBack, drift: true, want: ActRerender, phaseTo: RolledBack},

		// Pending: start once every pre-rollout hook passes.
		{name: "pending starts", phase: Pending, want: ActStart, phaseTo: Pending, reason: "differs from stable"},
		{name: "pending with passing pre-rollout starts", phase: Pending, hooks: map[string]hookOutcome{spec.WebhookPreRollout: pass("smoke")}, want: ActStart, phaseTo: Pending},
		{name: "pending with a failing pre-rollout holds", phase: Pending, hooks: map[string]hookOutcome{spec.WebhookPreRollout: fail("webhook smoke: 503")}, want: ActHold, phaseTo: Pending, reason: "webhook smoke: 503"},
		{name: "pending ignores rollback hooks", phase: Pending, hooks: map[string]hookOutcome{spec.WebhookRollback: pass("stop")}, want: ActStart, phaseTo: Pending},

		// Progressing: drift first.
		{name: "progressing with drift re-renders before the gates", phase: Progressing, step: 1, drift: true, report: rollbackReport, want: ActRerender, phaseTo: Progressing, reason: "promoter's files were edited"},

		// Progressing: the gates.
		{name: "rollback trigger rolls back during the pause", phase: Progressing, step: 1, live: time.Minute, report: rollbackReport, want: ActRollback, phaseTo: Progressing, reason: "error-rate 6% > 5%"},
		{name: "rollback trigger rolls back at the last step", phase: Progressing, step: 3, live: time.Hour, report: rollbackReport, want: ActRollback, phaseTo: Progressing},
		{name: "rollback trigger rolls back before the mesh synced", phase: Progressing, step: 1, report: rollbackReport, unsync: true, want: ActRollback, phaseTo: Progressing},
		{name: "pass during the pause holds", phase: Progressing, step: 1, live: 10 * time.Minute, report: report(gates.Pass, "ok"), want: ActHold, phaseTo: Progressing, reason: "stage live for 10m0s of its 30m0s pause"},
		{name: "inconclusive during the pause is Waiting", phase: Progressing, step: 1, live: 5 * time.Minute, report: report(gates.Inconclusive, "312 requests"), want: ActHold, phaseTo: Waiting, reason: "of its 30m0s pause"},
		{name: "pass after the pause promotes", phase: Progressing, step: 1, live: 30 * time.Minute, report: report(gates.Pass, "ok"), want: ActPromote, phaseTo: Progressing, reason: "every gate passed"},
		{name: "pass at the middle step promotes", phase: Progressing, step: 2, live: time.Hour, report: report(gates.Pass, "ok"), want: ActPromote, phaseTo: Progressing},
		{name: "pass at the last step finishes", phase: Progressing, step: 3, live: time.Hour, report: report(gates.Pass, "ok"), want: ActFinish, phaseTo: Progressing},
		{name: "too little data is Waiting", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Inconclusive, "canary served 312 requests; 1000 needed"), want: ActHold, phaseTo: Waiting, reason: "1000 needed"},
		{name: "too little data at the last step is Waiting", phase: Progressing, step: 3, live: time.Hour, report: report(gates.Inconclusive, "no requests"), want: ActHold, phaseTo: Waiting, reason: "waiting for enough data"},
		{name: "a failing gate below the threshold holds", phase: Progressing, step: 2, live: time.Hour, report: report(gates.Fail, "1.5% > 1%"), want: ActHold, phaseTo: Progressing, reason: "1.5% > 1%"},
		{name: "an error is never a pass", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Error, "query failed"), want: ActHold, phaseTo: Progressing, reason: "could not be evaluated"},
		{name: "an error at the last step is never a finish", phase: Progressing, step: 3, live: time.Hour, report: report(gates.Error, "query failed"), want: ActHold, phaseTo: Progressing},
		{name: "not synced waits for the mesh", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Pass, "ok"), unsync: true, want: ActHold, phaseTo: Waiting, reason: "waiting for the mesh to show the committed 10% split"},
		{name: "not synced at the last step waits", phase: Progressing, step: 3, live: time.Hour, report: report(gates.Pass, "ok"), unsync: true, want: ActHold, phaseTo: Waiting},

		// Progressing: analysis.syncStatus, before the stage clock starts.
		{name: "no sync status yet waits", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Pass, "ok"), sync: &syncObservation{wait: "waiting for sync status continuous-delivery/myapp on 0123abcd"}, want: ActHold, phaseTo: Waiting, reason: "waiting for sync status continuous-delivery/myapp on 0123abcd"},
		{name: "a sync status timed out is Inconclusive and holds", phase: Progressing, step: 3, live: time.Hour, report: report(gates.Pass, "ok"), sync: &syncObservation{wait: "Inconclusive: no commit status or check run x reports success", inconclusive: true}, want: ActHold, phaseTo: Waiting, reason: "Inconclusive: no commit status"},
		{name: "a rollback trigger rolls back before the sync status", phase: Progressing, step: 1, report: rollbackReport, sync: &syncObservation{wait: "waiting for sync status x"}, want: ActRollback, phaseTo: Progressing, reason: "error-rate 6% > 5%"},
		{name: "a passing rollback hook rolls back before the sync status", phase: Progressing, step: 1, report: report(gates.Pass, "ok"), sync: &syncObservation{wait: "waiting for sync status x"}, hooks: map[string]hookOutcome{spec.WebhookRollback: pass("stop")}, want: ActRollback, phaseTo: Waiting},
		{name: "synced, the gates decide", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Pass, "ok"), sync: &syncObservation{at: now.Add(-time.Hour)}, want: ActPromote, phaseTo: Progressing, reason: "every gate passed"},
		{name: "synced, the pause counts from the sync", phase: Progressing, step: 1, live: 10 * time.Minute, report: report(gates.Pass, "ok"), sync: &syncObservation{at: now.Add(-10 * time.Minute)}, want: ActHold, phaseTo: Progressing, reason: "stage live for 10m0s of its 30m0s pause"},
		{name: "synced but the mesh does not show the split waits for the mesh", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Pass, "ok"), sync: &syncObservation{at: now.Add(-time.Hour)}, unsync: true, want: ActHold, phaseTo: Waiting, reason: "waiting for the mesh"},
		{name: "the sync status is waited for before the mesh", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Pass, "ok"), sync: &syncObservation{wait: "waiting for sync status x"}, unsync: true, want: ActHold, phaseTo: Waiting, reason: "waiting for sync status x"},
		{name: "not evaluated (status), no sync status yet: Waiting", phase: Progressing, step: 1, sync: &syncObservation{wait: "waiting for sync status x"}, want: ActNone, phaseTo: Waiting, reason: "step 1/3 at 10%"},
		{name: "manual promote skips the sync status", phase: Progressing, step: 1, sync: &syncObservation{wait: "waiting for sync status x"}, manual: &command{kind: cmdPromote}, want: ActPromote, phaseTo: Progressing, reason: "advanced by hand"},

		// Progressing: rollback hooks, any one passing rolls back.
		{name: "a passing rollback hook rolls back a holding stage", phase: Progressing, step: 1, live: time.Minute, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookRollback: pass("stop")}, want: ActRollback, phaseTo: Progressing, reason: "(stop)"},
		{name: "one passing rollback hook of two rolls back", phase: Progressing, step: 2, live: time.Hour, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookRollback: {passed: []string{"stop"}, failed: []string{"webhook quiet: 404"}}}, want: ActRollback, phaseTo: Progressing, reason: "a rollback webhook asked for a rollback"},
		{name: "failing rollback hooks do nothing", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookRollback: fail("webhook stop: 404")}, want: ActPromote, phaseTo: Progressing},
		{name: "a passing rollback hook rolls back an unsynced stage", phase: Progressing, step: 1, report: report(gates.Inconclusive, "none"), unsync: true, hooks: map[string]hookOutcome{spec.WebhookRollback: pass("stop")}, want: ActRollback, phaseTo: Waiting},
		{name: "a passing rollback hook rolls back a waiting stage", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Inconclusive, "none"), hooks: map[string]hookOutcome{spec.WebhookRollback: pass("stop")}, want: ActRollback, phaseTo: Progressing},
		{name: "a passing rollback hook beats a finish", phase: Progressing, step: 3, live: time.Hour, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookRollback: pass("stop")}, want: ActRollback, phaseTo: Progressing},

		// Progressing: rollout and confirm-promotion hooks gate promotions.
		{name: "a failing rollout hook holds a promotion", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookRollout: fail("webhook load: 500")}, want: ActHold, phaseTo: Progressing, reason: "a rollout webhook did not pass"},
		{name: "a failing rollout hook holds a finish", phase: Progressing, step: 3, live: time.Hour, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookRollout: fail("webhook load: 500")}, want: ActHold, phaseTo: Progressing, reason: "webhook load: 500"},
		{name: "passing rollout hooks promote", phase: Progressing, step: 2, live: time.Hour, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookRollout: pass("load")}, want: ActPromote, phaseTo: Progressing},
		{name: "a failing confirm-promotion hook holds a finish", phase: Progressing, step: 3, live: time.Hour, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookConfirmPromotion: fail("webhook approve: 403")}, want: ActHold, phaseTo: Progressing, reason: "waiting for confirm-promotion"},
		{name: "confirm-promotion does not hold a step", phase: Progressing, step: 1, live: time.Hour, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookConfirmPromotion: fail("webhook approve: 403")}, want: ActPromote, phaseTo: Progressing},
		{name: "review mode: the pull request's approval confirms", phase: Progressing, step: 3, live: time.Hour, review: true, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookConfirmPromotion: fail("webhook approve: 403")}, want: ActFinish, phaseTo: Progressing},
		{name: "passing confirm-promotion finishes", phase: Progressing, step: 3, live: time.Hour, report: report(gates.Pass, "ok"), hooks: map[string]hookOutcome{spec.WebhookConfirmPromotion: pass("approve")}, want: ActFinish, phaseTo: Progressing},

		// Progressing: an open pull request of the next step.
		{name: "the final pull request open is Promoting", phase: Progressing, step: 3, live: time.Hour, review: true, report: report(gates.Fail, "1.5% > 1%"), openPR: "#7", want: ActHold, phaseTo: Promoting},
		{name: "the final pull request open while data lacks is Promoting", phase: Progressing, step: 3, live: time.Hour, review: true, report: report(gates.Inconclusive, "none"), openPR: "#7", want: ActHold, phaseTo: Promoting},
		{name: "a step's pull request open is Progressing", phase: Progressing, step: 1, live: time.Hour, review: true, report: report(gates.Fail, "1.5% > 1%"), openPR: "#3", want: ActHold, phaseTo: Progressing},
		{name: "the final pull request open, gates pass: finish again", phase: Progressing, step: 3, live: time.Hour, review: true, report: report(gates.Pass, "ok"), openPR: "#7", want: ActFinish, phaseTo: Progressing},
		{name: "not evaluated (status): Progressing", phase: Progressing, step: 2, live: time.Minute, want: ActNone, phaseTo: Progressing, reason: "step 2/3 at 50%"},
		{name: "not evaluated, final pull request open (status): Promoting", phase: Progressing, step: 3, want: ActNone, phaseTo: Promoting, openPR: "#7"},

		// Manual commands skip gates and webhooks.
		{name: "rollback by hand while progressing", phase: Progressing, step: 2, report: report(gates.Pass, "ok"), manual: &command{kind: cmdRollback, reason: "pager"}, want: ActRollback, phaseTo: Progressing, reason: "pager"},
		{name: "rollback by hand while pending", phase: Pending, manual: &command{kind: cmdRollback, reason: "bad build"}, want: ActRollback, phaseTo: Pending, reason: "bad build"},
		{name: "rollback by hand when idle does nothing", phase: Idle, manual: &command{kind: cmdRollback, reason: "x"}, want: ActNone, phaseTo: Idle, reason: "no canary to roll back"},
		{name: "rollback by hand when succeeded does nothing", phase: Succeeded, manual: &command{kind: cmdRollback, reason: "x"}, want: ActNone, phaseTo: Succeeded, reason: "no canary to roll back"},
		{name: "rollback by hand twice does nothing", phase: RolledBack, manual: &command{kind: cmdRollback, reason: "x"}, want: ActNone, phaseTo: RolledBack, reason: "already rolled back (myapp:v2: gates)"},
		{name: "promote by hand while pending starts", phase: Pending, manual: &command{kind: cmdPromote}, want: ActStart, phaseTo: Pending, reason: "started by hand"},
		{name: "promote --full while pending finishes", phase: Pending, manual: &command{kind: cmdPromote, full: true}, want: ActFinish, phaseTo: Pending, reason: "promote --full"},
		{name: "promote by hand advances one step", phase: Progressing, step: 1, report: report(gates.Fail, "bad"), manual: &command{kind: cmdPromote}, want: ActPromote, phaseTo: Progressing, reason: "advanced by hand"},
		{name: "promote by hand at the last step finishes", phase: Progressing, step: 3, manual: &command{kind: cmdPromote}, want: ActFinish, phaseTo: Progressing, reason: "promoted by hand"},
		{name: "promote --full while progressing finishes", phase: Progressing, step: 1, manual: &command{kind: cmdPromote, full: true}, want: ActFinish, phaseTo: Progressing},
		{name: "promote by hand when idle is refused", phase: Idle, manual: &command{kind: cmdPromote}, want: ActNone, phaseTo: Idle, errText: "is Idle: there is nothing to promote"},
		{name: "promote by hand when rolled back is refused", phase: RolledBack, manual: &command{kind: cmdPromote}, want: ActNone, phaseTo: RolledBack, errText: "nothing to promote"},
		{name: "start of a new image when idle", phase: Idle, manual: &command{kind: cmdStart, image: "myapp:v3"}, want: ActSetImage, phaseTo: Idle, reason: "start a canary of myapp:v3 (stable: myapp:v1)"},
		{name: "start of the stable image is refused", phase: Idle, manual: &command{kind: cmdStart, image: "myapp:v1"}, want: ActNone, phaseTo: Idle, errText: "myapp:v1 is the stable image"},
		{name: "start of the image in flight is refused", phase: Progressing, step: 1, manual: &command{kind: cmdStart, image: "myapp:v3"}, want: ActNone, phaseTo: Progressing, err: ErrInFlight},
		{name: "start --force replaces the image in flight", phase: Progressing, step: 1, manual: &command{kind: cmdStart, image: "myapp:v3", force: true}, want: ActSetImage, phaseTo: Progressing, reason: "forced: replaces myapp:v2"},
		{name: "start of the image promoter start committed does nothing", phase: Pending, pinned: "myapp:v2", manual: &command{kind: cmdStart, image: "myapp:v2"}, want: ActNone, phaseTo: Pending, reason: "myapp:v2 is already the canary"},
		{name: "start of the rolled-back image starts it again", phase: RolledBack, pinned: "myapp:v2", manual: &command{kind: cmdStart, image: "myapp:v2"}, want: ActSetImage, phaseTo: RolledBack},
		{name: "start of a base-edited pending image pins it", phase: Pending, manual: &command{kind: cmdStart, image: "myapp:v2"}, want: ActSetImage, phaseTo: Pending},
	}
	if len(rows) < 40 {
		t.Fatalf("%d rows; the table covers at least 40 cases", len(rows))
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			st := decideState(r.phase, r.step, now.Add(-r.live))
			st.Drift = r.drift
			st.Committed.CanaryImage = r.pinned
			if r.review {
				st.Canary.Spec.PullRequests.Mode = spec.ModeReview
			}
			s := situation{st: st, report: r.report, synced: !r.unsync, sync: r.sync, hooks: r.hooks, now: now, openPR: r.openPR, manual: r.manual}
			v := decide(s)
			if v.action != r.want || v.phase != r.phaseTo {
				t.Errorf("decide = %s [%s], want %s [%s] (reasons %q, err %v)", v.action, v.phase, r.want, r.phaseTo, v.reasons, v.err)
			}
			if !strings.Contains(strings.Join(v.reasons, "\n"), r.reason) {
				t.Errorf("reasons %q lack %q", v.reasons, r.reason)
			}
			switch {
			case r.err != nil && !errors.Is(v.err, r.err):
				t.Errorf("err %v, want %v", v.err, r.err)
			case r.errText != "" && (v.err == nil || !strings.Contains(v.err.Error(), r.errText)):
				t.Errorf("err %v, want one saying %q", v.err, r.errText)
			case r.err == nil && r.errText == "" && v.err != nil:
				t.Errorf("unexpected err %v", v.err)
			}
			if v.err == nil && v.action != ActNone && v.action != ActHold && changeOf(v.action) == nil {
				t.Errorf("decide chose %s, which no change implements", v.action)
			}
		})
	}
}

// hooksFor asks exactly the webhooks decide will look at.
func TestHooksFor(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pass := &gates.Report{Verdict: gates.Pass}
	tests := []struct {
		name   string
		phase  Phase
		step   int
		live   time.Duration
		report *gates.Report
		review bool
		manual *command
		want   string
	}{
		{"pending: pre-rollout", Pending, 0, 0, nil, false, nil, "pre-rollout"},
		{"idle: none", Idle, 0, 0, nil, false, nil, ""},
		{"holding: rollback", Progressing, 1, time.Minute, pass, false, nil, "rollback"},
		{"promoting: rollback, rollout", Progressing, 1, time.Hour, pass, false, nil, "rollback rollout"},
		{"finishing: rollback, rollout, confirm-promotion", Progressing, 3, time.Hour, pass, false, nil, "rollback rollout confirm-promotion"},
		{"finishing in review mode: no confirm-promotion", Progressing, 3, time.Hour, pass, true, nil, "rollback rollout"},
		{"gates roll back: none", Progressing, 1, time.Hour, &gates.Report{Verdict: gates.Fail, Rollback: true}, false, nil, ""},
		{"not evaluated: none", Progressing, 1, time.Hour, nil, false, nil, ""},
		{"manual: none", Pending, 0, 0, nil, false, &command{kind: cmdPromote}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := decideState(tt.phase, tt.step, now.Add(-tt.live))
			if tt.review {
				st.Canary.Spec.PullRequests.Mode = spec.ModeReview
			}
			got := strings.Join(hooksFor(situation{st: st, report: tt.report, synced: true, now: now, manual: tt.manual}), " ")
			if got != tt.want {
				t.Errorf("hooksFor = %q, want %q", got, tt.want)
			}
		})
	}
}

// decideState is a canary of three steps (10%, 50%, 90%, 30 minutes each)
// in phase, at step when progressing, whose stage went live at since.
func decideState(phase Phase, step int, since time.Time) *State {
	c := &spec.Canary{}
	c.Metadata.Name = "myapp"
	for _, w := range []int{10, 50, 90} {
		c.Spec.Steps = append(c.Spec.Steps, spec.Step{Weight: w, Pause: spec.Duration{Duration: 30 * time.Minute}})
	}
	c.Spec.PullRequests.Mode = spec.ModeAutoMerge
	st := &State{Canary: c, Committed: &render.Committed{}, Revision: "myapp:v2", StableRevision: "myapp:v1", Phase: phase}
	switch phase {
	case Idle, Succeeded:
		st.Revision = st.StableRevision
		if phase == Succeeded {
			st.Committed.Step = 4
		}
	case Progressing:
		st.Committed.Step, st.Committed.Weight, st.Committed.CanaryRevision = step, c.Spec.Steps[step-1].Weight, st.Revision
		st.StageStart, st.CanaryStart = since, since
	case RolledBack:
		st.Committed.Rollback = &render.Rollback{Revision: "myapp:v2", Reason: "gates", At: since}
	}
	return st
}
