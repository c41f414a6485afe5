package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/promoter-dev/promoter/internal/spec"
)

// ErrNoComponent is returned by ReadStage when the repository has no
// component for the canary yet (before its first run).
var ErrNoComponent = errors.New("promoter's component does not exist yet")

// Committed is the stage read back from the component in the repository.
type Committed struct {
	Stage
	// CanaryRevision is the canary image the stage was rendered for (the
	// promoter.dev/canary-revision annotation).
	CanaryRevision string
}

// ReadStage reads the stage recorded in c's component in repo. Files
// promoter did not write, or annotations that do not parse, are reported as
// errors: promoter does not guess what a hand edit meant.
func ReadStage(c *spec.Canary, repo fs.FS) (*Committed, error) {
	dir := ComponentDir(c)
	data, err := fs.ReadFile(repo, path.Join(dir, stateFileName(c)))
	if errors.Is(err, fs.ErrNotExist) {
		if _, kerr := fs.Stat(repo, path.Join(dir, fileKustomization)); kerr == nil {
			// A component that a human created, or that an older version
			// left, without state: treat as before the first step.
			return &Committed{}, nil
		}
		return nil, ErrNoComponent
	}
	if err != nil {
		return nil, err
	}
	var sf stateFile
	if err := yaml.Unmarshal(data, &sf); err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(dir, stateFileName(c)), err)
	}
	a := sf.Metadata.Annotations
	bad := func(key string, err error) error {
		return fmt.Errorf("%s: annotation %s: %w", path.Join(dir, stateFileName(c)), key, err)
	}
	out := &Committed{CanaryRevision: a[AnnotationCanaryRevision]}
	out.SequentialTest = a[AnnotationSequentialTest]
	out.Build = a[AnnotationBuild]
	if out.Step, err = atoi(a, AnnotationStep); err != nil {
		return nil, bad(AnnotationStep, err)
	}
	if out.Weight, err = atoi(a, AnnotationWeight); err != nil {
		return nil, bad(AnnotationWeight, err)
	}
	if rev, ok := a[AnnotationRolledBackRevision]; ok {
		rb := &Rollback{Revision: rev, Reason: a[AnnotationRollbackReason]}
		if s := a[AnnotationRollbackAt]; s != "" {
			if rb.At, err = time.Parse(time.RFC3339, s); err != nil {
				return nil, bad(AnnotationRollbackAt, err)
			}
		}
		if rb.PreviousWeight, err = atoi(a, AnnotationPreviousWeight); err != nil {
			return nil, bad(AnnotationPreviousWeight, err)
		}
		out.Rollback = rb
	}
	if out.CanaryImage, out.CanaryReplicas, err = readWorkloadPatch(repo, path.Join(dir, fileCanaryPatch)); err != nil {
		return nil, err
	}
	if out.StableImage, _, err = readWorkloadPatch(repo, path.Join(dir, fileStablePatch)); err != nil {
		return nil, err
	}
	return out, nil
}

func atoi(a map[string]string, key string) (int, error) {
	s, ok := a[key]
	if !ok {
		return 0, nil
	}
	return strconv.Atoi(strings.TrimSpace(s))
}

// readWorkloadPatch reads the image and replicas a Deployment patch pins.
func readWorkloadPatch(repo fs.FS, p string) (image string, replicas *int32, err error) {
	data, err := fs.ReadFile(repo, p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	var ops []patchOp
	if err := yaml.Unmarshal(data, &ops); err != nil {
		return "", nil, fmt.Errorf("%s: %w", p, err)
	}
	for _, op := range ops {
		switch {
		case op.Op == "replace" && strings.HasSuffix(op.Path, "/image"):
			s, ok := op.Value.(string)
			if !ok {
				return "", nil, fmt.Errorf("%s: %s is not a string", p, op.Path)
			}
			image = s
		case op.Path == "/spec/replicas":
			n, ok := op.Value.(int)
			if !ok {
				return "", nil, fmt.Errorf("%s: %s is not an integer", p, op.Path)
			}
			replicas = Replicas(int32(n))
		}
	}
	return image, replicas, nil
}
