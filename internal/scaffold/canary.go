package scaffold

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/promoter-dev/promoter/internal/spec"
)

// newCanary is the Canary spec of the application: the guide's schedule
// (5% for 30 min, 10% for 1 h, 25% for 2 h, 50% for 4 h, 75% for 2 h, then
// promotion), its promotion criteria (error rate under 1%, p99 under
// 500 ms and no more than 10% over stable, at least 1000 requests, and the
// sequential canary-vs-stable test) and its rollback triggers (error rate
// over 5%, p99 over 2 s, success rate under 90%).
func newCanary(o *Options) *spec.Canary {
	c := &spec.Canary{APIVersion: spec.APIVersion, Kind: spec.Kind}
	c.Metadata.Name = o.Name
	s := &c.Spec
	s.Overlay = o.overlayDir()
	s.VirtualService = spec.VirtualServiceRef{Name: o.vsName(), Namespace: o.Namespace, Route: splitRoute}
	s.Host = o.Name
	s.Subsets = spec.Subsets{Stable: subsetStable, Canary: subsetCanary}
	if o.hostSplit() {
		s.Host, s.Subsets = "", spec.Subsets{}
		s.Hosts = spec.Hosts{Stable: o.stableName(), Canary: o.canaryName()}
	}
	if o.ambient() {
		s.VirtualService = spec.VirtualServiceRef{}
		s.Route = spec.RouteRef{Kind: spec.KindHTTPRoute, Name: o.Name, Namespace: o.Namespace, Rule: splitRoute}
	}
	s.Deployments = spec.Deployments{Stable: o.stableName(), Canary: o.canaryName(), Container: o.Name}
	for _, st := range []struct {
		weight int
		pause  time.Duration
	}{{5, 30 * time.Minute}, {10, time.Hour}, {25, 2 * time.Hour}, {50, 4 * time.Hour}, {75, 2 * time.Hour}} {
		s.Steps = append(s.Steps, spec.Step{Weight: st.weight, Pause: spec.D(st.pause)})
	}
	a := &s.Analysis
	a.Interval, a.Threshold, a.MinRequests = spec.D(5*time.Minute), 5, 1000
	a.Versions = spec.Versions{Stable: stableVersion, Canary: canaryVersion}
	if o.hostSplit() {
		// Istio's metrics tell the Services apart by destination_service_name.
		a.Versions = spec.Versions{Stable: o.stableName(), Canary: o.canaryName()}
	}
	a.Gates = []spec.Gate{
		{Name: "error-rate", Type: spec.GateErrorRate, Max: spec.Q("0.01")},
		{Name: "p99-latency", Type: spec.GateLatency, Quantile: 0.99, Max: spec.Q("500ms")},
		{Name: "p99-vs-stable", Type: spec.GateLatency, Quantile: 0.99, MaxIncrease: spec.Q("10%")},
		{Name: "regression", Type: spec.GateSequential, Alpha: 0.05},
	}
	a.RollbackOn = []spec.Gate{
		{Name: "error-rate-critical", Type: spec.GateErrorRate, Max: spec.Q("0.05")},
		{Name: "p99-critical", Type: spec.GateLatency, Quantile: 0.99, Max: spec.Q("2s")},
		{Name: "success-rate-critical", Type: spec.GateSuccessRate, Min: spec.Q("0.90")},
	}
	s.PullRequests = spec.PullRequests{Mode: spec.ModeAutoMerge, MergeMethod: "merge", Labels: []string{"canary"}}
	s.Notify = []spec.Notifier{{Type: "slack", URLFrom: "env:SLACK_WEBHOOK_URL"}}
	s.FeatureFlag = &spec.FeatureFlag{Name: o.flagName()}
	return c
}

const canaryHeader = `The canary of %s: the guide's schedule and success criteria.
This file is read by promoter only; no kustomization lists it.`

// encodeCanary writes the spec with the short entries (subsets, each step
// and gate) on one line each, as people write them.
func encodeCanary(o *Options, c *spec.Canary) ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(c); err != nil {
		return nil, err
	}
	for _, list := range []struct {
		path  string
		gates []spec.Gate
	}{{"spec.analysis.gates", c.Spec.Analysis.Gates}, {"spec.analysis.rollbackOn", c.Spec.Analysis.RollbackOn}} {
		_, l, err := nodeAt(&n, list.path)
		if err != nil {
			return nil, err
		}
		if err := l.Encode(gateViews(list.gates)); err != nil {
			return nil, err
		}
	}
	flow := func(path string) {
		if _, v, err := nodeAt(&n, path); err == nil {
			v.Style = yaml.FlowStyle
		}
	}
	if o.hostSplit() {
		drop(&n, "spec", "host", "subsets")
	}
	if o.ambient() {
		drop(&n, "spec", "virtualService")
	}
	for _, p := range []string{"spec.subsets", "spec.hosts", "spec.deployments", "spec.analysis.versions", "spec.pullRequests.labels", "spec.featureFlag"} {
		flow(p)
	}
	if k, _, err := nodeAt(&n, "spec.featureFlag"); err == nil {
		k.HeadComment = "The flag of base/feature-flags.yaml whose rollout_percentage promoter keeps equal\nto the canary's weight (100 once promoted; as written before a canary and after a rollback)."
	}
	// Durations as people write them: 30m, not 30m0s.
	if _, steps, err := nodeAt(&n, "spec.steps"); err == nil {
		for i, st := range c.Spec.Steps {
			if _, p, err := nodeAt(steps.Content[i], "pause"); err == nil {
				p.Value = shortDuration(st.Pause.Duration)
			}
		}
	}
	if _, iv, err := nodeAt(&n, "spec.analysis.interval"); err == nil {
		iv.Value = shortDuration(c.Spec.Analysis.Interval.Duration)
	}
	for _, list := range []string{"spec.steps", "spec.analysis.gates", "spec.analysis.rollbackOn"} {
		if _, l, err := nodeAt(&n, list); err == nil {
			for i := range l.Content {
				flow(list + "[" + strconv.Itoa(i) + "]")
			}
		}
	}
	return writeNodes(strings.ReplaceAll(canaryHeader, "%s", o.Name), &n)
}

// gateView writes a gate's thresholds. spec.Quantity has no IsZero, so
// yaml.v3's omitempty drops it whatever its value; here they are plain
// values.
type gateView struct {
	Name        string     `yaml:"name,omitempty"`
	Type        string     `yaml:"type,omitempty"`
	Quantile    float64    `yaml:"quantile,omitempty"`
	Max         *yaml.Node `yaml:"max,omitempty"`
	Min         *yaml.Node `yaml:"min,omitempty"`
	MaxIncrease *yaml.Node `yaml:"maxIncrease,omitempty"`
	Alpha       float64    `yaml:"alpha,omitempty"`
}

func gateViews(gs []spec.Gate) []gateView {
	// A quantity is written as given: 0.90 stays 0.90, 10% stays 10%.
	q := func(q spec.Quantity) *yaml.Node {
		if !q.IsSet() {
			return nil
		}
		tag := "!!str"
		if _, err := strconv.ParseFloat(q.String(), 64); err == nil {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: q.String()}
	}
	var out []gateView
	for _, g := range gs {
		out = append(out, gateView{
			Name: g.Name, Type: g.Type, Quantile: g.Quantile, Alpha: g.Alpha,
			Max: q(g.Max), Min: q(g.Min), MaxIncrease: q(g.MaxIncrease),
		})
	}
	return out
}

// shortDuration writes d without zero minutes and seconds: 1h, 30m, 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }

// sanitize makes s usable in a route or resource name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}

// drop removes keys from the mapping at path p of n.
func drop(n *yaml.Node, p string, keys ...string) {
	_, m, err := nodeAt(n, p)
	if err != nil || m.Kind != yaml.MappingNode {
		return
	}
	var kept []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !slices.Contains(keys, m.Content[i].Value) {
			kept = append(kept, m.Content[i], m.Content[i+1])
		}
	}
	m.Content = kept
}
