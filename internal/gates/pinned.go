package gates

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
