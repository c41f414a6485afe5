package gates

import (
	"testing"
	"time"
)

func TestSynced(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tile := func(i int, canary, stable float64) Tile {
		return Tile{Start: t0.Add(time.Duration(i) * 5 * time.Minute), End: t0.Add(time.Duration(i+1) * 5 * time.Minute), Requests: Counts{Canary: canary, Stable: stable}}
	}
	t.Run("weight applied from the third tile", func(t *testing.T) {
		obs := &Observations{StageTiles: TileSet{Tiles: []Tile{tile(0, 0, 1000), tile(1, 0, 0), tile(2, 98, 902), tile(3, 105, 895)}}}
		at, ok := Synced(obs, 10, 0)
		if !ok || !at.Equal(t0.Add(10*time.Minute)) {
			t.Fatalf("synced at %s %v, want the third tile", at, ok)
		}
		if len(obs.StageTiles.Tiles) != 2 {
			t.Errorf("kept %d tiles, want the 2 from the synced one", len(obs.StageTiles.Tiles))
		}
	})
	t.Run("not yet", func(t *testing.T) {
		obs := &Observations{StageTiles: TileSet{Tiles: []Tile{tile(0, 10, 990), tile(1, 0, 0)}}}
		if _, ok := Synced(obs, 25, 0); ok {
			t.Fatal("1% of traffic does not match a 25% weight")
		}
	})
	t.Run("few requests are noisy, not out of sync", func(t *testing.T) {
		obs := &Observations{StageTiles: TileSet{Tiles: []Tile{tile(0, 3, 7)}}}
		if _, ok := Synced(obs, 10, 0); !ok {
			t.Fatal("3 of 10 requests is within noise of 10%")
		}
	})
	t.Run("a failed query never syncs", func(t *testing.T) {
		obs := &Observations{StageTiles: TileSet{Tiles: []Tile{tile(0, 100, 900)}, Errs: map[MetricFamily]error{FamilyRequests: errTest}}}
		if _, ok := Synced(obs, 10, 0); ok {
			t.Fatal("synced on a failed query")
		}
	})
}

var errTest = &QueryError{Kind: ErrServer}
