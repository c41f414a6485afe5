// Package render turns a canary stage into the files of the Kustomize
// component that promoter owns, builds overlays in-process and checks what
// they would apply.
//
// # The component
//
// For a canary named N with overlay O, promoter owns the directory
// O/promoter/N (see [ComponentDir]). It is a Kustomize Component holding
// JSON 6902 patches guarded by test operations, so that a patch fails the
// build instead of hitting the wrong route or container when the base is
// edited:
//
//   - virtualservice-route.yaml: the weights of the split route
//     (httproute-rule.yaml or grpcroute-rule.yaml: of the split rule of a
//     Gateway API route);
//   - virtualservice-state.yaml (httproute-state.yaml,
//     grpcroute-state.yaml): the promoter.dev/* annotations that record
//     the stage, visible in the cluster too;
//   - deployment-canary.yaml and deployment-stable.yaml: images and the
//     canary's replicas, when the stage pins them;
//   - configmap-feature-flag.yaml: with spec.featureFlag, the flags JSON
//     of its ConfigMap with the flag's rollout_percentage set to the
//     canary's weight (100 once promoted), guarded by a test of the JSON
//     as written; absent before the first step and after a rollback, so
//     the written value applies (see [FlagPercentage]).
//
// # Purity
//
// Nothing here does I/O beyond reading the fs.FS it is handed. [Inspect]
// builds the overlay without promoter's component, [Component] renders the
// files of a [Stage], and [Check] builds the overlay with those files and
// verifies the result against the Istio (or Gateway API) CRD schemas and
// the canary's spec.
package render

import (
	"path"
	"time"

	"github.com/promoter-dev/promoter/internal/spec"
)

// Annotations on the split route (VirtualService, HTTPRoute or GRPCRoute)
// that record the stage.
const (
	AnnotationCanary             = "promoter.dev/canary"
	AnnotationStep               = "promoter.dev/step"
	AnnotationWeight             = "promoter.dev/weight"
	AnnotationCanaryRevision     = "promoter.dev/canary-revision"
	AnnotationRolledBackRevision = "promoter.dev/rolled-back-revision"
	AnnotationRollbackReason     = "promoter.dev/rollback-reason"
	AnnotationRollbackAt         = "promoter.dev/rollback-at"
	AnnotationPreviousWeight     = "promoter.dev/previous-weight"
	// AnnotationSequentialTest pins the sequential test's parameters (alpha,
	// margins, latency bounds) for the whole canary, from its first step.
	AnnotationSequentialTest = "promoter.dev/sequential-test"
)

// Stage is what one commit of promoter's component says: how much traffic
// the canary gets and what runs.
type Stage struct {
	// Step is the position in the schedule: 0 before the first step,
	// 1..len(steps) while progressing, len(steps)+1 once promoted.
	Step int
	// Weight is the canary's share of traffic in percent, 0..100.
	Weight int
	// CanaryImage pins the canary container's image; empty keeps the base's.
	CanaryImage string
	// CanaryReplicas sets the canary's replicas; nil keeps the base's.
	CanaryReplicas *int32
	// StableImage pins the stable container's image (set by the final
	// promotion); empty keeps the base's.
	StableImage string
	// Rollback is set once the canary revision has been rolled back.
	Rollback *Rollback
	// SequentialTest is what the sequential test pinned when the canary
	// started (gates.Pinned's recorded form); empty when nothing is pinned.
	SequentialTest string
	// Build is the record of the build's inputs (AnnotationBuild): read
	// back from a committed component, and set by RenderOn for the tree
	// it renders; empty in components that record none.
	Build string
}

// Rollback records why and when a revision was rolled back.
type Rollback struct {
	Revision       string
	Reason         string
	At             time.Time
	PreviousWeight int
}

// Replicas returns a pointer to n, for Stage.CanaryReplicas.
func Replicas(n int32) *int32 { return &n }

// ComponentDir is the repository-relative directory promoter owns for c.
func ComponentDir(c *spec.Canary) string {
	return path.Join(path.Clean(c.Spec.Overlay), "promoter", c.Metadata.Name)
}

// ComponentRef is the entry of the overlay's components list.
func ComponentRef(c *spec.Canary) string {
	return path.Join("promoter", c.Metadata.Name)
}

// Component file names inside ComponentDir.
const (
	fileKustomization  = "kustomization.yaml"
	fileRoute          = "virtualservice-route.yaml"
	fileState          = "virtualservice-state.yaml"
	fileCanaryPatch    = "deployment-canary.yaml"
	fileStablePatch    = "deployment-stable.yaml"
	componentHeaderDoc = "# Owned by promoter: rewritten on every stage. Edit the Canary spec or the base instead;\n# changes made here by hand are reported and replaced.\n"
)
