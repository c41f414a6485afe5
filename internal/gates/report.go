package gates

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// JSON is the stable, documented JSON shape of a report (`promoter gates -o
// json`): verdict is pass|fail|inconclusive|error, and gates[] lists every
// promotion gate and rollback trigger with name, verdict, value, threshold,
// samples and message. Numbers that are unknown are null.
type JSON struct {
	Canary          string     `json:"canary"`
	Verdict         Verdict    `json:"verdict"`
	Rollback        bool       `json:"rollback"`
	RollbackReasons []string   `json:"rollbackReasons,omitempty"`
	Weight          int        `json:"weight"`
	Now             time.Time  `json:"now"`
	StageStart      time.Time  `json:"stageStart"`
	CanaryStart     time.Time  `json:"canaryStart"`
	Interval        string     `json:"interval"`
	MinRequests     int        `json:"minRequests"`
	CanaryRequests  float64    `json:"canaryRequests"`
	Gates           []GateJSON `json:"gates"`
}

// GateJSON is one gate in [JSON].
type GateJSON struct {
	Name         string          `json:"name"`
	Type         string          `json:"type"`
	Role         string          `json:"role"`
	Verdict      Verdict         `json:"verdict"`
	Value        *float64        `json:"value"`
	Stable       *float64        `json:"stable"`
	Unit         string          `json:"unit,omitempty"`
	Threshold    string          `json:"threshold"`
	Samples      SamplesJSON     `json:"samples"`
	Window       Window          `json:"window"`
	Query        string          `json:"query,omitempty"`
	Checks       int             `json:"checks"`
	FailedChecks int             `json:"failedChecks"`
	Message      string          `json:"message"`
	Sequential   *SequentialJSON `json:"sequential,omitempty"`
}

// SamplesJSON are the requests each version served in the gate's window.
type SamplesJSON struct {
	Canary float64 `json:"canary"`
	Stable float64 `json:"stable"`
}

// SequentialJSON is the sequential test's evidence.
type SequentialJSON struct {
	Alpha    float64      `json:"alpha"`
	PValue   float64      `json:"pValue"`
	Reject   bool         `json:"reject"`
	Promote  bool         `json:"promote"`
	Families []FamilyJSON `json:"families"`
}

// FamilyJSON is one family of the sequential test.
type FamilyJSON struct {
	Name           string   `json:"name"`
	CanaryBad      float64  `json:"canaryBad"`
	CanaryRequests float64  `json:"canaryRequests"`
	StableBad      float64  `json:"stableBad"`
	StableRequests float64  `json:"stableRequests"`
	EValue         float64  `json:"eValue"`
	MaxEValue      float64  `json:"maxEValue"`
	RatioLow       float64  `json:"ratioLow"`
	RatioHigh      *float64 `json:"ratioHigh"`
}

func num(v float64) *float64 {
	if !finite(v) {
		return nil
	}
	return &v
}

// JSON returns the report's JSON shape.
func (r *Report) JSON() JSON {
	j := JSON{
		Canary: r.Canary, Verdict: r.Verdict, Rollback: r.Rollback, RollbackReasons: r.RollbackReasons,
		Weight: r.Weight, Now: r.Stage.Now.UTC(), StageStart: r.Stage.Start.UTC(), CanaryStart: r.Stage.canaryStart().UTC(),
		Interval: promDuration(r.Interval), MinRequests: r.MinRequests, CanaryRequests: r.CanaryRequests,
		Gates: []GateJSON{},
	}
	for _, g := range r.all() {
		gj := GateJSON{
			Name: g.Name, Type: g.Type, Role: g.Role, Verdict: g.Verdict, Value: num(g.Value), Stable: num(g.Stable),
			Unit: g.Unit, Threshold: g.Threshold, Samples: SamplesJSON(g.Samples), Window: g.Window, Query: g.Query,
			Checks: g.Checks, FailedChecks: g.FailedChecks, Message: g.Message,
		}
		if s := g.Sequential; s != nil {
			sj := &SequentialJSON{Alpha: s.Config.Alpha, PValue: s.PValue, Reject: s.Reject, Promote: s.Promote}
			for _, f := range append([]Family{s.Errors}, s.Latency...) {
				sj.Families = append(sj.Families, FamilyJSON{
					Name: f.Name, CanaryBad: f.CanaryBad, CanaryRequests: f.CanaryRequests, StableBad: f.StableBad, StableRequests: f.StableRequests,
					EValue: capE(f.LogE), MaxEValue: capE(f.MaxLogE), RatioLow: f.CI.Lo, RatioHigh: num(f.CI.Hi),
				})
			}
			gj.Sequential = sj
		}
		j.Gates = append(j.Gates, gj)
	}
	return j
}

// capE returns exp(logE), capped so that JSON can hold it.
func capE(logE float64) float64 {
	if math.IsInf(logE, -1) {
		return 1
	}
	return math.Exp(math.Min(logE, 700))
}

func (r *Report) all() []GateResult {
	return append(append([]GateResult{}, r.Gates...), r.RollbackOn...)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r.JSON())
}

// value formats a gate value in its unit.
func value(v float64, unit string) string {
	if !finite(v) {
		return "-"
	}
	switch unit {
	case "ratio":
		return pct(v)
	case "ms":
		return ms(v)
	case "requests":
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4g", v)
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "canary %s at %d%%: %s\n", r.Canary, r.Weight, strings.ToUpper(string(r.Verdict)))
	fmt.Fprintf(w, "stage since %s, now %s, interval %s; canary requests %.0f (min %d)\n",
		r.Stage.Start.UTC().Format(time.RFC3339), r.Stage.Now.UTC().Format(time.RFC3339), promDuration(r.Interval), r.CanaryRequests, r.MinRequests)
	for _, reason := range r.RollbackReasons {
		fmt.Fprintf(w, "ROLL BACK: %s\n", reason)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GATE\tROLE\tVERDICT\tCANARY\tSTABLE\tTHRESHOLD\tSAMPLES (C/S)\tCHECKS")
	for _, g := range r.all() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.0f/%.0f\t%d failed of %d\n", g.Name, g.Role, g.Verdict,
			value(g.Value, g.Unit), value(g.Stable, g.Unit), g.Threshold, g.Samples.Canary, g.Samples.Stable, g.FailedChecks, g.Checks)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, g := range r.all() {
		fmt.Fprintf(w, "\n%s (%s): %s\n", g.Name, g.Verdict, g.Message)
		if !g.Window.End.IsZero() {
			fmt.Fprintf(w, "  window: %s .. %s\n", g.Window.Start.UTC().Format(time.RFC3339), g.Window.End.UTC().Format(time.RFC3339))
		}
		for _, line := range strings.Split(g.Query, "\n") {
			if line != "" {
				fmt.Fprintf(w, "  query:  %s\n", line)
			}
		}
		if s := g.Sequential; s != nil {
			for _, f := range append([]Family{s.Errors}, s.Latency...) {
				fmt.Fprintf(w, "  %s: canary %.0f/%.0f, stable %.0f/%.0f, E = %.3g (max %.3g), ratio %s\n",
					f.Name, f.CanaryBad, f.CanaryRequests, f.StableBad, f.StableRequests, capE(f.LogE), capE(f.MaxLogE), f.CI)
			}
		}
	}
	return nil
}
