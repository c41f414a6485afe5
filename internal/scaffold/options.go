package scaffold

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Runner names: the ways to run promoter that [Generate] can write.
const (
	RunnerCronJob = "cronjob" // deploy/promoter: a CronJob, its ServiceAccount and namespace
	RunnerGitHub  = "github"  // .github/workflows/promoter.yaml
	RunnerGitLab  = "gitlab"  // .gitlab-ci.yml
	RunnerArgoCD  = "argocd"  // deploy/argocd/N.yaml: an Argo CD Application of the overlay
	RunnerFlux    = "flux"    // deploy/flux/N.yaml: a Flux GitRepository and Kustomization
)

// Scrape modes: how Prometheus finds the sidecars' metrics, which the
// gates and alerts read.
const (
	// ScrapePodMonitor writes a prometheus-operator PodMonitor for the
	// sidecars' /stats/prometheus on port 15090, as Istio's own
	// prometheus-operator sample does.
	ScrapePodMonitor = "podmonitor"
	// ScrapeAnnotations relies on the prometheus.io/* pod annotations that
	// a plain Prometheus's kubernetes-pods job reads; Istio's metrics
	// merging serves the sidecar's metrics and the application's together.
	ScrapeAnnotations = "annotations"
)

// Split shapes: how the weighted route tells the versions apart.
const (
	SplitSubset = "subset" // one host, DestinationRule subsets stable and canary
	SplitHost   = "host"   // two hosts: the Services N-stable and N-canary
)

// Route kinds: which resource splits the traffic.
const (
	// RouteVirtualService is an Istio VirtualService, applied by sidecars.
	RouteVirtualService = "virtualservice"
	// RouteHTTPRoute is a Gateway API HTTPRoute on Istio's ambient mode:
	// the namespace's waypoint applies it and reports the metrics.
	RouteHTTPRoute = "httproute"
)

// Runners lists every runner, in the order they are documented.
var Runners = []string{RunnerCronJob, RunnerGitHub, RunnerGitLab, RunnerArgoCD, RunnerFlux}

// Defaults of [Options].
const (
	DefaultGitURL        = "https://github.com/example/gitops.git"
	DefaultBranch        = "main"
	DefaultPrometheusURL = "http://prometheus-operated.monitoring.svc:9090"
	DefaultPromoterImage = "ghcr.io/promoter-dev/promoter:latest"
	// PromoterImageRepo is where releases publish promoter's image.
	PromoterImageRepo = "ghcr.io/promoter-dev/promoter"
)

// releaseTag matches the tags releases are published under.
var releaseTag = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// PromoterImageFor is the image of promoter release version (v1.2.3), or
// [DefaultPromoterImage] when version is not a release (a development
// build): the CronJob and the GitLab job then run what init's own binary is.
func PromoterImageFor(version string) string {
	if releaseTag.MatchString(version) {
		return PromoterImageRepo + ":" + version
	}
	return DefaultPromoterImage
}

// Options describe the application to scaffold. Name and Namespace are
// required; [Options.Complete] fills in the rest.
type Options struct {
	// Name of the application: its Deployments are Name-stable and
	// Name-canary, its Service and container Name, its Canary Name.
	Name string
	// Namespace the application runs in.
	Namespace string
	// Image runs in the stable Deployment. Default: Name:v1.0.0.
	Image string
	// CanaryImage runs in the canary Deployment. Default: Image when Image
	// is given (no canary in progress), else Name:v2.0.0 (the first run of
	// promoter starts a canary).
	CanaryImage string
	// Cookie adds a route that sends requests with the cookie canary=true
	// to the canary, and makes the weighted route set that cookie on the
	// canary's responses, so a user who reached the canary stays there.
	Cookie bool
	// Regions adds, for each region, a route that sends requests whose
	// x-region header is that region to the canary.
	Regions []string
	// Route is the kind of the weighted route: [RouteVirtualService]
	// (default) or [RouteHTTPRoute], the ambient shape: a namespace in
	// ambient mode with a waypoint, and an HTTPRoute that splits by host.
	Route string
	// Split is how the weighted route tells the versions apart:
	// [SplitSubset] (default), one host with the DestinationRule subsets
	// stable and canary, or [SplitHost], two destination hosts, the
	// Services Name-stable and Name-canary, each selecting one version.
	Split string
	// Runners selects the ways to run promoter to write (see [Runners]).
	Runners []string
	// GitURL is the repository's clone URL, used by the CronJob, the GitLab
	// job, Argo CD and Flux. Default: [DefaultGitURL], a placeholder.
	GitURL string
	// Branch is the branch promoter and the GitOps tools follow. Default:
	// [DefaultBranch].
	Branch string
	// PrometheusURL is where the CronJob reaches Prometheus. Default:
	// [DefaultPrometheusURL]. The CI runners read it from a secret variable.
	PrometheusURL string
	// PromoterImage is the image of promoter the CronJob runs. Default:
	// [DefaultPromoterImage].
	PromoterImage string
	// GitSecret names the Secret in flux-system the Flux GitRepository
	// authenticates with (spec.secretRef), for a private repository.
	// Empty: none, and the file says how to add one.
	GitSecret string
	// Scrape is how Prometheus scrapes the sidecars: [ScrapePodMonitor]
	// (the default) or [ScrapeAnnotations].
	Scrape string
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	region   = regexp.MustCompile(`^[A-Za-z0-9]([-_.A-Za-z0-9]*[A-Za-z0-9])?$`)
)

// Complete validates o and fills in the defaults. Every problem is
// reported at once.
func (o *Options) Complete() error {
	var errs []error
	// Name-canary must stay a DNS label too.
	if !dnsLabel.MatchString(o.Name) || len(o.Name) > 56 {
		errs = append(errs, fmt.Errorf("name %q: must be a DNS label (lowercase letters, digits and '-') of at most 56 characters", o.Name))
	}
	if !dnsLabel.MatchString(o.Namespace) || len(o.Namespace) > 63 {
		errs = append(errs, fmt.Errorf("namespace %q: must be a DNS label (lowercase letters, digits and '-') of at most 63 characters", o.Namespace))
	}
	for _, r := range o.Regions {
		if !region.MatchString(r) {
			errs = append(errs, fmt.Errorf("region %q: use letters, digits, '-', '_' and '.'", r))
		}
	}
	switch o.Route {
	case "":
		o.Route = RouteVirtualService
	case RouteVirtualService:
	case RouteHTTPRoute:
		// A Gateway API route's backendRefs are Services: it splits by
		// host.
		switch o.Split {
		case "":
			o.Split = SplitHost
		case SplitHost:
		default:
			errs = append(errs, fmt.Errorf("split %q: an HTTPRoute splits between two Services: use --split %s (the default with --route %s)", o.Split, SplitHost, RouteHTTPRoute))
		}
		if o.Cookie {
			errs = append(errs, fmt.Errorf("cookie: the canary cookie needs a regular-expression header match, which Gateway API does not promise; use --route %s", RouteVirtualService))
		}
		if o.Scrape == ScrapeAnnotations {
			errs = append(errs, fmt.Errorf("scrape %q: in ambient mode the waypoint reports the metrics, and a PodMonitor scrapes it; leave --scrape out", o.Scrape))
		}
	default:
		errs = append(errs, fmt.Errorf("route %q: unknown (known: %s, %s)", o.Route, RouteVirtualService, RouteHTTPRoute))
	}
	switch o.Split {
	case "":
		o.Split = SplitSubset
	case SplitSubset, SplitHost:
	default:
		errs = append(errs, fmt.Errorf("split %q: unknown (known: %s, %s)", o.Split, SplitSubset, SplitHost))
	}
	if slices.Contains(o.Runners, "none") {
		if len(o.Runners) > 1 {
			errs = append(errs, errors.New(`runners: "none" excludes the others`))
		}
		o.Runners = nil
	}
	for _, r := range o.Runners {
		if !slices.Contains(Runners, r) {
			errs = append(errs, fmt.Errorf("runner %q: unknown (known: %s, or none)", r, strings.Join(Runners, ", ")))
		}
	}
	if o.CanaryImage == "" {
		o.CanaryImage = o.Image
		if o.Image == "" {
			o.CanaryImage = o.Name + ":v2.0.0"
		}
	}
	if o.Image == "" {
		o.Image = o.Name + ":v1.0.0"
	}
	for _, image := range []string{o.Image, o.CanaryImage, o.PromoterImage} {
		if strings.ContainsAny(image, " \t\n") {
			errs = append(errs, fmt.Errorf("image %q: contains white space", image))
		}
	}
	o.Scrape = cmp.Or(o.Scrape, ScrapePodMonitor)
	if o.Scrape != ScrapePodMonitor && o.Scrape != ScrapeAnnotations {
		errs = append(errs, fmt.Errorf("scrape %q: use %s or %s", o.Scrape, ScrapePodMonitor, ScrapeAnnotations))
	}
	o.GitURL = cmp.Or(o.GitURL, DefaultGitURL)
	o.Branch = cmp.Or(o.Branch, DefaultBranch)
	o.PrometheusURL = cmp.Or(o.PrometheusURL, DefaultPrometheusURL)
	o.PromoterImage = cmp.Or(o.PromoterImage, DefaultPromoterImage)
	return errors.Join(errs...)
}

func (o *Options) runs(r string) bool { return slices.Contains(o.Runners, r) }

func (o *Options) hostSplit() bool { return o.Split == SplitHost }

// routeKindName is the kind of the weighted route.
func (o *Options) routeKindName() string {
	if o.ambient() {
		return "HTTPRoute"
	}
	return "VirtualService"
}

// ambient reports the ambient shape: an HTTPRoute applied by a waypoint.
func (o *Options) ambient() bool { return o.Route == RouteHTTPRoute }

// Names derived from the application's name.
func (o *Options) stableName() string { return o.Name + "-stable" }
func (o *Options) canaryName() string { return o.Name + "-canary" }
func (o *Options) appDir() string     { return "apps/" + o.Name }
func (o *Options) baseDir() string    { return o.appDir() + "/base" }
func (o *Options) overlayDir() string { return o.appDir() + "/overlays/production" }
func (o *Options) monitoringDir() string {
	return o.appDir() + "/monitoring"
}

// Versions are the version labels of the two Deployments, which Istio's
// metrics carry as destination_version.
const (
	stableVersion = "v1"
	canaryVersion = "v2"
	appPort       = 8080
)
