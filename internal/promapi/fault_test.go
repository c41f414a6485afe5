package promapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/promoter-dev/promoter/internal/promapi"
)

func TestInjectedFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault promapi.Fault
		want  v1.ErrorType
	}{
		// client_golang reads only 400 and 422 bodies: Prometheus's 503
		// timeout reaches it as a server error, as from a real server.
		{"timeout", promapi.Fault{ErrorType: promapi.ErrTimeout}, v1.ErrServer},
		{"execution", promapi.Fault{ErrorType: promapi.ErrExecution, Message: "boom"}, v1.ErrExec},
		{"bare 502", promapi.Fault{Status: http.StatusBadGateway}, v1.ErrServer},
		{"garbage", promapi.Fault{Body: "<html>proxy error</html>"}, v1.ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, prom := newServer(t)
			srv.API.InjectFaults(2, tt.fault)
			for i := range 2 {
				_, _, _, err := prom.Query(context.Background(), `requests_total`, t0)
				var ae *v1.Error
				if !errors.As(err, &ae) || ae.Type != tt.want {
					t.Errorf("request %d: error %v, want type %s", i+1, err, tt.want)
				}
			}
			if n := srv.API.PendingFaults(); n != 0 {
				t.Errorf("%d faults still pending", n)
			}
			if _, _, _, err := prom.Query(context.Background(), `requests_total`, t0); err != nil {
				t.Errorf("third request: %v, want success once the faults are spent", err)
			}
		})
	}
}

func TestFaultSparesOtherEndpoints(t *testing.T) {
	srv, prom := newServer(t)
	srv.API.InjectFaults(1, promapi.Fault{ErrorType: promapi.ErrInternal})
	if _, err := prom.Buildinfo(context.Background()); err != nil {
		t.Fatalf("buildinfo: %v", err)
	}
	if srv.API.PendingFaults() != 1 {
		t.Errorf("buildinfo consumed the fault")
	}
	srv.API.ClearFaults()
	if _, _, _, err := prom.Query(context.Background(), `requests_total`, t0); err != nil {
		t.Errorf("query after ClearFaults: %v", err)
	}
}

func TestHeldRequestOutlastsClientDeadline(t *testing.T) {
	srv, prom := newServer(t)
	never := make(chan struct{})
	t.Cleanup(func() { close(never) }) // before the server's cleanup, which waits for the handler
	srv.API.InjectFaults(1, promapi.Fault{Wait: never})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, _, err := prom.Query(ctx, `requests_total`, t0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("held request: %v, want the client's deadline", err)
	}
}

func TestHeldRequestIsServedWhenReleased(t *testing.T) {
	srv, prom := newServer(t)
	release := make(chan struct{})
	close(release)
	srv.API.InjectFaults(1, promapi.Fault{Wait: release})
	if _, _, _, err := prom.Query(context.Background(), `requests_total`, t0); err != nil {
		t.Errorf("released request: %v", err)
	}
}
