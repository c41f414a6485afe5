package mesh

import (
	"math/rand/v2"
	"strconv"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/promoter-dev/promoter/internal/promapi"
)

// Metric names, as Istio's Prometheus integration exposes them.
const (
	MetricRequests = "istio_requests_total"
	MetricDuration = "istio_request_duration_milliseconds"
)

// Response codes: one per outcome.
const (
	codeOK = iota
	codeError
)

var codeLabel = [2]string{"200", "503"}

// serviceSeries holds a service's counters.
type serviceSeries struct {
	svc      Service
	versions [2]*versionSeries // stable, canary
}

func newServiceSeries(s Service) *serviceSeries {
	ss := &serviceSeries{svc: s}
	for i, v := range []Version{s.Stable, s.Canary} {
		ss.versions[i] = newVersionSeries(s, v)
	}
	return ss
}

func (s *serviceSeries) append(app promapi.Appender, ms int64) error {
	for _, v := range s.versions {
		if err := v.append(app, ms); err != nil {
			return err
		}
	}
	return nil
}

// counter is one cumulative series.
type counter struct {
	labels labels.Labels
	ref    storage.SeriesRef
	value  float64
}

func (c *counter) append(app promapi.Appender, ms int64) error {
	ref, err := app.Append(c.ref, c.labels, ms, c.value)
	if err != nil {
		return err
	}
	c.ref = ref
	return nil
}

// codeSeries are one version's series of one response code.
type codeSeries struct {
	requests   counter
	buckets    []counter // le = Buckets..., +Inf; cumulative values
	sum, count counter
	scratch    []int64 // per-bucket counts of one interval
}

// versionSeries are one version's series.
type versionSeries struct {
	codes [2]*codeSeries
}

func newVersionSeries(s Service, v Version) *versionSeries {
	workload := v.Workload
	if workload == "" {
		workload = s.Name + "-" + v.Name
	}
	base := labels.NewBuilder(labels.EmptyLabels())
	reporter := s.Reporter
	if reporter == "" {
		reporter = "destination"
	}
	base.Set("reporter", reporter)
	svc := s.Name
	if v.Service != "" {
		svc = v.Service
	}
	base.Set("destination_service_namespace", s.Namespace)
	base.Set("destination_service_name", svc)
	base.Set("destination_service", svc+"."+s.Namespace+".svc.cluster.local")
	base.Set("destination_workload", workload)
	base.Set("destination_workload_namespace", s.Namespace)
	base.Set("destination_app", s.Name)
	base.Set("destination_version", v.Name)
	base.Set("request_protocol", "http")
	base.Set("response_flags", "-")
	base.Set("connection_security_policy", "mutual_tls")
	if s.SourceWorkload != "" {
		base.Set("source_workload", s.SourceWorkload)
		base.Set("source_workload_namespace", s.Namespace)
	}
	vs := &versionSeries{}
	for c, code := range codeLabel {
		base.Set("response_code", code)
		named := func(name string) counter {
			base.Set(model.MetricNameLabel, name)
			return counter{labels: base.Labels()}
		}
		cs := &codeSeries{
			requests: named(MetricRequests),
			sum:      named(MetricDuration + "_sum"),
			count:    named(MetricDuration + "_count"),
			scratch:  make([]int64, len(Buckets)+1),
		}
		base.Set(model.MetricNameLabel, MetricDuration+"_bucket")
		for i := range len(Buckets) + 1 {
			le := "+Inf"
			if i < len(Buckets) {
				le = strconv.FormatFloat(Buckets[i], 'f', -1, 64)
			}
			base.Set("le", le)
			cs.buckets = append(cs.buckets, counter{labels: base.Labels()})
		}
		base.Del("le")
		vs.codes[c] = cs
	}
	return vs
}

// observe counts n requests of the given code with latencies drawn from lat.
func (v *versionSeries) observe(rng *rand.Rand, code int, n int64, lat latency) {
	if n == 0 {
		return
	}
	cs := v.codes[code]
	clear(cs.scratch)
	multinomial(rng, n, lat.p, cs.scratch)
	cum := int64(0)
	for i, c := range cs.scratch {
		cum += c
		cs.buckets[i].value += float64(cum)
		cs.sum.value += float64(c) * lat.mean[i]
	}
	cs.requests.value += float64(n)
	cs.count.value += float64(n)
}

func (v *versionSeries) append(app promapi.Appender, ms int64) error {
	for _, cs := range v.codes {
		for _, c := range []*counter{&cs.requests, &cs.sum, &cs.count} {
			if err := c.append(app, ms); err != nil {
				return err
			}
		}
		for i := range cs.buckets {
			if err := cs.buckets[i].append(app, ms); err != nil {
				return err
			}
		}
	}
	return nil
}
