// Package spec defines the Canary resource that promoter reads from a GitOps
// repository, its defaults, and its validation.
//
// # Reading specs
//
// [Parse] reads every Canary document from a stream and records, for every
// field, the line it came from, so that [Canary.Validate] can report problems
// as "file:line: field.path: message". [Discover] finds spec files in a
// repository (files named canary.yaml or *.canary.yaml) and [Load] parses and
// validates all of them at once, reporting every problem rather than the
// first.
//
// # Flagger compatibility
//
// The Flagger fields analysis.stepWeight + analysis.maxWeight,
// analysis.stepWeights and analysis.metrics are accepted and normalised into
// [Spec.Steps] and [Analysis.Gates] by [Canary.Normalize]; everything after
// parsing sees only the normalised form.
package spec

import (
	"path"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// APIVersion and Kind identify a Canary document.
const (
	APIVersion = "promoter.dev/v1alpha1"
	Kind       = "Canary"
)

// Canary is one canary: which route to split (a VirtualService's, or a
// Gateway API HTTPRoute's or GRPCRoute's), the weight schedule, and the
// gates that decide each step.
type Canary struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   Metadata `yaml:"metadata"`
	Spec       Spec     `yaml:"spec"`

	// Source is where the document was read from; zero for specs built in code.
	Source Source `yaml:"-"`
}

// Source locates a spec document and each of its fields.
type Source struct {
	// File is the path of the spec file, relative to the repository root.
	File string
	// Line is the line of the document's first key.
	Line int
	// lines maps a field path ("spec.steps[2].weight") to its line.
	lines map[string]int
	// problems are the document's problems of form (unknown fields, wrong
	// types), reported by Validate.
	problems []Problem
}

// LineOf returns the line of the field at path, or of its closest ancestor
// present in the document.
func (s Source) LineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := s.lines[p]; ok {
			return l
		}
	}
	return s.Line
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// Metadata is the subset of Kubernetes object metadata a Canary uses.
type Metadata struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Spec is the desired behaviour of one canary.
type Spec struct {
	// Overlay is the Kustomize overlay (relative to the repository root) whose
	// components list holds the promoter-owned component.
	Overlay        string            `yaml:"overlay"`
	VirtualService VirtualServiceRef `yaml:"virtualService"`
	// Route, when set, names a Gateway API route to split instead of a
	// VirtualService: its kind says which. The split is then one by host
	// (spec.hosts names the two Services of the rule's backendRefs).
	Route RouteRef `yaml:"route,omitempty"`
	// Host is the destination host of both subsets in the split route.
	Host    string  `yaml:"host"`
	Subsets Subsets `yaml:"subsets"`
	// Hosts, when set, makes the split one by host: the route's two
	// destinations are two Services (with or without subsets). Host is
	// then not needed.
	Hosts        Hosts        `yaml:"hosts,omitempty"`
	Deployments  Deployments  `yaml:"deployments"`
	Steps        []Step       `yaml:"steps,omitempty"`
	Analysis     Analysis     `yaml:"analysis"`
	Webhooks     []Webhook    `yaml:"webhooks,omitempty"`
	PullRequests PullRequests `yaml:"pullRequests"`
	Notify       []Notifier   `yaml:"notify,omitempty"`
	// FeatureFlag, when set, ties a flag of a feature-flags ConfigMap to
	// the canary: promoter keeps its rollout_percentage equal to the
	// canary's weight.
	FeatureFlag *FeatureFlag `yaml:"featureFlag,omitempty"`
}

// Defaults of FeatureFlag.
const (
	DefaultFlagConfigMap = "feature-flags"
	DefaultFlagKey       = "flags.json"
)

// FeatureFlag names a flag in the JSON document held under a key of a
// ConfigMap of the overlay: an object of flags, each an object with
// (among any other fields) "enabled" and "rollout_percentage". While the
// canary progresses, promoter's component sets the flag's
// rollout_percentage to the canary's weight, 100 once promoted; before a
// canary starts and after a rollback the value written in the ConfigMap
// applies.
type FeatureFlag struct {
	// Name is the flag's key in the JSON object.
	Name string `yaml:"name"`
	// ConfigMap is the ConfigMap's name (default feature-flags), in the
	// namespace of spec.virtualService.
	ConfigMap string `yaml:"configMap,omitempty"`
	// Key is the ConfigMap's data key holding the JSON (default
	// flags.json).
	Key string `yaml:"key,omitempty"`
}

// VirtualServiceRef names the VirtualService and the HTTP route to split.
type VirtualServiceRef struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
	// Route is the name of the HTTP route to split. Empty means the one route
	// without a match block.
	Route string `yaml:"route,omitempty"`
}

// Route kinds. VirtualService is the default: the kind of a spec without
// spec.route.
const (
	KindVirtualService = "VirtualService"
	KindHTTPRoute      = "HTTPRoute"
	KindGRPCRoute      = "GRPCRoute"
)

// GatewayAPIGroup is the API group of HTTPRoute and GRPCRoute.
const GatewayAPIGroup = "gateway.networking.k8s.io"

// RouteRef names a Gateway API route (gateway.networking.k8s.io/v1) and
// the rule of it to split.
type RouteRef struct {
	// Kind is HTTPRoute or GRPCRoute.
	Kind      string `yaml:"kind"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
	// Rule is the name of the rule to split. Empty means the one rule
	// whose backendRefs name both Services of spec.hosts.
	Rule string `yaml:"rule,omitempty"`
}

// IsZero reports whether no field of the reference is given.
func (r RouteRef) IsZero() bool { return r == RouteRef{} }

// RouteKind is the kind of the route the canary splits: VirtualService
// unless spec.route names a Gateway API route.
func (s *Spec) RouteKind() string {
	if s.Route.IsZero() {
		return KindVirtualService
	}
	return s.Route.Kind
}

// GatewayRoute reports whether the canary splits a Gateway API route.
func (s *Spec) GatewayRoute() bool { return !s.Route.IsZero() }

// RouteName is the name of the route resource the canary splits.
func (s *Spec) RouteName() string {
	if s.GatewayRoute() {
		return s.Route.Name
	}
	return s.VirtualService.Name
}

// RouteNamespace is the namespace of the route resource, where the
// Deployments and Services are too.
func (s *Spec) RouteNamespace() string {
	if s.GatewayRoute() {
		return s.Route.Namespace
	}
	return s.VirtualService.Namespace
}

// RouteField is the spec field that names the route's name, namespace or
// split rule ("rule" for a Gateway API route is "route" of a
// VirtualService): "spec.route.name", "spec.virtualService.route".
func (s *Spec) RouteField(which string) string {
	if s.GatewayRoute() {
		if which == "route" {
			which = "rule"
		}
		return "spec.route." + which
	}
	if which == "rule" {
		which = "route"
	}
	if which == "" {
		return "spec.virtualService"
	}
	return "spec.virtualService." + which
}

// Hosts names the destination hosts of the two versions in a split by host.
type Hosts struct {
	Stable string `yaml:"stable"`
	Canary string `yaml:"canary"`
}

// HostSplit reports whether the route splits by host rather than by
// subset of one host.
func (s *Spec) HostSplit() bool { return s.Hosts.Stable != "" || s.Hosts.Canary != "" }

// ShortHost is a host without its namespace and cluster domain: the
// destination_service_name of its metrics.
func ShortHost(h string) string {
	if i := strings.IndexByte(h, '.'); i >= 0 {
		return h[:i]
	}
	return h
}

// Subsets names the DestinationRule subsets of the two versions.
type Subsets struct {
	Stable string `yaml:"stable"`
	Canary string `yaml:"canary"`
}

// Deployments names the two Deployments and the container whose image is the
// revision.
type Deployments struct {
	Stable    string `yaml:"stable"`
	Canary    string `yaml:"canary"`
	Container string `yaml:"container"`
	// CanaryReplicas is the canary's replica count while it takes traffic.
	// Zero means the replica count of the canary Deployment in the base.
	CanaryReplicas int32 `yaml:"canaryReplicas,omitempty"`
}

// Step is one stage of the weight schedule.
type Step struct {
	// Weight is the canary's share of traffic in percent, 0 < Weight < 100.
	Weight int `yaml:"weight"`
	// Pause is the least time the stage is observed before it may advance.
	Pause Duration `yaml:"pause,omitempty"`
}

// Analysis configures how each stage is judged.
type Analysis struct {
	// Interval is the evaluation grid: gate history is computed on tiles of
	// this length starting at the stage's start.
	Interval Duration `yaml:"interval,omitempty"`
	// Threshold is the number of failed checks tolerated before rollback.
	Threshold int `yaml:"threshold,omitempty"`
	// MinRequests is the number of canary requests a stage needs before any
	// gate can pass.
	MinRequests int `yaml:"minRequests,omitempty"`
	// Lag is how long after a tile's end its counts are trusted to be
	// complete in Prometheus (scrape interval plus ingestion delay); tiles
	// end at now - lag. Default 1m.
	Lag Duration `yaml:"lag,omitempty"`
	// Warmup is the time after the canary starts and after each weight
	// change whose tiles the sequential test reports but leaves out of its
	// latency rollback test (cold caches, JIT). Default one interval; 0s
	// turns it off.
	Warmup Duration `yaml:"warmup,omitempty"`
	// VerifyTraffic makes a stage's clock start only once Prometheus shows
	// the canary's share of requests matching the committed weight.
	VerifyTraffic bool `yaml:"verifyTraffic,omitempty"`
	// SyncStatus makes a stage's clock start only once the commit that
	// landed it (or a later commit of the target branch) carries a
	// successful commit status or check run of a named context: the
	// evidence Argo CD's notifications or Flux's notification-controller
	// post when they applied it. Nil: the clock starts when the commit
	// lands.
	SyncStatus *SyncStatus `yaml:"syncStatus,omitempty"`
	// PromoteWhen is "gates" (default: every gate passes after the pause) or
	// "evidence" (the sequential test also certifies the canary is not much
	// worse than stable).
	PromoteWhen string `yaml:"promoteWhen,omitempty"`
	// Reporter is the reporter label of the Istio metrics the gates read:
	// destination (sidecars) or waypoint (ambient mode's waypoint
	// proxies). Default: waypoint for a Gateway API route, destination
	// for a VirtualService.
	Reporter    string     `yaml:"reporter,omitempty"`
	Versions    Versions   `yaml:"versions"`
	Gates       []Gate     `yaml:"gates,omitempty"`
	RollbackOn  []Gate     `yaml:"rollbackOn,omitempty"`
	Metrics     []Metric   `yaml:"metrics,omitempty"`
	StepWeight  int        `yaml:"stepWeight,omitempty"`
	MaxWeight   int        `yaml:"maxWeight,omitempty"`
	StepWeights []int      `yaml:"stepWeights,omitempty"`
	Templates   []Template `yaml:"templates,omitempty"`
}

// SyncStatus names the commit status or check run that says Argo CD or
// Flux applied a commit.
type SyncStatus struct {
	// Context is a commit status's context or a check run's name, or a
	// pattern of them in path.Match syntax ("kustomization/myapp/*": Flux
	// ends its context with a part of its Provider's UID).
	Context string `yaml:"context"`
	// Timeout is how long after the stage's commit landed the stage waits
	// for the evidence before it is Inconclusive (default 10m).
	Timeout Duration `yaml:"timeout,omitempty"`
}

// DefaultSyncTimeout is analysis.syncStatus.timeout's default.
const DefaultSyncTimeout = 10 * time.Minute

// Matches reports whether a commit status's context or a check run's name
// is the one s names.
func (s *SyncStatus) Matches(context string) bool {
	ok, err := path.Match(s.Context, context)
	return err == nil && ok
}

// Reporters of Istio's standard metrics.
const (
	ReporterDestination = "destination"
	ReporterWaypoint    = "waypoint"
	ReporterSource      = "source"
)

// Versions are the destination_version label values of the two versions in
// Istio's metrics.
type Versions struct {
	Stable string `yaml:"stable"`
	Canary string `yaml:"canary"`
	// Defaulted records that Normalize filled a value in (from the subset
	// or host names): the repository may know better (see
	// render.WithVersions).
	Defaulted bool `yaml:"-" json:"-"`
}

// Gate types.
const (
	GateErrorRate    = "error-rate"
	GateSuccessRate  = "success-rate"
	GateLatency      = "latency"
	GateRequestCount = "request-count"
	GateTrafficShare = "traffic-share"
	GateSequential   = "sequential"
	GateCustom       = "custom"
)

// GateTypes lists the accepted gate types.
var GateTypes = []string{GateErrorRate, GateSuccessRate, GateLatency, GateRequestCount, GateTrafficShare, GateSequential, GateCustom}

// Gate is one promotion criterion (in Analysis.Gates) or rollback trigger (in
// Analysis.RollbackOn).
//
// The meaning of Max and Min depends on Type: a ratio for error-rate and
// success-rate (0.01, or "1%"), a duration for latency ("500ms", or a number
// of milliseconds), a count for request-count, and a plain number for custom.
type Gate struct {
	Name string `yaml:"name,omitempty"`
	Type string `yaml:"type,omitempty"`
	// Max fails the gate when the canary's value is above it.
	Max Quantity `yaml:"max,omitempty"`
	// Min fails the gate when the canary's value is below it.
	Min Quantity `yaml:"min,omitempty"`
	// Quantile is the latency quantile, 0 < Quantile < 1 (default 0.99).
	Quantile float64 `yaml:"quantile,omitempty"`
	// MaxIncrease fails a latency or error-rate gate when the canary is more
	// than this much worse than stable ("10%").
	MaxIncrease Quantity `yaml:"maxIncrease,omitempty"`
	// Alpha is the sequential test's false-rollback bound, 0 < Alpha <= 0.5.
	Alpha float64 `yaml:"alpha,omitempty"`
	// Margin is the tolerated ratio r0 of the sequential test (default 1).
	Margin float64 `yaml:"margin,omitempty"`
	// Tolerance is the traffic-share gate's allowed absolute deviation of the
	// canary's share from the committed weight, in percentage points.
	Tolerance float64 `yaml:"tolerance,omitempty"`
	// Query is a custom PromQL query, a Go template.
	Query string `yaml:"query,omitempty"`
	// Interval is the query window of a custom gate (default: analysis.interval).
	Interval Duration `yaml:"interval,omitempty"`
}

// Metric is a Flagger analysis metric. [Canary.Normalize] turns each into a
// [Gate].
type Metric struct {
	Name           string          `yaml:"name"`
	ThresholdRange *ThresholdRange `yaml:"thresholdRange,omitempty"`
	Interval       Duration        `yaml:"interval,omitempty"`
	Query          string          `yaml:"query,omitempty"`
	TemplateRef    *TemplateRef    `yaml:"templateRef,omitempty"`
}

// ThresholdRange is Flagger's pass range for a metric.
type ThresholdRange struct {
	Min *float64 `yaml:"min,omitempty"`
	Max *float64 `yaml:"max,omitempty"`
}

// TemplateRef names a metric template in Analysis.Templates.
type TemplateRef struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace,omitempty"`
}

// Template is a named PromQL query template, the in-repository counterpart
// of Flagger's MetricTemplate.
type Template struct {
	Name  string `yaml:"name"`
	Query string `yaml:"query"`
}

// Webhook types, with Flagger's meanings.
const (
	WebhookPreRollout       = "pre-rollout"
	WebhookRollout          = "rollout"
	WebhookConfirmPromotion = "confirm-promotion"
	WebhookPostRollout      = "post-rollout"
	WebhookRollback         = "rollback"
)

// Webhook is a Flagger-style HTTP hook; a 2xx answer is a pass.
type Webhook struct {
	Name     string            `yaml:"name"`
	Type     string            `yaml:"type"`
	URL      string            `yaml:"url,omitempty"`
	URLFrom  string            `yaml:"urlFrom,omitempty"`
	Timeout  Duration          `yaml:"timeout,omitempty"`
	Metadata map[string]string `yaml:"metadata,omitempty"`
}

// Pull request modes.
const (
	ModeAutoMerge = "auto-merge"
	ModeReview    = "review"
	ModeDirect    = "direct"
)

// PullRequests says how promoter lands its commits.
type PullRequests struct {
	// Mode is auto-merge (default), review or direct.
	Mode string `yaml:"mode,omitempty"`
	// MergeMethod is merge (default), squash or rebase.
	MergeMethod string   `yaml:"mergeMethod,omitempty"`
	Labels      []string `yaml:"labels,omitempty"`
	Reviewers   []string `yaml:"reviewers,omitempty"`
}

// Notifier is a notification target. URLFrom reads the URL from elsewhere
// ("env:NAME"), so that secrets stay out of the repository.
type Notifier struct {
	Type    string `yaml:"type"`
	URL     string `yaml:"url,omitempty"`
	URLFrom string `yaml:"urlFrom,omitempty"`
}

// Duration is a Go duration written as a string ("30m", "1h30m"). A value
// that does not parse is kept and reported by Validate, so that all problems
// are reported together.
type Duration struct {
	time.Duration
	raw   string
	valid bool
	set   bool
}

// D returns a valid Duration of d.
func D(d time.Duration) Duration {
	return Duration{Duration: d, raw: d.String(), valid: true, set: true}
}

// IsSet reports whether the field was given.
func (d Duration) IsSet() bool { return d.set }

// IsZero reports whether the field was not given (for omitempty).
func (d Duration) IsZero() bool { return !d.set }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	*d = Duration{raw: n.Value, set: true}
	if n.Kind != yaml.ScalarNode {
		d.raw = "<" + kindName(n.Kind) + ">"
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err == nil {
		d.Duration, d.valid = v, true
	}
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) {
	if !d.set {
		return nil, nil
	}
	if d.valid {
		return d.Duration.String(), nil
	}
	return d.raw, nil
}

// Quantity is a threshold written as a number ("0.01"), a percentage ("1%")
// or a duration ("500ms"); which forms are valid depends on the gate type.
type Quantity struct {
	raw string
	set bool
}

// Q returns a Quantity of the given text.
func Q(s string) Quantity { return Quantity{raw: s, set: true} }

// IsSet reports whether the field was given.
func (q Quantity) IsSet() bool { return q.set }

// IsZero reports whether the field was not given (for omitempty).
func (q Quantity) IsZero() bool { return !q.set }

// String returns the quantity as written.
func (q Quantity) String() string { return q.raw }

// UnmarshalYAML implements yaml.Unmarshaler.
func (q *Quantity) UnmarshalYAML(n *yaml.Node) error {
	*q = Quantity{raw: n.Value, set: true}
	if n.Kind != yaml.ScalarNode {
		q.raw = "<" + kindName(n.Kind) + ">"
	}
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (q Quantity) MarshalYAML() (any, error) {
	if !q.set {
		return nil, nil
	}
	if f, err := strconv.ParseFloat(q.raw, 64); err == nil {
		return f, nil
	}
	return q.raw, nil
}

// Number returns the quantity as a plain number; "1%" is 0.01.
func (q Quantity) Number() (float64, bool) {
	s := strings.TrimSpace(q.raw)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		return f / 100, err == nil && finite(f)
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && finite(f)
}

// Duration returns the quantity as a duration; a bare number is milliseconds,
// the unit of Istio's latency metrics.
func (q Quantity) Duration() (time.Duration, bool) {
	s := strings.TrimSpace(q.raw)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Millisecond)), finite(f)
	}
	d, err := time.ParseDuration(s)
	return d, err == nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "scalar"
}
