package promapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// StoreOptions configure a [Store].
type StoreOptions struct {
	// Dir is where the TSDB lives. Empty creates a temporary directory
	// that Close removes; a given Dir is left in place.
	Dir string
	// Log receives the TSDB's own records; nil discards them.
	Log *slog.Logger
}

// Store is a real Prometheus TSDB kept entirely in its head block: no
// compaction, no retention, and an out-of-order window wide enough that
// samples of any age can be appended. It is safe for concurrent use.
type Store struct {
	db      *tsdb.DB
	dir     string
	tempDir bool
}

var _ storage.Queryable = (*Store)(nil)

// oooWindow is how far behind the newest sample a sample may be appended:
// wide enough for any simulation.
const oooWindow = int64(100 * 365 * 24 * time.Hour / time.Millisecond)

// OpenStore opens a Store. Close it to release the TSDB and, when it
// created one, its temporary directory.
func OpenStore(opts StoreOptions) (*Store, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, temp := opts.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "promapi-")
		if err != nil {
			return nil, fmt.Errorf("tsdb directory: %w", err)
		}
		dir, temp = d, true
	}
	o := tsdb.DefaultOptions()
	o.WALSegmentSize = -1 // no WAL: the store lives as long as the process
	o.RetentionDuration = 0
	o.OutOfOrderTimeWindow = oooWindow
	db, err := tsdb.Open(dir, log, nil, o, nil)
	if err != nil {
		if temp {
			_ = os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("open tsdb in %s: %w", dir, err)
	}
	db.DisableCompactions()
	return &Store{db: db, dir: dir, tempDir: temp}, nil
}

// Querier implements [storage.Queryable] for the PromQL engine.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return s.db.Querier(mint, maxt)
}

// Appender returns a TSDB appender: append samples, then Commit (or
// Rollback) it. Series references it returns may be reused in later calls
// of the same appender to skip the label lookup.
func (s *Store) Appender(ctx context.Context) storage.Appender {
	return s.db.Appender(ctx)
}

// Sample is one float sample of one series.
type Sample struct {
	Labels labels.Labels
	T      time.Time
	V      float64
}

// Append adds the samples in one transaction: all of them or, on error,
// none. Each series' samples should be in time order within one call.
func (s *Store) Append(ctx context.Context, samples ...Sample) error {
	app := s.db.Appender(ctx)
	for _, smp := range samples {
		if _, err := app.Append(0, smp.Labels, smp.T.UnixMilli(), smp.V); err != nil {
			return errors.Join(fmt.Errorf("append %s at %s: %w", smp.Labels, smp.T.UTC().Format(time.RFC3339), err), app.Rollback())
		}
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("commit samples: %w", err)
	}
	return nil
}

// Close closes the TSDB and removes its directory if OpenStore created it.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.tempDir {
		err = errors.Join(err, os.RemoveAll(s.dir))
	}
	return err
}

// Dir is the TSDB's directory.
func (s *Store) Dir() string { return s.dir }
