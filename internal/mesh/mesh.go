package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/promoter-dev/promoter/internal/promapi"
)

// Version is one version of a service.
type Version struct {
	// Name is the destination_version label value, e.g. "v1".
	Name string
	// Workload is the destination_workload label value; default
	// "<service>-<version name>".
	Workload string
	// Service, when set, is the version's own destination_service_name
	// (a split by host, one Service per version); default the Service's.
	Service string
	// Health is how the version answers; HealthAt, when set, overrides it
	// with a function of time.
	Health   Health
	HealthAt func(t time.Time) Health
}

func (v Version) healthAt(t time.Time) Health {
	if v.HealthAt != nil {
		return v.HealthAt(t)
	}
	return v.Health
}

// Service is one destination service with a stable and a canary version.
type Service struct {
	// Namespace and Name are destination_service_namespace and
	// destination_service_name.
	Namespace, Name string
	Stable, Canary  Version
	// RPS is the total request rate in requests per second; RPSAt, when
	// set, overrides it with a function of time.
	RPS   float64
	RPSAt func(t time.Time) float64
	// Weight returns the canary's share of the traffic at t in percent,
	// clamped to [0, 100]; nil sends everything to stable. It is called
	// once per scrape interval, so it should be cheap.
	Weight func(t time.Time) int
	// SourceWorkload, when set, is the source_workload label value.
	SourceWorkload string
	// Reporter is the reporter label value: destination ("", a sidecar)
	// or waypoint (ambient mode's waypoint proxy, which reports the
	// requests a Gateway API route splits).
	Reporter string
}

func (s Service) rpsAt(t time.Time) float64 {
	if s.RPSAt != nil {
		return s.RPSAt(t)
	}
	return s.RPS
}

func (s Service) weightAt(t time.Time) int {
	if s.Weight == nil {
		return 0
	}
	return min(max(s.Weight(t), 0), 100)
}

// Appender is where the mesh writes samples; [*promapi.Store] is one.
type Appender interface {
	Appender(ctx context.Context) promapi.Appender
}

// Options configure a [Mesh].
type Options struct {
	// Store receives the scraped samples.
	Store Appender
	// Services are the simulated services.
	Services []Service
	// Start is the first scrape, where every counter is zero.
	Start time.Time
	// ScrapeInterval is the time between scrapes (default 15s). A coarser
	// interval is faster to generate; keep it at most a quarter of the
	// shortest query window so increase() sees several samples.
	ScrapeInterval time.Duration
	// Seed seeds the random generator.
	Seed uint64
	// Log receives a debug record per Advance; nil discards.
	Log *slog.Logger
}

// Mesh generates the services' metrics scrape by scrape. It is safe for
// concurrent use.
type Mesh struct {
	opts Options
	log  *slog.Logger
	rng  *rand.Rand

	mu       sync.Mutex
	services []*serviceSeries
	next     int // index of the next scrape to generate
	dists    map[Health]latency
}

// commitEvery bounds how many scrapes one store transaction holds.
const commitEvery = 240

// New returns a mesh that has generated nothing yet; call Advance.
func New(opts Options) (*Mesh, error) {
	if opts.Store == nil {
		return nil, errors.New("mesh: no store")
	}
	if opts.Start.IsZero() {
		return nil, errors.New("mesh: no start time")
	}
	if opts.ScrapeInterval <= 0 {
		opts.ScrapeInterval = 15 * time.Second
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Mesh{opts: opts, log: log, rng: rand.New(rand.NewPCG(opts.Seed, 0x6d657368)), dists: map[Health]latency{}}
	seen := map[string]bool{}
	for i, s := range opts.Services {
		if err := validate(s); err != nil {
			return nil, fmt.Errorf("mesh: service %d: %w", i, err)
		}
		key := s.Namespace + "/" + s.Name
		if seen[key] {
			return nil, fmt.Errorf("mesh: service %s twice", key)
		}
		seen[key] = true
		m.services = append(m.services, newServiceSeries(s))
	}
	return m, nil
}

func validate(s Service) error {
	switch {
	case s.Namespace == "" || s.Name == "":
		return errors.New("namespace and name are required")
	case s.Stable.Name == "" || s.Canary.Name == "":
		return errors.New("stable and canary version names are required")
	case s.Stable.Name == s.Canary.Name && s.Stable.Service == s.Canary.Service:
		return fmt.Errorf("stable and canary are both %q", s.Stable.Name)
	}
	return nil
}

// Generated is the time of the last scrape generated; before the first
// Advance it is the zero time.
func (m *Mesh) Generated() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next == 0 {
		return time.Time{}
	}
	return m.scrapeTime(m.next - 1)
}

func (m *Mesh) scrapeTime(k int) time.Time {
	return m.opts.Start.Add(time.Duration(k) * m.opts.ScrapeInterval)
}

// Advance generates every scrape after the last one generated up to and
// including to. Advancing to a time already generated does nothing. On
// error the samples of the failed transaction are lost and the mesh should
// not be advanced further.
func (m *Mesh) Advance(ctx context.Context, to time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := m.next
	app := m.opts.Store.Appender(ctx)
	pending := 0
	for ; !m.scrapeTime(m.next).After(to); m.next++ {
		if err := ctx.Err(); err != nil {
			return errors.Join(err, app.Rollback())
		}
		if err := m.scrape(app, m.next); err != nil {
			return errors.Join(err, app.Rollback())
		}
		if pending++; pending == commitEvery {
			if err := app.Commit(); err != nil {
				return fmt.Errorf("mesh: commit: %w", err)
			}
			app, pending = m.opts.Store.Appender(ctx), 0
		}
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("mesh: commit: %w", err)
	}
	if m.next > first {
		m.log.DebugContext(ctx, "mesh advanced", "scrapes", m.next-first, "to", m.scrapeTime(m.next-1))
	}
	return nil
}

// scrape generates the traffic of the interval ending at scrape k and
// appends every series' sample at its time.
func (m *Mesh) scrape(app promapi.Appender, k int) error {
	t := m.scrapeTime(k)
	ms := t.UnixMilli()
	for _, s := range m.services {
		if k > 0 {
			mid := t.Add(-m.opts.ScrapeInterval / 2)
			m.traffic(s, mid)
		}
		if err := s.append(app, ms); err != nil {
			return fmt.Errorf("mesh: %s/%s at %s: %w", s.svc.Namespace, s.svc.Name, t.UTC().Format(time.RFC3339), err)
		}
	}
	return nil
}

// traffic draws one interval's requests of a service at time mid.
func (m *Mesh) traffic(s *serviceSeries, mid time.Time) {
	expected := s.svc.rpsAt(mid) * m.opts.ScrapeInterval.Seconds()
	canaryShare := float64(s.svc.weightAt(mid)) / 100
	for i, v := range []Version{s.svc.Stable, s.svc.Canary} {
		share := 1 - canaryShare
		if i == 1 {
			share = canaryShare
		}
		n := poisson(m.rng, expected*share)
		if n == 0 {
			continue
		}
		h := v.healthAt(mid)
		errs := binomial(m.rng, n, h.ErrorRate)
		lat := m.latency(h)
		s.versions[i].observe(m.rng, codeOK, n-errs, lat)
		s.versions[i].observe(m.rng, codeError, errs, lat)
	}
}

// latency returns h's bucket distribution, computed once per Health.
func (m *Mesh) latency(h Health) latency {
	d, ok := m.dists[h]
	if !ok {
		median := float64(h.Median) / float64(time.Millisecond)
		if median <= 0 {
			median = 1
		}
		d = newLatency(median, h.Sigma)
		m.dists[h] = d
	}
	return d
}
