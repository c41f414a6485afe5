package mesh_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/promoter-dev/promoter/internal/gates"
	"github.com/promoter-dev/promoter/internal/mesh"
	"github.com/promoter-dev/promoter/internal/mesh/meshtest"
	"github.com/promoter-dev/promoter/internal/promapi"
	"github.com/promoter-dev/promoter/internal/spec"
)

// myapp loads the example canary: host myapp in canary-demo, versions v1
// and v2, first step 5% for 30m, interval 5m, minRequests 1000.
func myapp(t *testing.T) *spec.Canary {
	t.Helper()
	canaries, err := spec.Load(context.Background(), os.DirFS("../../examples/repo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range canaries {
		if c.Metadata.Name == "myapp" {
			return c
		}
	}
	t.Fatal("no canary myapp in examples/repo")
	return nil
}

// judgeFirstStage runs myapp's first stage (5% for 30m, after an hour of
// stable-only traffic) on a mesh whose canary has the given health, and
// judges it through promoter's Prometheus client over HTTP.
func judgeFirstStage(t *testing.T, canary mesh.Health, fault *promapi.Fault) *gates.Report {
	t.Helper()
	c := myapp(t)
	canaryStart := t0.Add(time.Hour)
	now := canaryStart.Add(30 * time.Minute)
	stable := mesh.Health{ErrorRate: 0.004, Median: 30 * time.Millisecond, Sigma: 0.1}
	env := meshtest.Start(t, mesh.Options{
		Start: t0,
		Seed:  11,
		Services: []mesh.Service{{
			Namespace: "canary-demo", Name: "myapp",
			Stable: mesh.Version{Name: "v1", Workload: "myapp-stable", Health: stable},
			Canary: mesh.Version{Name: "v2", Workload: "myapp-canary", Health: canary},
			RPS:    100,
			Weight: func(t time.Time) int {
				if t.Before(canaryStart) {
					return 0
				}
				return 5
			},
		}},
	}, func() time.Time { return now })
	if err := env.Mesh.Advance(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	if fault != nil {
		env.API.InjectFaults(100, *fault)
	}
	client, err := gates.NewClient(gates.ClientOptions{URL: env.URL, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	st := gates.Stage{Weight: 5, Start: canaryStart, CanaryStart: canaryStart, Now: now}
	obs, err := gates.Observe(context.Background(), client, c, st)
	if err != nil {
		t.Fatal(err)
	}
	r := gates.Judge(c, st, obs, gates.Options{})
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	return r
}

func TestGatesPassAHealthyCanary(t *testing.T) {
	r := judgeFirstStage(t, mesh.Health{ErrorRate: 0.004, Median: 30 * time.Millisecond, Sigma: 0.1}, nil)
	if r.Verdict != gates.Pass || r.Rollback {
		t.Errorf("verdict %s, rollback %v (%v); want pass", r.Verdict, r.Rollback, r.RollbackReasons)
	}
}

func TestGatesRollBackAFiveTimesWorseCanary(t *testing.T) {
	r := judgeFirstStage(t, mesh.Health{ErrorRate: 0.02, Median: 30 * time.Millisecond, Sigma: 0.1}, nil)
	if r.Verdict != gates.Fail || !r.Rollback {
		t.Errorf("verdict %s, rollback %v; want fail and rollback", r.Verdict, r.Rollback)
	}
}

func TestGatesErrWhenPrometheusFails(t *testing.T) {
	r := judgeFirstStage(t, mesh.Health{ErrorRate: 0.004, Median: 30 * time.Millisecond, Sigma: 0.1},
		&promapi.Fault{ErrorType: promapi.ErrExecution, Message: "injected"})
	if r.Verdict != gates.Error || r.Rollback {
		t.Errorf("verdict %s, rollback %v (%v); want error without rollback", r.Verdict, r.Rollback, r.RollbackReasons)
	}
}
