package render

import (
	"fmt"

	"github.com/distribution/reference"
)

// ValidateImage refuses what is not a container image reference
// ([name][:tag][@digest], as parsed by github.com/distribution/reference,
// the grammar of the Docker and OCI tooling): a blank, a space, a newline
// or an upper-case repository never reaches a commit.
func ValidateImage(image string) error {
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		return fmt.Errorf("image %q is not a valid image reference (%v): give name[:tag][@digest], for example ghcr.io/org/app:v2.0.0", image, err)
	}
	return nil
}
