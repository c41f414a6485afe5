package mesh_test

import (
	"testing"

	"github.com/promoter-dev/promoter/internal/promapi"
)

func openStore(tb testing.TB) *promapi.Store {
	tb.Helper()
	st := promapi.NewStore()
	tb.Cleanup(func() { _ = st.Close() })
	return st
}
