package gates

import (
	"fmt"
	"strconv"
	"strings"
)

// Pinned is what the sequential test fixes when the canary starts and keeps
// for the whole canary: its error probabilities and margins, and the latency
// bucket bounds chosen from stable's history. promoter records it with the
// canary's first step and reads it back at every run, so that editing the
// spec, or a different stable history at a later run, cannot change a test
// that has already looked at data.
type Pinned struct {
	// Alpha, Margin and PromoteRatio of the sequential test.
	Alpha, Margin, PromoteRatio float64
	// Bounds are the latency bounds in milliseconds; empty when stable had
	// no latency data when the canary started.
	Bounds []float64
}

// PinnedOf returns what the sequential gate of the spec would pin for a
// canary starting now, with the bounds chosen from obs (nil when the
// spec has no sequential gate, or the baseline could not be fetched).
func PinnedOf(a SequentialConfig, obs *Observations) *Pinned {
	if obs == nil || obs.BaselineErr != nil {
		return nil
	}
	cfg := a.withDefaults()
	return &Pinned{Alpha: cfg.Alpha, Margin: cfg.Margin, PromoteRatio: cfg.PromoteRatio, Bounds: Bounds(obs)}
}

// String is the recorded form: "alpha=0.05 margin=1 promoteRatio=2
// bounds=10,25,50,100,250" (bounds in milliseconds).
func (p Pinned) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "alpha=%s margin=%s promoteRatio=%s bounds=", fmtFloat(p.Alpha), fmtFloat(p.Margin), fmtFloat(p.PromoteRatio))
	for i, le := range p.Bounds {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(fmtFloat(le))
	}
	return b.String()
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// ParsePinned reads what [Pinned.String] wrote.
func ParsePinned(s string) (*Pinned, error) {
	p := &Pinned{}
	seen := map[string]bool{}
	for _, field := range strings.Fields(s) {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", field)
		}
		seen[k] = true
		num := func() (float64, error) {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !finite(f) || f <= 0 {
				return 0, fmt.Errorf("%s=%q is not a positive number", k, v)
			}
			return f, nil
		}
		var err error
		switch k {
		case "alpha":
			p.Alpha, err = num()
			if err == nil && p.Alpha >= 1 {
				err = fmt.Errorf("alpha=%s is not below 1", v)
			}
		case "margin":
			p.Margin, err = num()
		case "promoteRatio":
			p.PromoteRatio, err = num()
		case "bounds":
			for _, b := range strings.Split(v, ",") {
				if b == "" {
					continue
				}
				f, perr := strconv.ParseFloat(b, 64)
				if perr != nil || !finite(f) || f <= 0 {
					return nil, fmt.Errorf("bound %q is not a positive number of milliseconds", b)
				}
				p.Bounds = append(p.Bounds, f)
			}
		default:
			return nil, fmt.Errorf("unknown key %q", k)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"alpha", "margin", "promoteRatio", "bounds"} {
		if !seen[k] {
			return nil, fmt.Errorf("%s is missing", k)
		}
	}
	return p, nil
}
