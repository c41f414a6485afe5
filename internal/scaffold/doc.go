// Package scaffold generates the files of a new application managed by
// promoter: what `promoter init` writes.
//
// # What it generates
//
// [Generate] returns, for an [Options], every file of the layout promoter
// manages (see the README), all built from typed values:
//
//   - apps/N/base: the namespace (with Istio injection), the stable and
//     canary Deployments, the Service, a DestinationRule with connection
//     pools, outlier detection and stricter limits for the canary subset, a
//     VirtualService with header routes, optional cookie and region routes
//     and the weighted route promoter splits, and an EnvoyFilter whose
//     access log records the version that served each request;
//   - apps/N/monitoring: a ServiceMonitor, a PrometheusRule with the canary
//     alerts and a Grafana dashboard as a ConfigMap (prometheus-operator
//     and the Grafana dashboard sidecar are expected in the cluster);
//   - apps/N/canary.yaml: the Canary spec with the guide's schedule,
//     criteria and rollback triggers;
//   - apps/N/overlays/production: the overlay, and promoter's component
//     rendered at step 0 by [render.Render], exactly as promoter writes it;
//   - the ways to run promoter, chosen by [Options.Runners]: a Kubernetes
//     CronJob without any Kubernetes API permission, a GitHub Actions
//     workflow, a GitLab CI job, an Argo CD Application and a Flux
//     GitRepository and Kustomization.
//
// # Purity
//
// Nothing here reads or writes files: [Generate] returns the files and the
// caller writes them. The output depends only on the options, byte for
// byte, so that examples/repo can be regenerated and compared.
package scaffold

//go:generate go run ../render/schema/gen.go -kinds EnvoyFilter -out testdata/istio-envoyfilter.gen.yaml
