package mesh_test

import (
	"testing"

	"github.com/promoter-dev/promoter/internal/promapi"
)

func openStore(tb testing.TB) *promapi.Store {
	tb.Helper()
	st, err := promapi.OpenStore(promapi.StoreOptions{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}
