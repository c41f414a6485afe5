package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/promoter-dev/promoter/internal/buildinfo"
	"github.com/promoter-dev/promoter/internal/scaffold"
)

func newInitCmd(g *globals) *cobra.Command {
	var (
		o     scaffold.Options
		dir   string
		force bool
	)
	cmd := &cobra.Command{
		Use:   "init --name N --namespace NS [--dir PATH] [--image REF] [--split subset|host] [--route virtualservice|httproute]",
		Short: "Scaffold an application, its Canary spec, monitoring and the ways to run promoter",
		Long: `init writes a complete application in the layout promoter manages, into --dir (default: the
current directory):

  apps/N/base/                 namespace, stable and canary Deployments, Service, DestinationRule,
                               VirtualService (header routes, optional cookie and region routes,
                               the weighted route canary-route), EnvoyFilter access log
  apps/N/monitoring/           PodMonitor of the sidecars (--scrape podmonitor), ServiceMonitor, PrometheusRule (CanaryHighErrorRate,
                               CanaryHighLatency, CanaryNoTraffic), Grafana dashboard ConfigMap
  apps/N/canary.yaml           the Canary spec: 5% 30m, 10% 1h, 25% 2h, 50% 4h, 75% 2h, gates
  apps/N/overlays/production/  the overlay, and promoter's component at step 0

and, selected by --runners (default: all), the ways to run promoter: deploy/promoter/ (a
CronJob whose ServiceAccount has no Kubernetes API access), .github/workflows/promoter.yaml,
.gitlab-ci.yml, deploy/argocd/N.yaml, deploy/flux/N.yaml, and deploy/README.md.

With --split host the weighted route splits between the Services N-stable and N-canary
(one per version, each with its DestinationRule) instead of two subsets of the Service N.

With --route httproute init writes the shape of Istio's ambient mode instead: the namespace
labelled istio.io/dataplane-mode: ambient and istio.io/use-waypoint: waypoint, the waypoint
Gateway, the Services N, N-stable and N-canary, and a Gateway API HTTPRoute attached to the
Service N whose rule canary-route splits between N-stable and N-canary; the PodMonitor
scrapes the waypoint, and the gates read its reporter="waypoint" metrics.

Files already in --dir are kept; init refuses to replace any of them unless --force.
Without --image the stable Deployment runs N:v1.0.0 and the canary N:v2.0.0, so the first
promoter run starts a canary; with --image both run that image until ` + "`promoter start`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Name == "" || o.Namespace == "" {
				return withHint(errors.New("--name and --namespace are required"), "promoter init --name myapp --namespace myapp")
			}
			o.Branch, o.PrometheusURL = g.branch, g.prometheus
			if o.PromoterImage == "" {
				// The CronJob and the GitLab job run the release init is.
				o.PromoterImage = scaffold.PromoterImageFor(buildinfo.Read().Version)
			}
			files, err := scaffold.Generate(o)
			if err != nil {
				return err
			}
			var existing []string
			for _, p := range files.Paths() {
				if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
					existing = append(existing, p)
				} else if !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
			if len(existing) > 0 && !force {
				return withHint(fmt.Errorf("%s: %d files exist already: %s", dir, len(existing), strings.Join(existing, ", ")),
					"pass --force to replace them, or --runners none (or a shorter list) when the repository already runs promoter")
			}
			if g.dryRun {
				for _, p := range files.Paths() {
					fmt.Fprintln(g.stdout, p)
				}
				return nil
			}
			for _, p := range files.Paths() {
				target := filepath.Join(dir, filepath.FromSlash(p))
				if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
					return err
				}
				if err := os.WriteFile(target, files[p], 0o644); err != nil {
					return err
				}
			}
			fmt.Fprintf(g.stdout, "wrote %d files for %s in %s\n", len(files), o.Name, dir)
			fmt.Fprintf(g.stdout, "next: promoter validate --repo %s\n", dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "application name (a DNS label): Deployments N-stable and N-canary, Service N, Canary N")
	f.StringVar(&o.Namespace, "namespace", "", "namespace of the application")
	f.StringVar(&dir, "dir", ".", "repository root to write into")
	f.StringVar(&o.Image, "image", "", "stable image (default N:v1.0.0)")
	f.StringVar(&o.CanaryImage, "canary-image", "", "canary image (default: --image when given, else N:v2.0.0)")
	f.BoolVar(&o.Cookie, "cookie", false, "add cookie-sticky routing: requests with the cookie canary=true go to the canary, which sets it")
	f.StringSliceVar(&o.Regions, "geo", nil, "route requests whose x-region header is one of these regions to the canary (repeatable)")
	f.StringVar(&o.Split, "split", "", "how the weighted route tells the versions apart: subset (one Service N, DestinationRule subsets stable and canary) or host (Services N-stable and N-canary, one per version); default subset, host with --route httproute")
	f.StringVar(&o.Route, "route", scaffold.RouteVirtualService, "the weighted route: virtualservice (Istio, sidecars) or httproute (Gateway API on Istio's ambient mode, with a waypoint)")
	f.StringSliceVar(&o.Runners, "runners", scaffold.Runners, "ways to run promoter to write: "+strings.Join(scaffold.Runners, ",")+", or none")
	f.StringVar(&o.GitURL, "git-url", "", "clone URL of this repository, for the CronJob, GitLab, Argo CD and Flux (default "+scaffold.DefaultGitURL+")")
	f.StringVar(&o.PromoterImage, "promoter-image", "", "promoter image the CronJob runs (default: this release's, "+scaffold.PromoterImageRepo+":<version>; "+scaffold.DefaultPromoterImage+" for a development build)")
	f.StringVar(&o.Scrape, "scrape", scaffold.ScrapePodMonitor, "how Prometheus scrapes the sidecars' metrics: podmonitor (prometheus-operator) or annotations (a plain Prometheus's prometheus.io/* pod annotations)")
	f.StringVar(&o.GitSecret, "git-secret", "", "Secret in flux-system that the Flux GitRepository authenticates with, for a private repository")
	f.BoolVar(&force, "force", false, "replace files that exist already")
	return cmd
}
