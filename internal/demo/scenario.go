package demo

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/promoter-dev/promoter/internal/promote"
)

// App is one application of a scenario and how its versions behave.
type App struct {
	// Name is the canary (and Service); Namespace its namespace.
	Name, Namespace string
	// RPS is the service's total request rate.
	RPS float64
	// Stable and Canary describe the two versions.
	Stable, Canary Behaviour
	// Expect is the phase the canary must end in.
	Expect promote.Phase
	// HTTPRoute makes the application the ambient shape that `promoter
	// init --route httproute` writes: a Gateway API HTTPRoute between the
	// Services N-stable and N-canary, whose requests the namespace's
	// waypoint reports (reporter="waypoint").
	HTTPRoute bool
}

// Behaviour is how one version serves: its 5xx rate and lognormal latency,
// both possibly varying with time.
type Behaviour struct {
	ErrorRate func(t time.Time) float64
	// LatencyMedian is the median latency in milliseconds; LatencySigma the
	// lognormal shape.
	LatencyMedian func(t time.Time) float64
	LatencySigma  float64
}

func constant(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }

// healthy is a version with a 0.2% error rate and a 40 ms median latency.
func healthy() Behaviour {
	return Behaviour{ErrorRate: constant(0.002), LatencyMedian: constant(40), LatencySigma: 0.6}
}

// Scenario is a set of applications whose canaries run side by side.
type Scenario struct {
	Name, Description string
	Apps              []App
}

// scenarios are what --scenario picks from. Every scenario runs myapp (the
// example repository's application) and shop (a second application that
// `promoter init` writes).
func scenarios(start time.Time) []Scenario {
	good := func(name, ns string) App {
		return App{Name: name, Namespace: ns, RPS: 20, Stable: healthy(), Canary: healthy(), Expect: promote.Succeeded}
	}
	bad := good("shop", "shop")
	bad.Canary.ErrorRate = constant(5 * 0.002)
	bad.Expect = promote.RolledBack

	slow := good("shop", "shop")
	slow.Canary.LatencyMedian = constant(1.5 * 40)
	slow.Expect = promote.RolledBack

	quiet := good("shop", "shop")
	quiet.RPS = 0.05
	quiet.Expect = promote.Waiting

	// Both versions of both applications fail 10% of requests for ten
	// minutes, an hour into the canary: an incident that is not the
	// canary's fault must not roll it back.
	outage := func(a App) App {
		from, to := start.Add(time.Hour), start.Add(time.Hour+10*time.Minute)
		rate := func(t time.Time) float64 {
			if !t.Before(from) && t.Before(to) {
				return 0.10
			}
			return 0.002
		}
		a.Stable.ErrorRate, a.Canary.ErrorRate = rate, rate
		return a
	}
	return []Scenario{
		{Name: "default", Description: "myapp is healthy and is promoted to 100%; shop's canary fails 5x as often as stable and is rolled back by a revert", Apps: []App{good("myapp", "canary-demo"), bad}},
		{Name: "latency", Description: "shop's canary is 1.5x slower than stable (p99 still under 500 ms): the sequential test on slow requests rolls it back", Apps: []App{good("myapp", "canary-demo"), slow}},
		{Name: "low-traffic", Description: "shop serves one request every 20 s: its canary waits for enough requests and says why, instead of passing on no data", Apps: []App{good("myapp", "canary-demo"), quiet}},
		{Name: "gateway-api", Description: "shop runs on Istio's ambient mode: an HTTPRoute splits its traffic and a waypoint reports it (reporter=\"waypoint\"); its healthy canary is promoted like myapp's", Apps: []App{good("myapp", "canary-demo"), ambient(good("shop", "shop"))}},
		{Name: "outage", Description: "a shared outage hits stable and canary alike for 10 minutes: neither canary is rolled back, both are promoted", Apps: []App{outage(good("myapp", "canary-demo")), outage(good("shop", "shop"))}},
	}
}

// ambient makes a the ambient shape.
func ambient(a App) App {
	a.HTTPRoute = true
	return a
}

// ErrUnknownScenario is returned for a scenario name that does not exist.
var ErrUnknownScenario = errors.New("unknown scenario")

// Scenarios lists the scenario names, for help texts.
func Scenarios() []string {
	var names []string
	for _, s := range scenarios(time.Time{}) {
		names = append(names, s.Name)
	}
	return names
}

func scenarioNamed(name string, start time.Time) (Scenario, error) {
	all := scenarios(start)
	i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, fmt.Errorf("%w %q (scenarios: %s)", ErrUnknownScenario, name, strings.Join(Scenarios(), ", "))
	}
	return all[i], nil
}
