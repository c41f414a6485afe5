package promote

import (
	"context"
	"errors"
	"maps"

	"github.com/promoter-dev/promoter/internal/gitops"
)

// saveRecordsAttempts bounds how often saveRecords replays its merge after
// another run replaced the records first.
const saveRecordsAttempts = 3

// saveRecords keeps what the pass out built for canaries whose inputs
// changed since promoter wrote their component, in the build records
// beside the target branch (gitops.Records), so that the next pass takes
// the record instead of building again. For each canary of the pass the
// entry becomes the state's record: the saved record it took, or the
// record of the build it ran and found no drift in; none when the
// committed component's own record holds, when deriving failed or when
// the pass landed a change for it (its new component records its own
// build). Canaries the pass did not select keep their entries; a pass
// over every canary drops the entries of canaries that no longer exist.
//
// A lost race with another run is replayed on the records it wrote. Any
// other failure is logged and changes nothing else: the records only save
// builds.
func (p *Promoter) saveRecords(ctx context.Context, sel Selection, out *Pass) {
	if out == nil || out.records == nil || ctx.Err() != nil {
		return
	}
	whole := len(sel.Names) == 0 && sel.ShardN == 0
	ours := map[string]string{}
	for i, c := range out.canaries {
		st := out.states[i]
		if st == nil || st.record == "" || out.Decisions[i].Landed {
			continue
		}
		ours[c.Metadata.Name] = st.record
	}
	merge := func(theirs map[string]string) map[string]string {
		entries := map[string]string{}
		if !whole {
			entries = maps.Clone(theirs)
			for _, c := range out.canaries {
				delete(entries, c.Metadata.Name)
			}
		}
		maps.Copy(entries, ours)
		return entries
	}
	repo := p.opts.Repo
	old := out.records
	for attempt := 1; ; attempt++ {
		p.gitMu.Lock()
		err := repo.SaveRecords(ctx, old, merge(old.Entries))
		p.gitMu.Unlock()
		if err == nil {
			if len(ours) > 0 {
				p.log.Debug("build records saved", "built", len(ours))
			}
			return
		}
		if !errors.Is(err, gitops.ErrNonFastForward) || attempt == saveRecordsAttempts {
			p.log.Warn("build records not saved: the next run builds these canaries again", "canaries", len(ours), "err", err)
			return
		}
		p.gitMu.Lock()
		_, err = repo.Fetch(ctx)
		if err == nil {
			old, err = repo.Records()
		}
		p.gitMu.Unlock()
		if err != nil {
			p.log.Warn("build records not saved: the next run builds these canaries again", "canaries", len(ours), "err", err)
			return
		}
	}
}
