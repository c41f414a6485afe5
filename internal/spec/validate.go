package spec

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults applied by Normalize.
const (
	DefaultInterval    = 5 * time.Minute
	DefaultThreshold   = 5
	DefaultMinRequests = 100
	DefaultQuantile    = 0.99
	DefaultAlpha       = 0.05
	DefaultLag         = time.Minute
)

// Normalize fills defaults and turns the Flagger-style fields into Steps and
// Gates. It is idempotent, and it never hides a problem: conflicting
// fields are left for Validate to report.
func (c *Canary) Normalize() {
	s := &c.Spec
	a := &s.Analysis
	if !a.Interval.IsSet() {
		a.Interval = D(DefaultInterval)
	}
	if a.Threshold == 0 {
		a.Threshold = DefaultThreshold
	}
	if iv := a.Interval; iv.valid && iv.Duration > 0 {
		// The defaults follow the interval: a lag of 1m, at most a quarter
		// of the interval, and a warm-up of one interval.
		if !a.Lag.IsSet() {
			a.Lag = D(min(DefaultLag, iv.Duration/4))
		}
		if !a.Warmup.IsSet() {
			a.Warmup = iv
		}
	}
	if a.MinRequests == 0 {
		a.MinRequests = DefaultMinRequests
	}
	if ss := a.SyncStatus; ss != nil && !ss.Timeout.IsSet() {
		ss.Timeout = D(DefaultSyncTimeout)
	}
	if a.PromoteWhen == "" {
		a.PromoteWhen = "gates"
	}
	if a.Reporter == "" {
		// Ambient mode's waypoints, which Gateway API routes configure,
		// report as waypoint; sidecars as destination.
		a.Reporter = ReporterDestination
		if s.GatewayRoute() {
			a.Reporter = ReporterWaypoint
		}
	}
	stable, canary := s.Subsets.Stable, s.Subsets.Canary
	if s.HostSplit() {
		// A split by host tells the versions apart by
		// destination_service_name.
		stable, canary = ShortHost(s.Hosts.Stable), ShortHost(s.Hosts.Canary)
	}
	if a.Versions.Stable == "" {
		a.Versions.Stable, a.Versions.Defaulted = stable, true
	}
	if a.Versions.Canary == "" {
		a.Versions.Canary, a.Versions.Defaulted = canary, true
	}
	if f := s.FeatureFlag; f != nil {
		if f.ConfigMap == "" {
			f.ConfigMap = DefaultFlagConfigMap
		}
		if f.Key == "" {
			f.Key = DefaultFlagKey
		}
	}
	if s.PullRequests.Mode == "" {
		s.PullRequests.Mode = ModeAutoMerge
	}
	if s.PullRequests.MergeMethod == "" {
		s.PullRequests.MergeMethod = "merge"
	}

	// Flagger schedules: pause = interval × threshold.
	pause := D(a.Interval.Duration * time.Duration(a.Threshold))
	if len(s.Steps) == 0 {
		switch {
		case len(a.StepWeights) > 0:
			for _, w := range a.StepWeights {
				s.Steps = append(s.Steps, Step{Weight: w, Pause: pause})
			}
		case a.StepWeight > 0:
			max := a.MaxWeight
			if max == 0 {
				max = 50 // Flagger's default maxWeight
			}
			for w := a.StepWeight; w <= max && w < 100; w += a.StepWeight {
				s.Steps = append(s.Steps, Step{Weight: w, Pause: pause})
			}
		}
	}
	for i := range s.Steps {
		if !s.Steps[i].Pause.IsSet() {
			s.Steps[i].Pause = a.Interval
		}
	}

	// Flagger metrics become gates, once: a normalised spec has no metrics.
	for i, m := range a.Metrics {
		g := metricGate(m, a.Templates)
		c.Source.alias(fmt.Sprintf("spec.analysis.gates[%d]", len(a.Gates)), fmt.Sprintf("spec.analysis.metrics[%d]", i))
		a.Gates = append(a.Gates, g)
	}
	a.Metrics = nil

	for _, gs := range [][]Gate{a.Gates, a.RollbackOn} {
		for i := range gs {
			g := &gs[i]
			if g.Type == "" && g.Query != "" {
				g.Type = GateCustom
			}
			if g.Name == "" {
				g.Name = g.Type
			}
			if g.Type == GateLatency && g.Quantile == 0 {
				g.Quantile = DefaultQuantile
			}
			if g.Type == GateSequential && g.Alpha == 0 {
				g.Alpha = DefaultAlpha
			}
			if g.Type == GateSequential && g.Margin == 0 {
				g.Margin = 1
			}
		}
	}
}

// alias makes field path to report at the line of from, for gates that
// were written as Flagger metrics.
func (s Source) alias(to, from string) {
	if s.lines == nil {
		return
	}
	for p, l := range s.lines {
		if p == from || strings.HasPrefix(p, from+".") || strings.HasPrefix(p, from+"[") {
			s.lines[to+strings.TrimPrefix(p, from)] = l
		}
	}
}

// metricGate maps a Flagger metric onto a gate. Flagger's built-ins are a
// success rate in percent and a p99 duration in milliseconds.
func metricGate(m Metric, templates []Template) Gate {
	g := Gate{Name: m.Name, Interval: m.Interval}
	r := m.ThresholdRange
	num := func(f *float64, scale float64) Quantity {
		if f == nil {
			return Quantity{}
		}
		return Q(fmt.Sprint(*f * scale))
	}
	switch m.Name {
	case "request-success-rate":
		g.Type = GateSuccessRate
		if r != nil {
			g.Min, g.Max = num(r.Min, 0.01), num(r.Max, 0.01)
		}
	case "request-duration":
		g.Type = GateLatency
		g.Quantile = DefaultQuantile
		if r != nil {
			g.Min, g.Max = num(r.Min, 1), num(r.Max, 1)
		}
	default:
		g.Type = GateCustom
		g.Query = m.Query
		if m.TemplateRef != nil {
			for _, t := range templates {
				if t.Name == m.TemplateRef.Name {
					g.Query = t.Query
				}
			}
		}
		if r != nil {
			g.Min, g.Max = num(r.Min, 1), num(r.Max, 1)
		}
	}
	return g
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// dnsSubdomain is a Kubernetes object name (RFC 1123 subdomain).
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// configMapKey is what Kubernetes accepts as a ConfigMap data key.
var configMapKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// Validate reports every problem of a normalised spec at once, as a
// *ValidationError; nil when the spec is valid.
func (c *Canary) Validate() error {
	v := validator{src: c.Source, problems: slices.Clone(c.Source.problems)}
	s := &c.Spec
	a := &s.Analysis

	if c.APIVersion != APIVersion {
		v.add("apiVersion", "%q is not supported; use %s", c.APIVersion, APIVersion)
	}
	switch name := c.Metadata.Name; {
	case name == "":
		v.add("metadata.name", "required")
	case len(name) > 63 || !dnsLabel.MatchString(name):
		v.add("metadata.name", "%q must be a DNS label (lower case letters, digits and '-', at most 63)", name)
	}

	switch {
	case s.Overlay == "":
		v.add("spec.overlay", "required")
	case path.IsAbs(s.Overlay) || strings.HasPrefix(s.Overlay, `\`) || (len(s.Overlay) > 1 && s.Overlay[1] == ':'):
		v.add("spec.overlay", "%q must be relative to the repository root", s.Overlay)
	case !inside(s.Overlay):
		v.add("spec.overlay", "%q leaves the repository", s.Overlay)
	}
	if s.GatewayRoute() {
		v.gatewayRoute(c)
	} else {
		v.required("spec.virtualService.name", s.VirtualService.Name)
		v.required("spec.virtualService.namespace", s.VirtualService.Namespace)
	}
	// Kubernetes refuses these names, so Istio never sees them.
	if ns := s.RouteNamespace(); ns != "" && (len(ns) > 63 || !dnsLabel.MatchString(ns)) {
		v.add(s.RouteField("namespace"), "%q must be a DNS label (lower case letters, digits and '-', at most 63)", ns)
	}
	for field, name := range map[string]string{
		s.RouteField("name"): s.RouteName(), "spec.deployments.stable": s.Deployments.Stable, "spec.deployments.canary": s.Deployments.Canary,
	} {
		if name != "" && (len(name) > 253 || !dnsSubdomain.MatchString(name)) {
			v.add(field, "%q must be a DNS subdomain (lower case letters, digits, '-' and '.', at most 253)", name)
		}
	}
	if s.HostSplit() {
		v.required("spec.hosts.stable", s.Hosts.Stable)
		v.required("spec.hosts.canary", s.Hosts.Canary)
		if s.Hosts.Stable != "" && s.Hosts.Stable == s.Hosts.Canary {
			v.add("spec.hosts.canary", "must differ from spec.hosts.stable (give the same host with spec.host and spec.subsets for a split by subset)")
		}
		if (s.Subsets.Stable == "") != (s.Subsets.Canary == "") {
			v.add("spec.subsets", "give both subsets or neither")
		}
	} else if !s.GatewayRoute() {
		v.required("spec.host", s.Host)
		v.requiredHint("spec.subsets.stable", s.Subsets.Stable)
		v.requiredHint("spec.subsets.canary", s.Subsets.Canary)
	}
	if s.Subsets.Stable != "" && s.Subsets.Stable == s.Subsets.Canary {
		v.add("spec.subsets.canary", "must differ from spec.subsets.stable")
	}
	v.required("spec.deployments.stable", s.Deployments.Stable)
	v.required("spec.deployments.canary", s.Deployments.Canary)
	v.required("spec.deployments.container", s.Deployments.Container)
	if s.Deployments.Stable != "" && s.Deployments.Stable == s.Deployments.Canary {
		v.add("spec.deployments.canary", "must differ from spec.deployments.stable")
	}
	if s.Deployments.CanaryReplicas < 0 {
		v.add("spec.deployments.canaryReplicas", "%d is negative", s.Deployments.CanaryReplicas)
	}

	if f := s.FeatureFlag; f != nil {
		v.required("spec.featureFlag.name", f.Name)
		if f.ConfigMap != "" && (len(f.ConfigMap) > 253 || !dnsSubdomain.MatchString(f.ConfigMap)) {
			v.add("spec.featureFlag.configMap", "%q must be a DNS subdomain (lower case letters, digits, '-' and '.', at most 253)", f.ConfigMap)
		}
		if f.Key != "" && (len(f.Key) > 253 || !configMapKey.MatchString(f.Key)) {
			v.add("spec.featureFlag.key", "%q is not a ConfigMap data key (letters, digits, '-', '_' and '.')", f.Key)
		}
	}
	v.steps(c)
	v.duration("spec.analysis.interval", a.Interval, true)
	v.nonNegativeDuration("spec.analysis.lag", a.Lag)
	v.nonNegativeDuration("spec.analysis.warmup", a.Warmup)
	if a.Lag.valid && a.Interval.valid && a.Interval.Duration > 0 && a.Lag.Duration >= a.Interval.Duration {
		v.add("spec.analysis.lag", "%q must be shorter than spec.analysis.interval (%s)", a.Lag.raw, a.Interval.raw)
	}
	if a.Threshold < 0 {
		v.add("spec.analysis.threshold", "%d is negative", a.Threshold)
	}
	if a.MinRequests < 0 {
		v.add("spec.analysis.minRequests", "%d is negative", a.MinRequests)
	}
	if a.PromoteWhen != "gates" && a.PromoteWhen != "evidence" {
		v.add("spec.analysis.promoteWhen", "%q must be gates or evidence", a.PromoteWhen)
	}
	switch a.Reporter {
	case ReporterDestination, ReporterWaypoint, ReporterSource:
	default:
		v.add("spec.analysis.reporter", "%q must be destination (sidecars), waypoint (ambient mode's waypoints) or source", a.Reporter)
	}
	for i := range a.Gates {
		v.gate(fmt.Sprintf("spec.analysis.gates[%d]", i), &a.Gates[i], false)
	}
	for i := range a.RollbackOn {
		v.gate(fmt.Sprintf("spec.analysis.rollbackOn[%d]", i), &a.RollbackOn[i], true)
	}
	v.unique("spec.analysis.gates", a.Gates)
	if ss := a.SyncStatus; ss != nil {
		v.syncStatus(ss)
	}

	for i, w := range s.Webhooks {
		p := fmt.Sprintf("spec.webhooks[%d]", i)
		v.required(p+".name", w.Name)
		if !slices.Contains([]string{WebhookPreRollout, WebhookRollout, WebhookConfirmPromotion, WebhookPostRollout, WebhookRollback}, w.Type) {
			v.add(p+".type", "%q must be one of pre-rollout, rollout, confirm-promotion, post-rollout, rollback", w.Type)
		}
		v.url(p, w.URL, w.URLFrom)
		v.duration(p+".timeout", w.Timeout, false)
	}
	switch s.PullRequests.Mode {
	case ModeAutoMerge, ModeReview, ModeDirect:
	default:
		v.add("spec.pullRequests.mode", "%q must be auto-merge, review or direct", s.PullRequests.Mode)
	}
	switch s.PullRequests.MergeMethod {
	case "merge", "squash", "rebase":
	default:
		v.add("spec.pullRequests.mergeMethod", "%q must be merge, squash or rebase", s.PullRequests.MergeMethod)
	}
	for i, n := range s.Notify {
		p := fmt.Sprintf("spec.notify[%d]", i)
		if n.Type != "slack" && n.Type != "webhook" {
			v.add(p+".type", "%q must be slack or webhook", n.Type)
		}
		v.url(p, n.URL, n.URLFrom)
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

// gatewayRoute checks spec.route: a Gateway API route splits between two
// Services, named by spec.hosts, and has neither a VirtualService nor
// subsets.
func (v *validator) gatewayRoute(c *Canary) {
	s := &c.Spec
	switch s.Route.Kind {
	case KindHTTPRoute, KindGRPCRoute:
	case "":
		v.add("spec.route.kind", "required: HTTPRoute or GRPCRoute")
	case KindVirtualService:
		v.add("spec.route.kind", "a VirtualService is named by spec.virtualService; spec.route names a Gateway API route: HTTPRoute or GRPCRoute")
	default:
		v.add("spec.route.kind", "%q must be HTTPRoute or GRPCRoute", s.Route.Kind)
	}
	v.required("spec.route.name", s.Route.Name)
	v.required("spec.route.namespace", s.Route.Namespace)
	if s.VirtualService != (VirtualServiceRef{}) {
		v.add("spec.virtualService", "give either spec.virtualService or spec.route, not both")
	}
	if s.Host != "" {
		v.add("spec.host", "a Gateway API route splits between two Services: name them in spec.hosts.stable and spec.hosts.canary instead")
	}
	if s.Subsets.Stable != "" || s.Subsets.Canary != "" {
		v.add("spec.subsets", "a Gateway API route's backendRefs have no subsets: remove spec.subsets and name the two Services in spec.hosts")
	}
	if !s.HostSplit() {
		v.add("spec.hosts", "required for a Gateway API route: the Services of the stable and canary backendRefs of %s %s (spec.hosts.stable, spec.hosts.canary)", s.Route.Kind, s.Route.Name)
	}
	for _, h := range []struct{ field, name string }{{"spec.hosts.stable", s.Hosts.Stable}, {"spec.hosts.canary", s.Hosts.Canary}} {
		if h.name != "" && (len(h.name) > 63 || !dnsLabel.MatchString(h.name)) {
			v.add(h.field, "%q must be the name of a Service in %s (a DNS label), as the route's backendRefs name it", h.name, s.Route.Namespace)
		}
	}
}

func (v *validator) steps(c *Canary) {
	s := &c.Spec
	a := &s.Analysis
	flagger := a.StepWeight != 0 || a.MaxWeight != 0 || len(a.StepWeights) > 0
	if flagger && c.Source.lines != nil && c.Source.lines["spec.steps"] != 0 {
		v.add("spec.steps", "give either steps or analysis.stepWeight/maxWeight/stepWeights, not both")
	}
	if a.StepWeight != 0 && len(a.StepWeights) > 0 {
		v.add("spec.analysis.stepWeights", "give either stepWeights or stepWeight, not both")
	}
	if a.StepWeight < 0 || a.StepWeight >= 100 {
		v.add("spec.analysis.stepWeight", "%d is outside 1..99", a.StepWeight)
	}
	if a.MaxWeight < 0 || a.MaxWeight > 100 {
		v.add("spec.analysis.maxWeight", "%d is outside 1..100", a.MaxWeight)
	}
	if len(s.Steps) == 0 {
		v.add("spec.steps", "required: at least one step")
		return
	}
	field := "spec.steps[%d]"
	if len(a.StepWeights) > 0 {
		field = "spec.analysis.stepWeights[%d]"
	}
	prev := 0
	for i, st := range s.Steps {
		p := fmt.Sprintf(field, i)
		wp := p + ".weight"
		if len(a.StepWeights) > 0 {
			wp = p
		}
		switch {
		case st.Weight <= 0:
			v.add(wp, "%d must be above 0", st.Weight)
		case st.Weight >= 100:
			v.add(wp, "%d is not under 100 (promotion to 100%% follows the last step)", st.Weight)
		case st.Weight <= prev:
			v.add(wp, "%d does not increase on the previous step's %d", st.Weight, prev)
		}
		prev = max(prev, st.Weight)
		if len(a.StepWeights) == 0 && a.StepWeight == 0 {
			v.duration(p+".pause", st.Pause, false)
		}
	}
}

func (v *validator) gate(p string, g *Gate, trigger bool) {
	if !slices.Contains(GateTypes, g.Type) {
		if g.Type == "" {
			v.add(p+".type", "required (one of %s), or give a query", strings.Join(GateTypes, ", "))
		} else {
			v.add(p+".type", "%q is not one of %s", g.Type, strings.Join(GateTypes, ", "))
		}
		return
	}
	if trigger && (g.Type == GateSequential || g.Type == GateTrafficShare) {
		v.add(p+".type", "%s cannot be a rollback trigger", g.Type)
	}
	v.duration(p+".interval", g.Interval, false)
	ratio := func(field string, q Quantity) {
		if !q.IsSet() {
			return
		}
		f, ok := q.Number()
		if !ok {
			v.add(p+"."+field, "%q is not a number or percentage", q.String())
		} else if f < 0 || f > 1 {
			v.add(p+"."+field, "%q is outside 0..1 (or 0%%..100%%)", q.String())
		}
	}
	number := func(field string, q Quantity) {
		if _, ok := q.Number(); q.IsSet() && !ok {
			v.add(p+"."+field, "%q is not a number", q.String())
		}
	}
	needBound := func() {
		if !g.Max.IsSet() && !g.Min.IsSet() && !g.MaxIncrease.IsSet() {
			v.add(p, "a %s gate needs max, min or maxIncrease", g.Type)
		}
	}
	switch g.Type {
	case GateErrorRate, GateSuccessRate:
		ratio("max", g.Max)
		ratio("min", g.Min)
		number("maxIncrease", g.MaxIncrease)
		needBound()
	case GateLatency:
		for field, q := range map[string]Quantity{"max": g.Max, "min": g.Min} {
			if d, ok := q.Duration(); q.IsSet() && (!ok || d <= 0) {
				v.add(p+"."+field, "%q is not a positive duration (\"500ms\") or number of milliseconds", q.String())
			}
		}
		number("maxIncrease", g.MaxIncrease)
		if g.Quantile <= 0 || g.Quantile >= 1 {
			v.add(p+".quantile", "%v is outside (0, 1)", g.Quantile)
		}
		needBound()
	case GateRequestCount, GateCustom:
		number("max", g.Max)
		number("min", g.Min)
		if g.Type == GateCustom {
			v.required(p+".query", g.Query)
		}
		needBound()
	case GateSequential:
		if g.Alpha <= 0 || g.Alpha > 0.5 {
			v.add(p+".alpha", "%v is outside (0, 0.5]", g.Alpha)
		}
		if g.Margin < 1 {
			v.add(p+".margin", "%v is below 1 (the tolerated canary/stable rate ratio)", g.Margin)
		}
	case GateTrafficShare:
		if g.Tolerance < 0 || g.Tolerance >= 100 {
			v.add(p+".tolerance", "%v is outside 0..100 percentage points", g.Tolerance)
		}
	}
	if f, ok := g.MaxIncrease.Number(); g.MaxIncrease.IsSet() && ok && f < 0 {
		v.add(p+".maxIncrease", "%q is negative", g.MaxIncrease.String())
	}
}

func (v *validator) unique(p string, gs []Gate) {
	seen := map[string]bool{}
	for i, g := range gs {
		if seen[g.Name] {
			v.add(fmt.Sprintf("%s[%d].name", p, i), "%q is used by another gate", g.Name)
		}
		seen[g.Name] = true
	}
}

func (v *validator) url(p, url, from string) {
	switch {
	case url == "" && from == "":
		v.add(p+".url", "required: url or urlFrom")
	case url != "" && from != "":
		v.add(p+".urlFrom", "give url or urlFrom, not both")
	case url != "" && !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://"):
		v.add(p+".url", "%q is not an http(s) URL", url)
	case from != "" && !strings.HasPrefix(from, "env:"):
		v.add(p+".urlFrom", "%q must be env:NAME", from)
	}
}

type validator struct {
	src      Source
	problems []Problem
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.src.File, Line: v.src.LineOf(field), Field: field, Message: fmt.Sprintf(format, args...)})
}

// requiredHint is required for a subset, pointing at a split by host.
func (v *validator) requiredHint(field, value string) {
	if strings.TrimSpace(value) == "" {
		v.add(field, "required (for a split by host, between two Services, give spec.hosts.stable and spec.hosts.canary instead)")
	}
}

func (v *validator) required(field, value string) {
	if strings.TrimSpace(value) == "" {
		v.add(field, "required")
	}
}

func (v *validator) duration(field string, d Duration, required bool) {
	switch {
	case !d.IsSet():
		if required {
			v.add(field, "required")
		}
	case !d.valid:
		v.add(field, "%q is not a duration (use Go durations such as 30s, 5m, 1h30m)", d.raw)
	case d.Duration <= 0:
		v.add(field, "%q must be positive", d.raw)
	}
}

// syncStatus checks analysis.syncStatus.
func (v *validator) syncStatus(ss *SyncStatus) {
	const p = "spec.analysis.syncStatus"
	switch c := ss.Context; {
	case strings.TrimSpace(c) == "":
		v.add(p+".context", "required: the context of the commit status (or the name of the check run) that says the commit was applied, such as continuous-delivery/myapp (Argo CD) or kustomization/myapp/* (Flux)")
	case c != strings.TrimSpace(c):
		v.add(p+".context", "%q has leading or trailing spaces", c)
	case len(c) > 255:
		v.add(p+".context", "is %d characters; GitHub keeps at most 255", len(c))
	default:
		if _, err := path.Match(c, ""); err != nil {
			v.add(p+".context", "%q is not a pattern (path.Match syntax: * matches any characters but /, ? one, [a-z] a class; \\ quotes)", c)
		}
	}
	v.duration(p+".timeout", ss.Timeout, false)
}

// nonNegativeDuration checks an optional duration that may be 0s.
func (v *validator) nonNegativeDuration(field string, d Duration) {
	switch {
	case !d.IsSet():
	case !d.valid:
		v.add(field, "%q is not a duration (use Go durations such as 30s, 5m, 1h30m)", d.raw)
	case d.Duration < 0:
		v.add(field, "%q is negative", d.raw)
	}
}

// inside reports whether a relative slash path stays inside its root.
func inside(p string) bool {
	clean := path.Clean(p)
	return clean != ".." && !strings.HasPrefix(clean, "../")
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
