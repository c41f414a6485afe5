package gates

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/prometheus/common/model"

	"github.com/promoter-dev/promoter/internal/spec"
)

// Istio's standard metrics.
const (
	metricRequests = "istio_requests_total"
	metricDuration = "istio_request_duration_milliseconds_bucket"
)

// Target says whose metrics a canary's queries select.
type Target struct {
	// Namespace and Service select the destination service; a Service with
	// a dot is taken as a fully qualified host (destination_service).
	Namespace, Service string
	// Name is the canary's name and Workload the canary Deployment (the
	// .Name and .Target of custom query templates).
	Name, Workload string
	// StableVersion and CanaryVersion are the values of Label that tell
	// the versions apart.
	StableVersion, CanaryVersion string
	// Label is the label of Istio's metrics that tells the versions apart:
	// destination_version ("" means it) for a split by subset,
	// destination_service_name for a split by host.
	Label string
	// Reporter is the reporter label of the series: destination ("" means
	// it) for sidecars, waypoint for ambient mode's waypoint proxies.
	Reporter string
}

// Labels of Istio's metrics that tell versions apart.
const (
	LabelVersion = "destination_version"
	LabelService = "destination_service_name"
)

func (t Target) reporter() string {
	if t.Reporter == "" {
		return spec.ReporterDestination
	}
	return t.Reporter
}

func (t Target) label() string {
	if t.Label == "" {
		return LabelVersion
	}
	return t.Label
}

// TargetOf returns the query target of a canary spec.
func TargetOf(c *spec.Canary) Target {
	ns := c.Spec.RouteNamespace()
	if ns == "" {
		ns = c.Metadata.Namespace
	}
	t := Target{
		Namespace:     ns,
		Service:       c.Spec.Host,
		Name:          c.Metadata.Name,
		Workload:      c.Spec.Deployments.Canary,
		StableVersion: c.Spec.Analysis.Versions.Stable,
		CanaryVersion: c.Spec.Analysis.Versions.Canary,
		Reporter:      c.Spec.Analysis.Reporter,
	}
	if c.Spec.HostSplit() {
		// Each version is its own Service: its metrics carry its name.
		t.Label, t.Service = LabelService, ""
		t.StableVersion = cmpOr(c.Spec.Analysis.Versions.Stable, spec.ShortHost(c.Spec.Hosts.Stable))
		t.CanaryVersion = cmpOr(c.Spec.Analysis.Versions.Canary, spec.ShortHost(c.Spec.Hosts.Canary))
	}
	return t
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// quoteLabel returns v as a double-quoted PromQL string literal. Every
// character that could end the literal is escaped, so a value from a spec
// cannot change a query's meaning.
func quoteLabel(v string) string { return strconv.Quote(v) }

// escapeLabel returns v escaped for use between double quotes in a PromQL
// template ("{{ .Namespace }}" inside "...").
func escapeLabel(v string) string {
	q := strconv.Quote(v)
	return q[1 : len(q)-1]
}

// selector returns the label matchers shared by every built-in query.
func (t Target) selector() string {
	var b strings.Builder
	b.WriteString("reporter=" + quoteLabel(t.reporter()))
	versions := regexp.QuoteMeta(t.StableVersion) + "|" + regexp.QuoteMeta(t.CanaryVersion)
	if t.label() == LabelService {
		// A split by host: the two versions are two services.
		fmt.Fprintf(&b, ",destination_service_namespace=%s,destination_service_name=~%s", quoteLabel(t.Namespace), quoteLabel(versions))
		return b.String()
	}
	if strings.Contains(t.Service, ".") {
		fmt.Fprintf(&b, ",destination_service=%s", quoteLabel(t.Service))
	} else {
		fmt.Fprintf(&b, ",destination_service_namespace=%s,destination_service_name=%s", quoteLabel(t.Namespace), quoteLabel(t.Service))
	}
	fmt.Fprintf(&b, ",destination_version=~%s", quoteLabel(versions))
	return b.String()
}

// ValuesQuery lists the values of the label that tells the versions apart
// that the service's requests carried in the window before the query's
// time (for a split by host, every service of the namespace). It is asked
// only when the canary has no series, to name the values that exist.
func (t Target) ValuesQuery(window time.Duration) string {
	var b strings.Builder
	b.WriteString("reporter=" + quoteLabel(t.reporter()))
	switch {
	case t.label() == LabelService:
		fmt.Fprintf(&b, ",destination_service_namespace=%s", quoteLabel(t.Namespace))
	case strings.Contains(t.Service, "."):
		fmt.Fprintf(&b, ",destination_service=%s", quoteLabel(t.Service))
	default:
		fmt.Fprintf(&b, ",destination_service_namespace=%s,destination_service_name=%s", quoteLabel(t.Namespace), quoteLabel(t.Service))
	}
	return fmt.Sprintf("group by (%s) (last_over_time(%s{%s}[%s]))", t.label(), metricRequests, b.String(), promDuration(window))
}

// promDuration formats d the way PromQL writes durations ("5m", "1h30m").
func promDuration(d time.Duration) string { return model.Duration(d).String() }

// podLabel is the label of the pod a series was scraped from, which the
// Kubernetes service discovery of Istio's and the Prometheus Operator's
// scrape configurations add. The counts are kept per pod so that the
// sequential test can estimate their dispersion from stable's pods.
const podLabel = "pod"

// counterIncrease is how much the counters of sel grew over the window
// ending at the evaluation time, per series: the last sample's value minus
// the last sample's before the window, with a series that did not exist
// before the window counted from zero (its first samples are requests
// too, which increase() cannot see), and increase() for a series whose
// counter was reset in the window. Consecutive windows add up to what the
// counters counted, with no extrapolation.
func counterIncrease(sel, window string) string {
	return fmt.Sprintf(`((%[1]s - %[1]s offset %[2]s) >= 0 or (%[1]s unless %[1]s offset %[2]s) or increase(%[1]s[%[2]s]))`, sel, window)
}

// RequestsQuery counts each version's requests over the window, per pod.
func (t Target) RequestsQuery(window time.Duration) string {
	return fmt.Sprintf(`sum by (%s, %s) %s`, t.label(), podLabel, counterIncrease(fmt.Sprintf(`%s{%s}`, metricRequests, t.selector()), promDuration(window)))
}

// ErrorsQuery counts each version's 5xx responses over the window, per pod.
func (t Target) ErrorsQuery(window time.Duration) string {
	return fmt.Sprintf(`sum by (%s, %s) %s`, t.label(), podLabel, counterIncrease(fmt.Sprintf(`%s{%s,response_code=~"5.."}`, metricRequests, t.selector()), promDuration(window)))
}

// BucketsQuery counts each version's requests per latency bucket over the
// window, per pod. Latency quantiles are computed from it with
// [Histogram.Quantile], the algorithm of [QuantileQuery].
func (t Target) BucketsQuery(window time.Duration) string {
	return fmt.Sprintf(`sum by (%s, le, %s) %s`, t.label(), podLabel, counterIncrease(fmt.Sprintf(`%s{%s}`, metricDuration, t.selector()), promDuration(window)))
}

// QuantileQuery is the histogram_quantile query equivalent to computing the
// q-quantile from [Target.BucketsQuery]; reports show it.
func (t Target) QuantileQuery(q float64, window time.Duration) string {
	return fmt.Sprintf(`histogram_quantile(%g, sum by (%s, le) %s)`, q, t.label(), counterIncrease(fmt.Sprintf(`%s{%s}`, metricDuration, t.selector()), promDuration(window)))
}

// templateData is what a custom query template sees. Every string is
// escaped for use inside a double-quoted PromQL string.
type templateData struct {
	Namespace, Name, Service, Target, Interval, StableVersion, CanaryVersion string
}

// Bounds of a custom query template and of what it renders to.
const (
	maxTemplateBytes = 16 << 10
	maxQueryBytes    = 64 << 10
)

// CustomQuery renders a custom gate's query template. Template fields:
// .Namespace .Name .Service .Target .Interval .StableVersion .CanaryVersion.
// Label values are escaped for double-quoted PromQL strings; write
// label="{{ .Namespace }}", never single quotes or backticks.
//
// A template may hold text, comments and those field substitutions only:
// no functions, pipelines, variables, range, with, if or template calls.
// Rendering is then linear in the template's size (at most 16 KiB), so it
// is bounded in time by construction, and its output is bounded too (64
// KiB).
func (t Target) CustomQuery(tmpl string, window time.Duration) (string, error) {
	if len(tmpl) > maxTemplateBytes {
		return "", fmt.Errorf("query template: %d bytes, over the limit of %d", len(tmpl), maxTemplateBytes)
	}
	tp, err := template.New("query").Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return "", fmt.Errorf("query template: %w", err)
	}
	if err := onlyFields(tp.Tree.Root); err != nil {
		return "", fmt.Errorf("query template: %w", err)
	}
	if len(tp.Templates()) > 1 {
		return "", errors.New("query template: define and block are not allowed; give the query inline")
	}
	b := &cappedBuffer{limit: maxQueryBytes}
	err = tp.Execute(b, templateData{
		Namespace:     escapeLabel(t.Namespace),
		Name:          escapeLabel(t.Name),
		Service:       escapeLabel(t.Service),
		Target:        escapeLabel(t.Workload),
		Interval:      promDuration(window),
		StableVersion: escapeLabel(t.StableVersion),
		CanaryVersion: escapeLabel(t.CanaryVersion),
	})
	if err != nil {
		return "", fmt.Errorf("query template: %w", err)
	}
	return b.String(), nil
}

// templateFields are the fields a query template may use.
var templateFields = map[string]bool{
	"Namespace": true, "Name": true, "Service": true, "Target": true, "Interval": true, "StableVersion": true, "CanaryVersion": true,
}

// onlyFields refuses every template construct but text and {{ .Field }}.
func onlyFields(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := onlyFields(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.TextNode, *parse.CommentNode:
		return nil
	case *parse.ActionNode:
		p := n.Pipe
		if len(p.Decl) == 0 && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1 {
			if f, ok := p.Cmds[0].Args[0].(*parse.FieldNode); ok && len(f.Ident) == 1 {
				if !templateFields[f.Ident[0]] {
					return fmt.Errorf("line %d: {{ .%s }} is not a field; use one of .Namespace .Name .Service .Target .Interval .StableVersion .CanaryVersion", n.Line, f.Ident[0])
				}
				return nil
			}
		}
		return fmt.Errorf("line %d: %s: only field substitutions such as {{ .Namespace }} are allowed", n.Line, n)
	}
	return fmt.Errorf("%s: only text and field substitutions such as {{ .Namespace }} are allowed", n)
}

// cappedBuffer fails the write that takes it over limit.
type cappedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, fmt.Errorf("the rendered query is over the limit of %d bytes", b.limit)
	}
	return b.Buffer.Write(p)
}
