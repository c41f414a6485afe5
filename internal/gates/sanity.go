package gates

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Impossible data never decides. A count that is NaN, infinite or
// negative, more errors than requests, or latency buckets whose cumulative
// counts fall as le grows cannot come from a working Prometheus and
// exporters: the family is recorded as failed, so every gate that reads it
// is Error (the canary holds; it neither passes nor rolls back), and the
// error names the query and the offending sample.

// ImpossibleDataError is a sample no real traffic produces.
type ImpossibleDataError struct {
	Family MetricFamily
	Query  string
	// Labels and At identify the sample; Value is its value.
	Labels map[string]string
	At     time.Time
	Value  float64
	Reason string
}

func (e *ImpossibleDataError) Error() string {
	return fmt.Sprintf("impossible %s data (%s): sample %s at %s is %s; query: %s",
		e.Family, e.Reason, formatLabels(e.Labels), e.At.UTC().Format(time.RFC3339), strconv.FormatFloat(e.Value, 'g', -1, 64), e.Query)
}

func formatLabels(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(l[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// checkSamples records an ImpossibleDataError in ts.Errs for each family of
// results whose samples of the canary or stable version are impossible.
func checkSamples(ts *TileSet, results map[MetricFamily][]Series, t Target) {
	versions := map[string]bool{t.CanaryVersion: true, t.StableVersion: true}
	for _, f := range []MetricFamily{FamilyRequests, FamilyErrors, FamilyLatency} {
		if ts.Errs[f] != nil {
			continue
		}
		if err := badCount(f, ts.Queries[f], results[f], versions); err != nil {
			ts.Errs[f] = err
		}
	}
	if ts.Errs[FamilyRequests] == nil && ts.Errs[FamilyErrors] == nil {
		if err := errorsAboveRequests(ts.Queries[FamilyErrors], results[FamilyRequests], results[FamilyErrors], t); err != nil {
			ts.Errs[FamilyErrors] = err
		}
	}
	if ts.Errs[FamilyLatency] == nil {
		if err := nonMonotone(ts.Queries[FamilyLatency], results[FamilyLatency], versions); err != nil {
			ts.Errs[FamilyLatency] = err
		}
	}
}

// badCount finds a NaN, infinite or negative count.
func badCount(f MetricFamily, query string, series []Series, versions map[string]bool) error {
	for _, s := range series {
		if !versions[s.Labels["destination_version"]] {
			continue
		}
		for _, p := range s.Points {
			reason := ""
			switch {
			case math.IsNaN(p.V):
				reason = "a count is NaN"
			case math.IsInf(p.V, 0):
				reason = "a count is infinite"
			case p.V < 0:
				reason = "a count is negative"
			}
			if reason != "" {
				return &ImpossibleDataError{Family: f, Query: query, Labels: s.Labels, At: p.T, Value: p.V, Reason: reason}
			}
		}
	}
	return nil
}

// errorsAboveRequests finds a version with more errors than requests at a
// point in time (beyond the slack that extrapolating two series separately
// can leave).
func errorsAboveRequests(query string, requests, errs []Series, t Target) error {
	for _, s := range errs {
		v := s.Labels["destination_version"]
		if v != t.CanaryVersion && v != t.StableVersion {
			continue
		}
		for _, p := range s.Points {
			var n float64
			for _, r := range requests {
				if r.Labels["destination_version"] == v {
					n += valueAt(r, p.T)
				}
			}
			if math.IsNaN(n) {
				n = 0
			}
			if p.V > n+math.Max(1, 0.01*n) {
				return &ImpossibleDataError{Family: FamilyErrors, Query: query, Labels: s.Labels, At: p.T, Value: p.V,
					Reason: fmt.Sprintf("more errors than the %s requests counted", strconv.FormatFloat(n, 'g', -1, 64))}
			}
		}
	}
	return nil
}

// nonMonotone finds cumulative bucket counts that fall as le grows, beyond
// the slack of per-bucket extrapolation (Prometheus's histogram_quantile
// tolerates the same small dips).
func nonMonotone(query string, series []Series, versions map[string]bool) error {
	type bucket struct {
		le float64
		s  Series
		v  float64
		at time.Time
	}
	byKey := map[string][]bucket{}
	for _, s := range series {
		if !versions[s.Labels["destination_version"]] {
			continue
		}
		le, err := strconv.ParseFloat(s.Labels["le"], 64)
		if err != nil {
			continue
		}
		for _, p := range s.Points {
			k := s.Labels["destination_version"] + "@" + strconv.FormatInt(p.T.UnixNano(), 10)
			byKey[k] = append(byKey[k], bucket{le: le, s: s, v: p.V, at: p.T})
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		bs := byKey[k]
		slices.SortFunc(bs, func(a, b bucket) int {
			switch {
			case a.le < b.le:
				return -1
			case a.le > b.le:
				return 1
			}
			return 0
		})
		for i := 1; i < len(bs); i++ {
			prev, cur := bs[i-1].v, bs[i].v
			if cur < prev-math.Max(1, 0.01*prev) {
				return &ImpossibleDataError{Family: FamilyLatency, Query: query, Labels: bs[i].s.Labels, At: bs[i].at, Value: cur,
					Reason: fmt.Sprintf("the bucket le=%s counts fewer observations than le=%s (%s)", bs[i].s.Labels["le"], bs[i-1].s.Labels["le"], strconv.FormatFloat(prev, 'g', -1, 64))}
			}
		}
	}
	return nil
}
