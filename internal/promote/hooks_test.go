package promote

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/lockdown"
)

// recorder is an HTTP endpoint that answers with status and keeps the
// bodies it received.
type recorder struct {
	mu     sync.Mutex
	status int
	bodies []map[string]any
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	data, _ := io.ReadAll(req.Body)
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	status := r.status
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *recorder) received() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.bodies...)
}

// withSpec edits myapp's canary spec in the harness files.
func withSpec(files map[string]string, from, to string) map[string]string {
	const p = "apps/myapp/canary.yaml"
	files[p] = strings.Replace(files[p], from, to, 1)
	return files
}

func TestSlackNotificationOnStart(t *testing.T) {
	slack := &recorder{status: http.StatusOK}
	srv := httptest.NewServer(slack)
	defer srv.Close()
	secret := srv.URL + "/services/T000/B000/very-secret-key"
	h := newHarness(t, exampleFiles(t, "direct", "myapp"))
	h.env["SLACK_WEBHOOK_URL"] = secret
	pass := h.run(context.Background())
	if d := pass.Decisions[0]; d.Action != ActStart || !d.Landed {
		t.Fatalf("decision %+v", d)
	}
	got := slack.received()
	if len(got) != 1 {
		t.Fatalf("%d Slack messages, want 1", len(got))
	}
	msg, _ := json.Marshal(got[0])
	for _, want := range []string{"Canary started: myapp (myapp:v2.0.0)", `"title":"Namespace","value":"ns-myapp"`, `"title":"Service","value":"myapp"`, "canary 0% -\\u003e 5%", "differs from stable", `"title":"Change"`} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("Slack message lacks %s:\n%s", want, msg)
		}
	}
	if strings.Contains(h.log.String(), "very-secret-key") {
		t.Errorf("the webhook URL reached the logs:\n%s", h.log.String())
	}
}

func TestNotificationFailureIsNotFatal(t *testing.T) {
	down := &recorder{status: http.StatusInternalServerError}
	srv := httptest.NewServer(down)
	defer srv.Close()
	h := newHarness(t, exampleFiles(t, "direct", "myapp"))
	h.env["SLACK_WEBHOOK_URL"] = srv.URL + "/hooks/secret-path"
	d := h.run(context.Background()).Decisions[0]
	if d.Err != nil || !d.Landed {
		t.Fatalf("a failed notification failed the run: %+v", d)
	}
	if !strings.Contains(h.log.String(), "notification failed") || strings.Contains(h.log.String(), "secret-path") {
		t.Errorf("want the failure logged without the URL:\n%s", h.log.String())
	}
}

func TestPreRolloutWebhookGatesTheStart(t *testing.T) {
	hook := &recorder{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	files := withSpec(exampleFiles(t, "direct", "myapp"), "  pullRequests:", "  webhooks:\n    - {name: smoke, type: pre-rollout, url: "+srv.URL+"/smoke, timeout: 5s}\n  pullRequests:")
	h := newHarness(t, files)
	d := h.run(context.Background()).Decisions[0]
	if d.Action != ActHold || d.Landed || !strings.Contains(strings.Join(d.Reasons, "\n"), "webhook smoke") {
		t.Fatalf("a failing pre-rollout hook did not hold the start: %+v", d)
	}
	if got := hook.received(); len(got) != 1 || got[0]["phase"] != "pre-rollout" || got[0]["name"] != "myapp" {
		t.Errorf("hook received %v", got)
	}
	hook.mu.Lock()
	hook.status = http.StatusOK
	hook.mu.Unlock()
	if d := h.run(context.Background()).Decisions[0]; d.Action != ActStart || !d.Landed {
		t.Fatalf("a passing pre-rollout hook did not let it start: %+v", d)
	}
}

// A rollback webhook answering 2xx rolls the canary back (a manual gate),
// even when the gates cannot be evaluated.
func TestRollbackWebhookRollsBack(t *testing.T) {
	hook := &recorder{status: http.StatusNotFound}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	files := withSpec(exampleFiles(t, "direct", "myapp"), "  pullRequests:", "  webhooks:\n    - {name: stop-button, type: rollback, url: "+srv.URL+"/stop}\n  pullRequests:")
	h := newHarness(t, files)
	if d := h.run(context.Background()).Decisions[0]; d.Action != ActStart {
		t.Fatalf("start: %+v", d)
	}
	h.now = h.now.Add(10 * time.Minute)
	if d := h.run(context.Background()).Decisions[0]; d.Action != ActHold {
		t.Fatalf("with the hook answering 404 the canary must hold: %+v", d)
	}
	hook.mu.Lock()
	hook.status = http.StatusOK
	hook.mu.Unlock()
	h.now = h.now.Add(5 * time.Minute)
	d := h.run(context.Background()).Decisions[0]
	if d.Action != ActRollback || !d.Landed || !strings.Contains(strings.Join(d.Reasons, " "), "a rollback webhook asked for a rollback") {
		t.Fatalf("the rollback hook's 200 did not roll back: %+v", d)
	}
}

// A webhook's timeout is its own: a hook given 30s that answers after 11s
// passes. No client-wide cap below the hook's timeout may cut it short.
func TestWebhookTimeoutAboveTenSeconds(t *testing.T) {
	t.Parallel()
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(11 * time.Second):
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(slow)
	defer srv.Close()
	files := withSpec(exampleFiles(t, "direct", "myapp"), "  pullRequests:", "  webhooks:\n    - {name: slow-smoke, type: pre-rollout, url: "+srv.URL+"/smoke, timeout: 30s}\n  pullRequests:")
	h := newHarness(t, files)
	d := h.run(context.Background()).Decisions[0]
	if d.Action != ActStart || !d.Landed {
		t.Fatalf("a pre-rollout hook answering 200 after 11s (timeout 30s) did not let the canary start: %+v", d)
	}
}

// Flagger rolls back when any rollback webhook passes: one hook answering
// 200 is enough, whatever the others answer.
func TestAnyPassingRollbackWebhookRollsBack(t *testing.T) {
	stop := &recorder{status: http.StatusOK}
	idle := &recorder{status: http.StatusNotFound}
	stopSrv, idleSrv := httptest.NewServer(stop), httptest.NewServer(idle)
	defer stopSrv.Close()
	defer idleSrv.Close()
	files := withSpec(exampleFiles(t, "direct", "myapp"), "  pullRequests:",
		"  webhooks:\n    - {name: quiet, type: rollback, url: "+idleSrv.URL+"/quiet}\n    - {name: stop-button, type: rollback, url: "+stopSrv.URL+"/stop}\n  pullRequests:")
	h := newHarness(t, files)
	if d := h.run(context.Background()).Decisions[0]; d.Action != ActStart || !d.Landed {
		t.Fatalf("start: %+v", d)
	}
	h.now = h.now.Add(10 * time.Minute)
	d := h.run(context.Background()).Decisions[0]
	if d.Action != ActRollback || !d.Landed || !strings.Contains(strings.Join(d.Reasons, " "), "stop-button") {
		t.Fatalf("one of two rollback hooks answered 200 and the canary was not rolled back: %+v", d)
	}
	if len(idle.received()) != 1 || len(stop.received()) != 1 {
		t.Errorf("hooks called %d and %d times, want once each", len(idle.received()), len(stop.received()))
	}
}

// promoter's own clients, the Git remote's and the notifications', do not
// use http.DefaultTransport: with it refusing every request (as in the
// locked-down binary) a pass clones, pushes and notifies. Not parallel: it
// swaps the process's default transport for its duration.
func TestPassWithTheDefaultTransportRefusing(t *testing.T) {
	saved, savedClient := http.DefaultTransport, http.DefaultClient
	lockdown.ForbidDefaultHTTP()
	t.Cleanup(func() { http.DefaultTransport, http.DefaultClient = saved, savedClient })
	slack := &recorder{status: http.StatusOK}
	srv := httptest.NewServer(slack)
	defer srv.Close()
	h := newHarness(t, exampleFiles(t, "direct", "myapp"))
	h.env["SLACK_WEBHOOK_URL"] = srv.URL + "/services/T000/B000/key"
	if d := h.run(context.Background()).Decisions[0]; d.Action != ActStart || !d.Landed || d.Err != nil {
		t.Fatalf("decision %+v\n%s", d, h.log.String())
	}
	if got := slack.received(); len(got) != 1 {
		t.Errorf("%d Slack messages, want 1\n%s", len(got), h.log.String())
	}
	if _, err := http.Get(srv.URL); !errors.Is(err, lockdown.ErrRefused) {
		t.Errorf("the default transport was not refusing: %v", err)
	}
}
