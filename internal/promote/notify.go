package promote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/spec"
)

// Event is what a generic webhook notification carries, and the data of a
// Slack message.
type Event struct {
	Canary         string    `json:"canary"`
	Namespace      string    `json:"namespace"`
	Service        string    `json:"service"`
	Action         Action    `json:"action"`
	Phase          Phase     `json:"phase"`
	FromWeight     int       `json:"fromWeight"`
	Weight         int       `json:"weight"`
	CanaryRevision string    `json:"canaryRevision"`
	StableRevision string    `json:"stableRevision"`
	Reason         string    `json:"reason"`
	Commit         string    `json:"commit,omitempty"`
	PullRequest    string    `json:"pullRequest,omitempty"`
	Verdict        string    `json:"verdict,omitempty"`
	At             time.Time `json:"at"`
}

// notify sends the decision to the canary's notification targets. Failures
// are logged and never fatal; URLs (which hold secrets) are never logged.
func (p *Promoter) notify(ctx context.Context, st *State, d Decision, report *gates.Report) {
	c := st.Canary
	ev := Event{
		Canary: c.Metadata.Name, Namespace: c.Spec.VirtualService.Namespace, Service: c.Spec.Host,
		Action: d.Action, Phase: d.Phase, FromWeight: d.FromWeight, Weight: d.Weight,
		CanaryRevision: d.CanaryRevision, StableRevision: d.StableRevision,
		Reason: strings.Join(d.Reasons, "; "), Commit: d.Commit, PullRequest: d.PullRequest,
		At: p.opts.Clock().UTC(),
	}
	if report != nil {
		ev.Verdict = string(report.Verdict)
	}
	for i, n := range c.Spec.Notify {
		target, err := p.resolveURL(n.URL, n.URLFrom)
		if err != nil {
			p.log.Warn("notification skipped", "canary", c.Metadata.Name, "notify", i, "type", n.Type, "err", err)
			continue
		}
		var payload any = ev
		if n.Type == "slack" {
			payload = slackMessage(ev)
		}
		if err := p.post(ctx, target, payload, 10*time.Second); err != nil {
			p.log.Warn("notification failed", "canary", c.Metadata.Name, "notify", i, "type", n.Type, "err", err)
		}
	}
}

// slackMessage is an incoming-webhook message with the guide's fields.
func slackMessage(ev Event) map[string]any {
	var title, color string
	if ch := changeOf(ev.Action); ch != nil {
		title, color = ch.announce()
	}
	fields := []map[string]any{
		{"title": "Namespace", "value": ev.Namespace, "short": true},
		{"title": "Service", "value": ev.Service, "short": true},
		{"title": "Weights", "value": fmt.Sprintf("canary %d%% -> %d%%", ev.FromWeight, ev.Weight), "short": true},
		{"title": "Revision", "value": ev.CanaryRevision, "short": true},
		{"title": "Reason", "value": ev.Reason, "short": false},
	}
	if link := firstNonEmpty(ev.PullRequest, ev.Commit); link != "" {
		fields = append(fields, map[string]any{"title": "Change", "value": link, "short": false})
	}
	return map[string]any{
		"text": fmt.Sprintf("%s: %s (%s)", title, ev.Canary, ev.CanaryRevision),
		"attachments": []map[string]any{{
			"color": color, "fields": fields, "ts": ev.At.Unix(),
		}},
	}
}

// callHook calls a Flagger-style webhook: a POST of the canary's identity,
// phase and metadata; a 2xx answer passes.
func (p *Promoter) callHook(ctx context.Context, c *spec.Canary, w spec.Webhook, now time.Time) error {
	target, err := p.resolveURL(w.URL, w.URLFrom)
	if err != nil {
		return err
	}
	timeout := w.Timeout.Duration
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	payload := map[string]any{
		"name": c.Metadata.Name, "namespace": c.Spec.VirtualService.Namespace,
		"phase": w.Type, "metadata": w.Metadata, "checkedAt": now.UTC(),
	}
	return p.post(ctx, target, payload, timeout)
}

// resolveURL returns a target URL from url or from urlFrom: env:NAME.
func (p *Promoter) resolveURL(raw, from string) (string, error) {
	if raw != "" {
		return raw, nil
	}
	name, ok := strings.CutPrefix(from, "env:")
	if !ok {
		return "", fmt.Errorf("urlFrom %q is not env:NAME", from)
	}
	v := p.opts.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is not set", name)
	}
	return v, nil
}

// post sends payload as JSON. Errors name the host only: a webhook URL's
// path and query often are the secret.
func (p *Promoter) post(ctx context.Context, target string, payload any, timeout time.Duration) error {
	u, err := url.Parse(target)
	if err != nil {
		return errors.New("invalid URL")
	}
	host := u.Host
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request to %s: invalid", host)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.opts.HTTP.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("POST to %s: timed out after %s", host, timeout)
		}
		return fmt.Errorf("POST to %s failed", host)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST to %s: %s", host, resp.Status)
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
