package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/promoter-dev/promoter/internal/gates"
)

// promQuerier connects to --prometheus (env PROMETHEUS_URL). A bearer token
// comes from PROMETHEUS_TOKEN, extra headers (X-Scope-OrgID for Mimir and
// Cortex) from --prometheus-header, TLS files from --prometheus-ca,
// --prometheus-cert and --prometheus-key. A missing URL is not an error
// here: every gate then reports Error, which holds the canary.
func (g *globals) promQuerier() (gates.Querier, error) {
	if g.prometheus == "" {
		if len(g.promHeaders) > 0 || g.promCA != "" || g.promCert != "" || g.promKey != "" {
			return nil, withHint(errors.New("--prometheus-header, --prometheus-ca, --prometheus-cert and --prometheus-key need --prometheus"), "give --prometheus URL (or PROMETHEUS_URL)")
		}
		return nil, nil
	}
	headers := map[string]string{}
	for _, h := range g.promHeaders {
		k, v, ok := strings.Cut(h, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, withHint(fmt.Errorf("--prometheus-header %q: not NAME=VALUE", h), "for example --prometheus-header X-Scope-OrgID=tenant-1")
		}
		headers[strings.TrimSpace(k)] = v
	}
	c, err := gates.NewClient(gates.ClientOptions{
		URL:         g.prometheus,
		BearerToken: g.getenv("PROMETHEUS_TOKEN"),
		Headers:     headers,
		TLS:         gates.TLSOptions{CAFile: g.promCA, CertFile: g.promCert, KeyFile: g.promKey},
		Log:         g.log,
	})
	if err != nil {
		return nil, withHint(err, "check --prometheus (or PROMETHEUS_URL)")
	}
	return c, nil
}
