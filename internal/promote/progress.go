package promote

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is how often a long pass says how far it has got.
const progressEvery = 10 * time.Second

// passProgress reports a pass to [Options.Progress]: a line when it starts,
// one every progressEvery while it runs, one when it ends. Its methods do
// nothing when there is no progress writer.
type passProgress struct {
	w        io.Writer
	total    int
	decided  atomic.Int64
	started  time.Time
	stopOnce sync.Once
	quit     chan struct{}
	ticking  sync.WaitGroup
}

func (p *Promoter) startProgress(total int) *passProgress {
	pp := &passProgress{w: p.opts.Progress, total: total, started: time.Now(), quit: make(chan struct{})}
	if pp.w == nil || total == 0 {
		pp.w = nil
		return pp
	}
	fmt.Fprintf(pp.w, "promoter: evaluating %d %s\n", total, plural(total, "canary", "canaries"))
	pp.ticking.Add(1)
	go func() {
		defer pp.ticking.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-pp.quit:
				return
			case <-t.C:
				fmt.Fprintf(pp.w, "promoter: %d of %d canaries decided (%s)\n", pp.decided.Load(), total, time.Since(pp.started).Round(time.Second))
			}
		}
	}()
	return pp
}

// done counts one canary decided.
func (pp *passProgress) done() { pp.decided.Add(1) }

// stop ends the reports with the pass's duration.
func (pp *passProgress) stop() {
	pp.stopOnce.Do(func() {
		close(pp.quit)
		pp.ticking.Wait()
		if pp.w != nil {
			fmt.Fprintf(pp.w, "promoter: pass over %d %s in %s\n", pp.total, plural(pp.total, "canary", "canaries"), time.Since(pp.started).Round(100*time.Millisecond))
		}
	})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
