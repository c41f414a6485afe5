package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// app is one generated application: the shape of examples/repo/apps/myapp
// under its own names, in its own namespace.
type app struct {
	name string // app-0001
	dir  string // apps/app-0001
}

func newApp(i int) app {
	name := fmt.Sprintf("app-%04d", i)
	return app{name: name, dir: "apps/" + name}
}

func (a app) overlay() string       { return a.dir + "/overlays/production" }
func (a app) image(v string) string { return "registry.example.com/" + a.name + ":" + v }

// files returns the app's base, overlay, Canary spec and filler files (not
// promoter's component, which is rendered from them). Both Deployments run
// stableVersion, so the canary is idle.
func (a app) files(stableVersion string, fillers int, rng *rand.Rand) map[string]string {
	n := a.name
	f := map[string]string{}
	var configs []string
	for k := 1; k <= fillers; k++ {
		// Half the filler files are ConfigMaps listed in the base (so
		// builds see realistic overlays), half are documents.
		if k%2 == 1 {
			p := fmt.Sprintf("config-%02d.yaml", k)
			configs = append(configs, p)
			f[a.dir+"/base/"+p] = configMap(n, k, rng.IntN(1000))
		} else {
			f[fmt.Sprintf("%s/docs/runbook-%02d.md", a.dir, k)] = runbook(n, k, 0)
		}
	}
	f[a.dir+"/base/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" +
		"  - namespace.yaml\n  - deployment-stable.yaml\n  - deployment-canary.yaml\n  - service.yaml\n  - destinationrule.yaml\n  - virtualservice.yaml\n" +
		listItems(configs)
	f[a.dir+"/base/namespace.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    istio-injection: enabled\n", n)
	f[a.dir+"/base/deployment-stable.yaml"] = deployment(n, "stable", "v1", 3, a.image(stableVersion))
	f[a.dir+"/base/deployment-canary.yaml"] = deployment(n, "canary", "v2", 1, a.image(stableVersion))
	f[a.dir+"/base/service.yaml"] = fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %[1]s\n  namespace: %[1]s\n  labels:\n    app: %[1]s\nspec:\n  selector:\n    app: %[1]s\n  ports:\n    - name: http\n      port: 80\n      targetPort: 8080\n", n)
	f[a.dir+"/base/destinationrule.yaml"] = strings.ReplaceAll(destinationRule, "APP", n)
	f[a.dir+"/base/virtualservice.yaml"] = strings.ReplaceAll(virtualService, "APP", n)
	f[a.overlay()+"/kustomization.yaml"] = fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n# Production overlay for %[1]s.\nresources:\n  - ../../base\ncomponents:\n  # Owned by promoter: the current canary stage.\n  - promoter/%[1]s\n", n)
	f[a.dir+"/canary.yaml"] = strings.ReplaceAll(canarySpec, "APP", n)
	return f
}

func listItems(items []string) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString("  - " + it + "\n")
	}
	return b.String()
}

func configMap(app string, k, value int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %[1]s-config-%02[2]d\n  namespace: %[1]s\ndata:\n  setting: \"%[3]d\"\n  feature-flags: \"search,checkout,recommendations\"\n  log-level: info\n", app, k, value)
}

func runbook(app string, k, rev int) string {
	return fmt.Sprintf("# %s runbook %d\n\nRevision %d.\n\nWhen the error rate of %s rises, check the canary first: `promoter status %s`.\nEscalate to the owning team after 15 minutes.\n", app, k, rev, app, app)
}

func deployment(app, track, version string, replicas int, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s-%[2]s
  namespace: %[1]s
  labels:
    app: %[1]s
    version: %[3]s
spec:
  replicas: %[4]d
  selector:
    matchLabels:
      app: %[1]s
      version: %[3]s
  template:
    metadata:
      labels:
        app: %[1]s
        version: %[3]s
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "8080"
    spec:
      containers:
        - name: %[1]s
          image: %[5]s
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: VERSION
              value: %[3]s
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              cpu: 500m
              memory: 256Mi
          readinessProbe:
            httpGet:
              path: /health/ready
              port: 8080
`, app, track, version, replicas, image)
}

const destinationRule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: APP-destination
  namespace: APP
spec:
  host: APP
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 100
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 30s
      baseEjectionTime: 30s
  subsets:
    - name: stable
      labels:
        version: v1
    - name: canary
      labels:
        version: v2
`

const virtualService = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: APP-routing
  namespace: APP
spec:
  hosts:
    - APP
  http:
    - name: canary-header
      match:
        - headers:
            x-canary-test:
              exact: "true"
      route:
        - destination:
            host: APP
            subset: canary
    - name: canary-route
      route:
        - destination:
            host: APP
            subset: stable
          weight: 100
        - destination:
            host: APP
            subset: canary
          weight: 0
      retries:
        attempts: 3
        perTryTimeout: 2s
        retryOn: 5xx,reset,connect-failure
`

// canarySpec is the example's spec in direct mode (no pull requests), with
// the example's schedule and gates.
const canarySpec = `apiVersion: promoter.dev/v1alpha1
kind: Canary
metadata:
  name: APP
spec:
  overlay: apps/APP/overlays/production
  virtualService:
    name: APP-routing
    namespace: APP
    route: canary-route
  host: APP
  subsets: {stable: stable, canary: canary}
  deployments: {stable: APP-stable, canary: APP-canary, container: APP}
  steps:
    - {weight: 5, pause: 30m}
    - {weight: 10, pause: 1h}
    - {weight: 25, pause: 2h}
    - {weight: 50, pause: 4h}
    - {weight: 75, pause: 2h}
  analysis:
    interval: 5m
    threshold: 5
    minRequests: 1000
    versions: {stable: v1, canary: v2}
    gates:
      - {name: error-rate, type: error-rate, max: 0.01}
      - {name: p99-latency, type: latency, quantile: 0.99, max: 500ms}
      - {name: p99-vs-stable, type: latency, quantile: 0.99, maxIncrease: 10%}
      - {name: regression, type: sequential, alpha: 0.05}
    rollbackOn:
      - {name: error-rate-critical, type: error-rate, max: 0.05}
      - {name: p99-critical, type: latency, quantile: 0.99, max: 2s}
  pullRequests:
    mode: direct
`
