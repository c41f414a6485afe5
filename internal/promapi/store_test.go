package promapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/promoter-dev/promoter/internal/promapi"
	"github.com/promoter-dev/promoter/internal/promapi/promapitest"
)

// A sample older than the newest one of its series, and a series hours
// older than the rest of the store, are still accepted and queryable.
func TestAppendOutOfOrder(t *testing.T) {
	srv := promapitest.New(t, func() time.Time { return t0 })
	ctx := context.Background()
	a := labels.FromStrings("__name__", "m", "s", "a")
	b := labels.FromStrings("__name__", "m", "s", "b")
	steps := [][]promapi.Sample{
		{{Labels: a, T: t0.Add(10 * time.Hour), V: 3}},
		{{Labels: a, T: t0.Add(9 * time.Hour), V: 2}},
		{{Labels: b, T: t0, V: 1}},
	}
	for i, s := range steps {
		if err := srv.Store.Append(ctx, s...); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	for _, tt := range []struct {
		query string
		at    time.Time
		want  string
	}{
		{`m{s="a"}`, t0.Add(9 * time.Hour), `"value":[1740862800,"2"]`},
		{`m{s="b"}`, t0, `"value":[1740830400,"1"]`},
	} {
		_, body := get(t, srv, "GET", "/api/v1/query", map[string][]string{"query": {tt.query}, "time": {tt.at.Format(time.RFC3339)}})
		if !strings.Contains(body, tt.want) {
			t.Errorf("%s at %s: %s, want %s", tt.query, tt.at, body, tt.want)
		}
	}
}
